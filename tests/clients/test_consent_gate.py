"""The consent gate on every packet exit: each way a consent can fail × each way a packet leaves
(or is shown outside) the sending agency. A refusal names the reason, writes a "denied" audit
row and adds nothing to the disclosure ledger; a valid consent lets it through with exactly one
ledger row (none for the preview, which shows the sender's own staff what *would* be sent)."""

from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from referloop.clients.models import Category, Channel, Consent, Disclosure
from referloop.clients.services import consent_end, consent_revoke
from referloop.core.errors import DomainError
from referloop.core.models import AuditEvent
from referloop.referrals.services import Actor, referral_send
from tests.conftest import client_for
from tests.referrals import factories

# exits where the packet has not left yet (a draft), and exits of a stored packet (already sent)
DRAFT_EXITS = ("send_email", "send_inbox", "preview")
STORED_EXITS = ("pdf", "receiver_view")
STATES = {
    "none": "No consent is recorded for this referral.",
    "expired": "This consent expired on",
    "revoked": "The client revoked this consent on",
    "ended": "This consent ended (end of treatment).",
    "wrong_recipient": "The consent does not name",
    "out_of_scope": "The consent does not cover: Reason for referral.",
    "substance_use_without_part2": "needs a consent that meets 42 CFR Part 2",
}
# A stored packet always has a consent (the column is NOT NULL): "none" only applies to drafts.
CASES = [
    (state, exit_)
    for state in STATES
    for exit_ in DRAFT_EXITS + STORED_EXITS
    if not (state == "none" and exit_ in STORED_EXITS)
]
SUD = [*factories.DEFAULT_CATEGORIES, Category.SUBSTANCE_USE]


@dataclass
class World:
    cast: object
    exit: str
    referral: object
    consent: Consent | None
    other_org: object
    stack: ExitStack = field(default_factory=ExitStack)

    @property
    def stored(self) -> bool:
        return self.exit in STORED_EXITS


def _world(cast, exit_: str, state: str) -> World:
    """A draft referral whose consent is, for drafts, recorded the way `state` describes. For a
    stored exit the consent is valid: the packet is sent first and the consent breaks later."""
    inbox = exit_ in ("send_inbox", "receiver_view")
    org, service = factories.partner(
        network=cast.network, agency=cast.agency_b if inbox else None, name="Harbor House"
    )
    other_org, _ = factories.partner(network=cast.network, name="Elsewhere Shelter")
    person = factories.client(agency=cast.agency_a)
    stored = exit_ in STORED_EXITS
    categories = SUD if state == "substance_use_without_part2" else factories.DEFAULT_CATEGORIES
    consent_fields = {"organization": org, "categories": categories}
    if state == "substance_use_without_part2":
        consent_fields["part2"] = True
    elif state == "expired":
        consent_fields["expires_on"] = timezone.localdate() + timedelta(days=5)
    elif state == "ended":
        consent_fields["expiry_event"] = "end of treatment"
    elif state == "wrong_recipient" and not stored:
        consent_fields["organization"] = other_org
    elif state == "out_of_scope" and not stored:
        consent_fields["categories"] = [Category.IDENTITY, Category.CONTACT]
    covering = None if state == "none" else factories.consent(client=person, **consent_fields)
    referral = factories.referral(
        client=person,
        organization=org,
        service=service,
        consent=covering,
        categories=categories,
        actor=cast.coordinator,
    )
    return World(cast=cast, exit=exit_, referral=referral, consent=covering, other_org=other_org)


def _break(world: World, state: str) -> None:
    """What happens to the consent between recording it and the exit."""
    cast, consent = world.cast, world.consent
    if state == "revoked":
        consent_revoke(consent=consent, actor=cast.coordinator, method="In writing")
    elif state == "ended":
        consent_end(consent=consent, actor=cast.coordinator)
    elif state == "expired":
        world.stack.enter_context(time_machine.travel(timezone.now() + timedelta(days=10)))
    # The services never let these happen to a consent that is in use; a row edited outside them
    # (the admin site, a data fix) must be refused all the same: the gate trusts nothing it
    # checked at send time.
    elif state == "substance_use_without_part2":
        Consent.objects.filter(pk=consent.pk).update(part2=False)
    elif state == "wrong_recipient" and world.stored:
        Consent.objects.filter(pk=consent.pk).update(recipient_organization=world.other_org)
    elif state == "out_of_scope" and world.stored:
        Consent.objects.filter(pk=consent.pk).update(
            categories=[Category.IDENTITY, Category.CONTACT]
        )


def _exit(world: World) -> tuple[bool, str]:
    """Tries the exit; (allowed, the refusal's text)."""
    cast, referral = world.cast, world.referral
    if world.exit.startswith("send_"):
        try:
            referral_send(
                referral=referral, actor=Actor(user=cast.coordinator, agency=cast.agency_a)
            )
        except DomainError as error:
            assert error.code == "consent"
            return False, error.message
        return True, ""
    if world.exit == "preview":
        response = client_for(cast.coordinator).get(f"/referrals/{referral.pk}/packet/preview/")
    else:
        packet = referral.packets.get()
        if world.exit == "pdf":
            url = f"/referrals/{referral.pk}/packets/{packet.pk}.pdf"
            response = client_for(cast.coordinator).get(url)
        else:
            url = f"/referrals/{referral.pk}/packets/{packet.pk}/"
            response = client_for(cast.admin_b).get(url)
    assert response.status_code in (200, 409), response.status_code
    if response.status_code == 409:
        return False, response.content.decode()
    return True, ""


