"""Recording, revoking and ending a consent; the ledger's append-only rule."""

from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from referloop.clients.models import Category, Channel, Consent, Disclosure, RecipientClass, Signer
from referloop.clients.services import (
    ConsentData,
    consent_end,
    consent_record,
    consent_revoke,
    disclosure_record,
)
from referloop.core.errors import DomainError
from referloop.core.models import AuditEvent
from tests.directory import factories as directory
from tests.referrals import factories


@pytest.fixture
def setting(cast):
    org, _ = factories.partner(network=cast.network)
    person = factories.client(agency=cast.agency_a)
    data = ConsentData(
        categories=[Category.REASON, Category.IDENTITY, Category.REASON],
        purpose="  Referral   for housing ",
        signed_at=timezone.now() - timedelta(hours=1),
        signed_by_name=" Dana  Rivers ",
        recipient_organization=org,
        no_expiry=True,
    )
    return person, org, data


@pytest.mark.django_db
def test_record_normalises_and_audits(cast, setting):
    person, org, data = setting
    consent = consent_record(client=person, actor=cast.coordinator, data=data)
    consent.refresh_from_db()
    assert consent.categories == [Category.IDENTITY, Category.REASON]  # Category order, no repeats
    assert (consent.purpose, consent.signed_by_name) == ("Referral for housing", "Dana Rivers")
    assert (consent.agency_id, consent.recipient_organization_id) == (cast.agency_a.pk, org.pk)
    assert consent.state_at() == "in force"
    assert Consent.objects.in_force().filter(pk=consent.pk).exists()
    row = AuditEvent.objects.get(action="create", object_type="clients.consent")
    assert (row.object_id, row.user_id) == (str(consent.pk), cast.coordinator.pk)


def _other_network_org(cast):
    return directory.organization(network=cast.other_network, name="Far Away")


INVALID = [
    ("recipient", lambda c, d: replace(d, recipient_class=RecipientClass.NETWORK_AGENCIES)),
    ("recipient", lambda c, d: replace(d, recipient_organization=None)),
    (
        "recipient_class",
        lambda c, d: replace(d, recipient_organization=None, recipient_class="everyone"),
    ),
    ("recipient", lambda c, d: replace(d, recipient_organization=_other_network_org(c))),
    ("categories", lambda c, d: replace(d, categories=[])),
    ("categories", lambda c, d: replace(d, categories=["shoe_size"])),
    ("part2", lambda c, d: replace(d, categories=[Category.SUBSTANCE_USE])),
    ("purpose", lambda c, d: replace(d, purpose="   ")),
    ("purpose", lambda c, d: replace(d, purpose="x" * 301)),
    ("purpose", lambda c, d: replace(d, purpose="housing\x00")),
    ("signed_by_name", lambda c, d: replace(d, signed_by_name="")),
    ("signer", lambda c, d: replace(d, signer="neighbour")),
    ("representative_authority", lambda c, d: replace(d, signer=Signer.GUARDIAN)),
    ("signed_at", lambda c, d: replace(d, signed_at=timezone.now() + timedelta(days=1))),
    ("expires_on", lambda c, d: replace(d, no_expiry=False)),
    ("expires_on", lambda c, d: replace(d, expiry_event="end of treatment")),
    (
        "expires_on",
        lambda c, d: replace(
            d, no_expiry=False, expires_on=(timezone.now() - timedelta(days=3)).date()
        ),
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "change"), INVALID)
def test_record_refuses_bad_input_naming_the_field_and_saves_nothing(cast, setting, field, change):
    person, _, data = setting
    with pytest.raises(DomainError) as refused:
        consent_record(client=person, actor=cast.coordinator, data=change(cast, data))
    assert refused.value.field == field
    assert not Consent.objects.exists()


