"""50 partners' answers arrive on one reply link at the same moment: each is recorded or refused
cleanly (never a 500, never a lost update), and the referral, its timeline, the link's counters
and the audit log all tell the same story afterwards. Runs on SQLite and on PostgreSQL."""

import threading
from itertools import cycle, islice

import pytest
from django.db import connection
from django.test import Client

from referloop.core.models import AuditEvent
from referloop.referrals import replies
from referloop.referrals.models import EventKind, ReferralEvent, ReplyLink
from referloop.referrals.services import Answer
from tests.referrals import factories
from tests.referrals.test_reply_page import reply_path

ANSWERS = [
    {"answer": "received"},
    {"answer": "accepted", "note": "We can take them."},
    {"answer": "service_started"},
    {"answer": "not_accepted", "disposition": "no_capacity"},
    {"answer": "client_contacted"},  # refused once the referral is closed
    {"answer": "completed"},
    {"answer": "no_show"},
]
POSTS = 50


@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_answers_leave_a_consistent_referral(cast):
    org, service = factories.partner(network=cast.network)
    person = factories.client(agency=cast.agency_a)
    ok = factories.consent(client=person, organization=org)
    referral = factories.send(
        factories.referral(
            client=person, organization=org, service=service, consent=ok, actor=cast.coordinator
        ),
        actor=cast.coordinator,
    )
    path = reply_path(referral)
    start = threading.Barrier(POSTS)
    statuses, errors = [], []
    lock = threading.Lock()

    def post(data, number):
        try:
            client = Client(REMOTE_ADDR=f"198.51.100.{number}")  # 50 partners' browsers
            start.wait()
            response = client.post(path, data)
            with lock:
                statuses.append(response.status_code)
        except Exception as error:  # a 500 surfaces here (the test client re-raises it)
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=post, args=(data, number))
        for number, data in enumerate(islice(cycle(ANSWERS), POSTS))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(statuses) == POSTS
    # Recorded (redirect to the thank-you page), refused by a rule (400) or over the link's
    # limit of answers per window (429): nothing else.
    assert set(statuses) <= {302, 400, 429}, statuses
    recorded = statuses.count(302)
    assert 0 < recorded <= 30  # REPLY_ANSWERS_PER_LINK

    referral.refresh_from_db()
    link = ReplyLink.objects.get(referral=referral)
    assert link.answer_count == recorded
    answers = AuditEvent.objects.filter(
        action=replies.ANSWER, object_id=str(link.pk), outcome="ok"
    ).order_by("id")
    assert answers.count() == recorded
    assert AuditEvent.objects.filter(action=replies.ANSWER, outcome="denied").count() == (
        POSTS - recorded
    )
    # Every change bumped the version once: sending, then each partner step (implied ones too).
    changes = ReferralEvent.objects.filter(referral=referral).exclude(
        kind__in=[EventKind.CREATED, EventKind.EMAIL]
    )
    assert referral.version == 1 + changes.count()
    assert changes.filter(kind=EventKind.PARTNER_REPLY).count() >= recorded
    # The link's last answer is the last one recorded, and the referral's status follows it.
    assert link.last_answer == answers.last().detail["answer"]
    if link.last_answer != Answer.CLIENT_CONTACTED:
        assert referral.status == Answer.EFFECT[link.last_answer][0]