@pytest.mark.django_db
@pytest.mark.parametrize(("state", "exit_"), CASES, ids=[f"{s}-{e}" for s, e in CASES])
def test_consent_gate_refuses_with_the_reason_and_records_nothing(cast, state, exit_):
    world = _world(cast, exit_, state)
    with world.stack:
        if world.stored:
            factories.send(world.referral, actor=cast.coordinator)
        _break(world, state)
        ledger_before = Disclosure.objects.count()
        denied_before = AuditEvent.objects.filter(outcome="denied").count()

        allowed, refusal = _exit(world)

        assert not allowed
        assert STATES[state] in refusal.replace("&#x27;", "'")
        assert Disclosure.objects.count() == ledger_before
        if exit_.startswith("send_"):
            return  # the send's audit row: test_refused_send_is_audited
        denied = AuditEvent.objects.filter(outcome="denied").order_by("-id")
        assert denied.count() == denied_before + 1
        assert denied.first().action == "disclosure_refused"
        assert STATES[state] in denied.first().detail["reason"]


@pytest.mark.django_db
def test_refused_send_is_audited(cast):
    world = _world(cast, "send_email", "revoked")
    _break(world, "revoked")
    allowed, _ = _exit(world)
    assert not allowed
    row = AuditEvent.objects.filter(action="send_refused", outcome="denied").get()
    assert "revoked" in row.detail["reason"]


EXITS = DRAFT_EXITS + STORED_EXITS


@pytest.mark.django_db
@pytest.mark.parametrize("exit_", EXITS)
def test_valid_consent_lets_the_packet_out_with_exactly_one_ledger_row(cast, exit_):
    world = _world(cast, exit_, "valid")
    with world.stack:
        if world.stored:
            factories.send(world.referral, actor=cast.coordinator)
        if exit_ == "receiver_view":
            # The send put today's inbox row on record; the receiver's next look is tomorrow's.
            world.stack.enter_context(time_machine.travel(timezone.now() + timedelta(days=1)))
        ledger_before = list(Disclosure.objects.values_list("pk", flat=True))

        allowed, refusal = _exit(world)

        assert allowed, refusal
        new = Disclosure.objects.exclude(pk__in=ledger_before)
        if exit_ == "preview":
            assert not new.exists()  # shown to the sender's own staff: nothing left the agency
            return
        assert new.count() == 1
        row = new.get()
        expected_channel = {
            "send_email": Channel.PACKET_EMAIL,
            "send_inbox": Channel.AGENCY_INBOX,
            "pdf": Channel.PACKET_PDF,
            "receiver_view": Channel.AGENCY_INBOX,
        }[exit_]
        assert row.channel == expected_channel
        assert row.consent_id == world.consent.pk
        assert row.categories == list(factories.DEFAULT_CATEGORIES)


@pytest.mark.django_db
def test_revocation_after_sending_keeps_the_ledger_and_refuses_the_next_pdf(cast):
    world = _world(cast, "pdf", "valid")
    referral = factories.send(world.referral, actor=cast.coordinator)
    packet = referral.packets.get()
    pdf_url = f"/referrals/{referral.pk}/packets/{packet.pk}.pdf"
    staff = client_for(cast.coordinator)
    assert staff.get(pdf_url).status_code == 200
    earlier = list(Disclosure.objects.order_by("pk").values_list("pk", "channel"))
    assert [channel for _, channel in earlier] == [Channel.PACKET_EMAIL, Channel.PACKET_PDF]

    consent_revoke(consent=world.consent, actor=cast.coordinator, method="Called to revoke")

    refused = staff.get(pdf_url)
    assert refused.status_code == 409
    assert b"revoked this consent" in refused.content
    assert list(Disclosure.objects.order_by("pk").values_list("pk", "channel")) == earlier
    ledger = staff.get(f"/clients/{referral.client_id}/disclosures/")
    assert ledger.status_code == 200
    assert ledger.content.count(b"Revoked") == 2  # both past rows, with the consent's state today


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["other_network", "same_network_not_receiving"])
def test_other_agencies_get_not_found_and_an_audit_row_on_every_route(cast, who):
    world = _world(cast, "pdf", "valid")  # sent by e-mail: no agency receives it
    referral = factories.send(world.referral, actor=cast.coordinator)
    packet = referral.packets.get()
    user = cast.admin_c if who == "other_network" else cast.admin_b
    browser = client_for(user)
    urls = [
        f"/referrals/{referral.pk}/packets/{packet.pk}/",
        f"/referrals/{referral.pk}/packets/{packet.pk}.pdf",
        f"/referrals/{referral.pk}/packet/preview/",
        f"/clients/{referral.client_id}/disclosures/",
        f"/clients/{referral.client_id}/disclosures/?format=csv",
    ]
    ledger_before = Disclosure.objects.count()
    for url in urls:
        before = AuditEvent.objects.filter(action="access_denied").count()
        response = browser.get(url)
        assert response.status_code == 404, url
        denied = AuditEvent.objects.filter(action="access_denied").order_by("-id")
        assert denied.count() == before + 1, url
        assert (denied.first().user_id, denied.first().outcome) == (user.pk, "denied")
        assert b"Dana" not in response.content
    assert Disclosure.objects.count() == ledger_before


@pytest.mark.django_db
def test_the_receiving_agency_never_sees_the_ledger_or_the_preview(cast):
    world = _world(cast, "receiver_view", "valid")
    referral = factories.send(world.referral, actor=cast.coordinator)
    receiver = client_for(cast.admin_b)
    for url in (
        f"/clients/{referral.client_id}/disclosures/",
        f"/referrals/{referral.pk}/packet/preview/",
    ):
        assert receiver.get(url).status_code == 404, url
