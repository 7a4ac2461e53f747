"""The partner's reply page /r/<token>: GET only shows (and only what the consent allows now),
POST records the answer through the referral services; bad links, limits and headers."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from referloop.clients.models import Category, Channel, Disclosure
from referloop.clients.services import ClientData, client_update, consent_revoke
from referloop.core.models import AuditEvent, OutboundEmail
from referloop.referrals.models import EventKind, Referral, ReferralEvent, ReplyLink, Status
from referloop.referrals.packets import PART2_NOTICE
from referloop.referrals.reply_links import reply_link_create
from referloop.referrals.services import Actor, referral_cancel
from tests.referrals import factories

pytestmark = pytest.mark.django_db

TOKEN_IN_MAIL = re.compile(r"/r/([A-Za-z0-9_-]{43})")
PRIVATE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}


def sent_referral(cast, *, categories=factories.DEFAULT_CATEGORIES, part2=False):
    org, service = factories.partner(network=cast.network)
    person = factories.client(agency=cast.agency_a, address="12 Elm Street")
    ok = factories.consent(client=person, organization=org, categories=categories, part2=part2)
    ref = factories.referral(
        client=person,
        organization=org,
        service=service,
        consent=ok,
        categories=categories,
        actor=cast.coordinator,
    )
    return factories.send(ref, actor=cast.coordinator)


def reply_path(referral) -> str:
    """The link the partner got: read back from the e-mail waiting in the outbox."""
    message = OutboundEmail.objects.get(dedupe_key=f"referral-partner:{referral.pk}")
    return f"/r/{TOKEN_IN_MAIL.search(message.body_text).group(1)}"


def answer(path, choice, *, client=None, **fields):
    return (client or Client()).post(path, {"answer": choice, **fields})


def partner_events(referral):
    return ReferralEvent.objects.filter(referral=referral, kind=EventKind.PARTNER_REPLY)


@pytest.fixture
def referral(cast):
    return sent_referral(cast)


def test_page_shows_the_packet_and_the_disclosure_is_recorded_once_a_day(referral):
    path = reply_path(referral)
    response = Client().get(path)
    assert response.status_code == 200
    page = response.content.decode()
    for shown in (
        referral.tracking_id,
        "Alpha Recovery",
        "Alpha Referral coordinator",  # the owner, who sent it
        "Dana Rivers",
        "555-0100",
        "12 Elm Street",
        "Needs a sober-living bed after detox.",
        "Voicemail OK",  # safe-contact rules
        "Referral for services",  # consent summary: purpose
        "What happened with this referral?",
    ):
        assert shown in page, shown
    assert PART2_NOTICE not in page  # no substance-use information was shared
    # No navigation, no scripts: nothing on the page but the referral and the question.
    assert "<script" not in page and "<nav" not in page

    Client().get(path)
    ledger = Disclosure.objects.filter(client=referral.client, channel=Channel.PARTNER_PAGE)
    assert ledger.count() == 1
    entry = ledger.get()
    assert (entry.recipient_name, entry.recipient_address) == (
        "Harbor House",
        "intake@partner.example.org",
    )
    assert entry.consent_id == referral.consent_id
    views = AuditEvent.objects.filter(action="reply_view", agency=referral.agency)
    assert views.count() == 2
    assert all(view.detail == {"client_details": True} for view in views)

    with time_machine.travel(timezone.now() + timedelta(days=1)):
        Client().get(path)
    assert ledger.count() == 2


def test_a_head_request_shows_nothing_and_records_no_view(referral):
    path = reply_path(referral)
    response = Client().head(path)
    assert response.status_code == 200 and response.content == b""
    for name, value in PRIVATE_HEADERS.items():
        assert response[name] == value
    assert not Disclosure.objects.filter(channel=Channel.PARTNER_PAGE).exists()
    assert not AuditEvent.objects.filter(action="reply_view").exists()
    assert ReplyLink.objects.get(referral=referral).last_viewed_at is None
    assert Client().head("/r/" + "x" * 43).status_code == 404  # a bad link still says so


def test_part2_notice_appears_when_substance_use_information_is_shared(cast):
    referral = sent_referral(
        cast, categories=(*factories.DEFAULT_CATEGORIES, Category.SUBSTANCE_USE), part2=True
    )
    page = Client().get(reply_path(referral)).content.decode()
    assert PART2_NOTICE in page


def test_prefetching_changes_nothing_and_one_post_records_one_answer(referral):
    path = reply_path(referral)
    events_before = ReferralEvent.objects.filter(referral=referral).count()
    for _ in range(3):  # a mail scanner, a preview pane, the person
        assert Client().get(path).status_code == 200
    referral.refresh_from_db()
    assert referral.status == Status.REQUESTED and referral.version == 2
    assert ReferralEvent.objects.filter(referral=referral).count() == events_before

    response = answer(path, "accepted")
    assert response.status_code == 302 and response["Location"] == path
    referral.refresh_from_db()
    assert referral.status == Status.ACCEPTED
    assert partner_events(referral).count() == 1
    event = partner_events(referral).get()
    assert (event.from_status, event.to_status) == (Status.REQUESTED, Status.ACCEPTED)
    assert event.actor is None and event.actor_label == "Pat Intake (reply link)"
    link = ReplyLink.objects.get(referral=referral)
    assert (link.last_answer, link.answer_count) == ("accepted", 1)


def test_accepted_then_service_started_fills_the_timeline(referral):
    path = reply_path(referral)
    answer(path, "accepted", note="We have a bed on Monday.")
    answer(path, "service_started")

    referral.refresh_from_db()
    assert referral.status == Status.IN_PROGRESS
    assert referral.disposition.code == "service_started"
    assert referral.next_due_at is None  # the outcome is known: nothing to chase
    assert referral.last_partner_update_at is not None
    timeline = list(partner_events(referral).order_by("at", "id"))
    assert [(e.from_status, e.to_status) for e in timeline] == [
        (Status.REQUESTED, Status.ACCEPTED),
        (Status.ACCEPTED, Status.IN_PROGRESS),
    ]
    assert timeline[0].note == "We have a bed on Monday."
    link = ReplyLink.objects.get(referral=referral)
    assert (link.last_answer, link.answer_count) == ("service_started", 2)

    thanks = Client().get(path).content.decode()
    assert "your answer is recorded" in thanks and "Service started" in thanks
    assert "Dana" not in thanks  # the thank-you page shows the answer, not the client


def test_partner_corrects_not_accepted_to_accepted(referral):
    path = reply_path(referral)
    answer(path, "not_accepted", disposition="no_capacity")
    referral.refresh_from_db()
    assert referral.status == Status.REJECTED and referral.disposition.code == "no_capacity"

    change = Client().get(f"{path}?change=1")
    assert change.status_code == 200
    assert re.search(rb'value="not_accepted"[^>]*checked', change.content)

    answer(path, "accepted", note="Sorry, a bed opened up.")
    referral.refresh_from_db()
    assert referral.status == Status.ACCEPTED
    assert referral.closed_at is None and referral.disposition is None
    correction = partner_events(referral).order_by("-at", "-id").first()
    assert (correction.from_status, correction.to_status) == (Status.REJECTED, Status.ACCEPTED)
    assert correction.data == {"correction": True}


def test_client_contacted_records_the_first_contact(referral):
    answer(reply_path(referral), "client_contacted")
    referral.refresh_from_db()
    assert referral.status == Status.RECEIVED and referral.first_contact_at is not None


def test_not_accepted_needs_a_reason_and_bad_input_records_nothing(referral):
    path = reply_path(referral)
    response = answer(path, "not_accepted")
    assert response.status_code == 400
    assert "Tell us why the referral was not accepted." in response.content.decode()
    for bad in (
        {"answer": "maybe"},
        {"answer": "accepted", "note": "x" * 2001},
        {"answer": "accepted", "note": "nul \x00 byte"},
        {"answer": "not_accepted", "disposition": "completed"},  # an outcome, not a reason
    ):
        assert Client().post(path, bad).status_code == 400, bad
    referral.refresh_from_db()
    assert referral.status == Status.REQUESTED and referral.version == 2
    assert not partner_events(referral).exists()
    assert ReplyLink.objects.get(referral=referral).answer_count == 0


def test_consent_revoked_after_sending_hides_the_client_but_takes_the_answer(referral, cast):
    path = reply_path(referral)
    consent_revoke(consent=referral.consent, actor=cast.coordinator, method="By phone")

    response = Client().get(path)
    assert response.status_code == 200
    page = response.content.decode()
    assert referral.tracking_id in page and "Alpha Recovery" in page
    assert "no longer available" in page
    for hidden in ("Dana", "Rivers", "555-0100", "Elm Street", "sober-living", "revoked"):
        assert hidden not in page, hidden
    assert not Disclosure.objects.filter(channel=Channel.PARTNER_PAGE).exists()

    assert answer(path, "accepted").status_code == 302
    referral.refresh_from_db()
    assert referral.status == Status.ACCEPTED


def test_page_shows_the_clients_safe_contact_rules_of_today(referral, cast):
    path = reply_path(referral)
    person = referral.client
    client_update(
        client=person,
        actor=cast.coordinator,
        version=person.version,
        data=ClientData(
            first_name="Dana",
            last_name="Rivers",
            date_of_birth="1990-04-12",
            phone="555-0100",
            address="12 Elm Street",
            safe_contact={"do_not_contact": True, "do_not_disclose_location": True},
        ),
    )
    page = Client().get(path).content.decode()
    assert "Do not contact the client" in page
    assert "Elm Street" not in page


def test_expired_link_says_so_and_records_nothing(referral):
    path = reply_path(referral)
    with time_machine.travel(timezone.now() + timedelta(days=61)):
        response = Client().get(path)
        assert response.status_code == 410
        assert "This link has expired" in response.content.decode()
        assert "Dana" not in response.content.decode()
        assert answer(path, "accepted").status_code == 410
    referral.refresh_from_db()
    assert referral.status == Status.REQUESTED
    assert not partner_events(referral).exists()
    assert not Disclosure.objects.filter(channel=Channel.PARTNER_PAGE).exists()


def test_link_still_works_the_day_before_it_expires(referral):
    with time_machine.travel(timezone.now() + timedelta(days=59)):
        assert answer(reply_path(referral), "received").status_code == 302


def test_tampered_and_unknown_tokens_are_not_found(referral):
    path = reply_path(referral)
    last = path[-1]
    tampered = path[:-1] + ("A" if last != "A" else "B")
    for bad in (tampered, "/r/abc", "/r/" + "x" * 200, "/r/" + path[3:].swapcase()):
        response = Client().get(bad)
        assert response.status_code == 404, bad
        assert "This link doesn't work" in response.content.decode()
        assert answer(bad, "accepted").status_code == 404
    referral.refresh_from_db()
    assert referral.status == Status.REQUESTED
    unknown = AuditEvent.objects.filter(action="reply_unknown_link", outcome="denied")
    assert unknown.count() == 8
    assert all(row.ip == "127.0.0.1" and row.object_id == "" for row in unknown)


def test_a_replaced_link_no_longer_works(referral):
    path = reply_path(referral)
    reply_link_create(referral=referral)  # e.g. the referral was re-sent to a new contact
    response = Client().get(path)
    assert response.status_code == 410
    assert "replaced" in response.content.decode()
    assert answer(path, "accepted").status_code == 410
    assert not partner_events(referral).exists()


def test_a_cancelled_referral_cannot_be_answered(referral, cast):
    path = reply_path(referral)
    referral_cancel(
        referral=referral,
        actor=Actor(user=cast.coordinator, agency=cast.agency_a),
        reason="Client moved away",
    )
    response = Client().get(path)
    assert response.status_code == 410
    assert "withdrawn" in response.content.decode()
    assert answer(path, "accepted").status_code == 410
    referral.refresh_from_db()
    assert referral.status == Status.CANCELLED
    assert not partner_events(referral).exists()


def test_answers_on_one_link_are_rate_limited(referral, settings):
    settings.REPLY_ANSWERS_PER_LINK = 3
    path = reply_path(referral)
    for choice in ("received", "accepted", "service_started"):
        assert answer(path, choice).status_code == 302
    limited = answer(path, "completed")
    assert limited.status_code == 429
    assert "Too many attempts" in limited.content.decode()
    referral.refresh_from_db()
    assert referral.status == Status.IN_PROGRESS
    assert ReplyLink.objects.get(referral=referral).answer_count == 3
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert answer(path, "completed").status_code == 302


def test_unknown_links_from_one_address_are_rate_limited(referral, settings):
    settings.REPLY_UNKNOWN_LINKS_PER_IP = 5
    path = reply_path(referral)
    for number in range(5):
        assert Client().get(f"/r/{'g' * 42}{number}").status_code == 404
    # Past the limit the address gets 429 for every link, so guessing learns nothing.
    assert Client().get(f"/r/{'g' * 43}").status_code == 429
    assert Client().get(path).status_code == 429
    assert answer(path, "accepted").status_code == 429
    assert AuditEvent.objects.filter(action="reply_rate_limited").count() == 3
    # Another address is not affected, and the window moves on.
    assert Client(REMOTE_ADDR="192.0.2.7").get(path).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert Client().get(path).status_code == 200
    assert Referral.objects.get(pk=referral.pk).status == Status.REQUESTED


def test_every_answer_of_the_page_is_private(referral, settings):
    path = reply_path(referral)
    responses = {
        "page": Client().get(path),
        "invalid answer": Client().post(path, {"answer": "maybe"}),
        "answer": answer(path, "accepted"),
        "thank-you": Client().get(path),
        "unknown": Client().get("/r/nothing-here"),
    }
    settings.REPLY_UNKNOWN_LINKS_PER_IP = 1
    responses["limited"] = Client().get(path)
    with time_machine.travel(timezone.now() + timedelta(days=90)):
        responses["expired"] = Client(REMOTE_ADDR="192.0.2.8").get(path)
    assert [r.status_code for r in responses.values()] == [200, 400, 302, 200, 404, 429, 410]
    for name, response in responses.items():
        for header, value in PRIVATE_HEADERS.items():
            assert response[header] == value, f"{name}: {header}"


def test_the_page_sets_no_cookie_and_answers_post_as_browsers_send_them(referral):
    """No session, no CSRF cookie: nothing on the partner's device. Under no-referrer, browsers
    post the form with `Origin: null` and no Referer; the token in the path is the proof."""
    path = reply_path(referral)
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    assert not page.cookies and "csrfmiddlewaretoken" not in page.content.decode()
    response = browser.post(path, {"answer": "accepted"}, HTTP_ORIGIN="null")
    assert response.status_code == 302 and not response.cookies
    assert Referral.objects.get(pk=referral.pk).status == Status.ACCEPTED