@pytest.mark.django_db
def test_a_guardian_may_sign_with_their_authority_and_part2_covers_substance_use(cast, setting):
    person, _, data = setting
    consent = consent_record(
        client=person,
        actor=cast.coordinator,
        data=replace(
            data,
            signer=Signer.GUARDIAN,
            representative_authority="Court-appointed guardian",
            categories=[Category.SUBSTANCE_USE],
            part2=True,
            no_expiry=False,
            expiry_event="end of treatment",
        ),
    )
    assert (consent.part2, consent.expiry_event) == (True, "end of treatment")


@pytest.mark.django_db
def test_revoke_stops_the_consent_at_once_and_keeps_the_ledger(cast, setting):
    person, _, data = setting
    consent = consent_record(client=person, actor=cast.coordinator, data=data)
    earlier = disclosure_record(
        consent=consent,
        channel=Channel.EXPORT,
        recipient_name="Harbor House",
        categories=[Category.IDENTITY],
        description="Before the revocation",
    )

    revoked = consent_revoke(consent=consent, actor=cast.admin_a, method="  By phone ")

    assert revoked.revoked_at is not None and revoked.revoked_by_id == cast.admin_a.pk
    assert revoked.revocation_method == "By phone"
    assert revoked.state_at() == "revoked"
    assert not Consent.objects.in_force().filter(pk=consent.pk).exists()
    assert Disclosure.objects.filter(pk=earlier.pk).exists()
    assert AuditEvent.objects.filter(action="revoke", object_id=str(consent.pk)).count() == 1
    with pytest.raises(DomainError) as again:
        consent_revoke(consent=consent, actor=cast.admin_a, method="In writing")
    assert again.value.code == "conflict"


@pytest.mark.django_db
def test_revoke_needs_to_say_how(cast, setting):
    person, _, data = setting
    consent = consent_record(client=person, actor=cast.coordinator, data=data)
    with pytest.raises(DomainError) as refused:
        consent_revoke(consent=consent, actor=cast.admin_a, method=" ")
    assert refused.value.field == "revocation_method"
    consent.refresh_from_db()
    assert consent.revoked_at is None


@pytest.mark.django_db
def test_end_only_for_consents_that_end_on_an_event_and_only_once(cast, setting):
    person, _, data = setting
    no_event = consent_record(client=person, actor=cast.coordinator, data=data)
    with pytest.raises(DomainError) as refused:
        consent_end(consent=no_event, actor=cast.coordinator)
    assert refused.value.field == "expiry_event"

    on_event = consent_record(
        client=person,
        actor=cast.coordinator,
        data=replace(data, no_expiry=False, expiry_event="discharge"),
    )
    ended = consent_end(consent=on_event, actor=cast.coordinator)
    assert ended.ended_at is not None and ended.state_at() == "ended"
    assert not Consent.objects.in_force().filter(pk=on_event.pk).exists()
    with pytest.raises(DomainError) as again:
        consent_end(consent=on_event, actor=cast.coordinator)
    assert again.value.code == "conflict"


@pytest.mark.django_db
def test_a_dated_consent_is_in_force_through_its_last_day(cast, setting):
    person, _, data = setting
    today = timezone.now().date()
    consent = consent_record(
        client=person,
        actor=cast.coordinator,
        data=replace(data, no_expiry=False, expires_on=today),
    )
    assert consent.state_at() == "in force"
    tomorrow = timezone.now() + timedelta(days=1)
    assert consent.state_at(tomorrow) == "expired"
    assert not Consent.objects.in_force(at=tomorrow).filter(pk=consent.pk).exists()


@pytest.mark.django_db
def test_ledger_rows_are_never_changed(cast, setting):
    person, _, data = setting
    consent = consent_record(client=person, actor=cast.coordinator, data=data)
    row = disclosure_record(
        consent=consent,
        channel=Channel.EXPORT,
        recipient_name="Harbor House",
        categories=[Category.IDENTITY],
        description="Export",
    )
    row.description = "Something else"
    with pytest.raises(ValueError, match="append-only"):
        row.save()
