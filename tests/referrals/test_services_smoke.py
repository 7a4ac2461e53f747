import pytest

from referloop.referrals.models import EventKind, Status
from referloop.referrals.services import Actor, referral_accept, referral_start
from tests.referrals import factories


@pytest.mark.django_db
def test_send_accept_start_closes_the_loop(cast):
    org, service = factories.partner(network=cast.network)
    person = factories.client(agency=cast.agency_a)
    ok = factories.consent(client=person, organization=org)
    ref = factories.referral(
        client=person, organization=org, service=service, consent=ok, actor=cast.coordinator
    )
    assert ref.status == Status.DRAFT and ref.next_due_at is None
    sent = factories.send(ref, actor=cast.coordinator)
    assert sent.status == Status.REQUESTED and sent.due_reason == "receipt"
    partner = Actor(label="Pat (reply link)")
    referral_accept(referral=sent, actor=partner)
    started = referral_start(referral=sent, actor=partner)
    assert started.status == Status.IN_PROGRESS and started.next_due_at is None
    kinds = list(started.events.values_list("kind", flat=True))
    assert EventKind.SENT in kinds and EventKind.EMAIL in kinds
