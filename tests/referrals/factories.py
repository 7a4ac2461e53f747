"""Builders for client, consent and referral test data, for anyone's tests.

    person = client(agency=cast.agency_a)
    ok = consent(client=person, organization=partner_org)
    ref = referral(client=person, organization=partner_org, consent=ok, actor=cast.coordinator)
    sent = send(ref, actor=cast.coordinator)

They go through the real services (so stored due times, events and ledgers are right).
"""

from datetime import timedelta

from django.utils import timezone

from referloop.clients.models import Category
from referloop.clients.services import ClientData, ConsentData, client_create, consent_record
from referloop.referrals.services import Actor, ReferralData, referral_create, referral_send
from tests.directory import factories as directory

DEFAULT_CATEGORIES = (Category.IDENTITY, Category.CONTACT, Category.REASON)


def client(*, agency, actor=None, first_name="Dana", last_name="Rivers", **fields):
    data = ClientData(
        first_name=first_name,
        last_name=last_name,
        date_of_birth=fields.pop("date_of_birth", "1990-04-12"),
        phone=fields.pop("phone", "555-0100"),
        safe_contact=fields.pop("safe_contact", {"voicemail_ok": True}),
        **fields,
    )
    return client_create(agency=agency, actor=actor, data=data, allow_duplicate=True)


def partner(*, network, agency=None, name="Harbor House"):
    """A directory organization with one service (the referral's receiver)."""
    org = directory.organization(network=network, agency=agency, name=name)
    service = directory.service(organization=org, name=f"{name} intake")
    return org, service


def consent(
    *,
    client,
    organization=None,
    recipient_class="",
    categories=DEFAULT_CATEGORIES,
    part2=False,
    **fields,
):
    data = ConsentData(
        categories=list(categories),
        purpose=fields.pop("purpose", "Referral for services"),
        signed_at=fields.pop("signed_at", timezone.now() - timedelta(hours=1)),
        signed_by_name=fields.pop("signed_by_name", client.display_name),
        recipient_organization=organization,
        recipient_class=recipient_class,
        part2=part2,
        no_expiry=fields.pop(
            "no_expiry", not fields.get("expires_on") and not fields.get("expiry_event")
        ),
        **fields,
    )
    return consent_record(client=client, actor=None, data=data)


def referral(
    *,
    client,
    organization,
    actor,
    service=None,
    consent=None,
    categories=DEFAULT_CATEGORIES,
    contact_email="intake@partner.example.org",
    **fields,
):
    data = ReferralData(
        client=client,
        organization=organization,
        service=service,
        consent=consent,
        categories=tuple(categories),
        contact_email=contact_email,
        contact_name=fields.pop("contact_name", "Pat Intake"),
        reason=fields.pop("reason", "Needs a sober-living bed after detox."),
        **fields,
    )
    return referral_create(
        agency=client.agency, actor=Actor(user=actor, agency=client.agency), data=data
    )


def send(referral, *, actor):
    return referral_send(referral=referral, actor=Actor(user=actor, agency=referral.agency))


def sample_referral(*, agency, actor, sent=True, partner_agency=None, name="Harbor House"):
    """A whole referral in one call: partner, client, consent, referral (sent unless told not)."""
    org, service = partner(network=agency.network, agency=partner_agency, name=name)
    person = client(agency=agency, actor=actor)
    covering = consent(client=person, organization=org)
    made = referral(client=person, organization=org, service=service, consent=covering, actor=actor)
    return send(made, actor=actor) if sent else made
