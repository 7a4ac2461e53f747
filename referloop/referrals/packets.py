"""The one-page referral packet: exactly the client information the consent allows, the
safe-contact rules, a summary of the consent and -- when substance-use information is included --
the 42 CFR Part 2 redisclosure notice. What was shared is kept as a snapshot (`Packet`)."""

import json

from django.utils import timezone

from referloop.clients.models import Category
from referloop.referrals.models import Packet

# 42 CFR 2.32(a)(2) as amended by the 2024 final rule (89 FR 12472), "Statement 2". Every
# consented disclosure of Part 2 information carries it, with the consent summary (2.32(b)).
PART2_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
REVOCATION_STATEMENT = (
    "The client may revoke this consent at any time, in writing, except where action has "
    "already been taken in reliance on it. Revocation stops future disclosures; it does not "
    "undo past ones."
)


def safe_contact_rules(client) -> list[str]:
    """The client's safe-contact rules in plain words (the banner shown to anyone who would
    contact them); an empty list means no restrictions were recorded."""
    if client.do_not_contact:
        return ["Do not contact the client"]
    rules = [
        "Voicemail OK" if client.voicemail_ok else "Do not leave voicemail",
        "Texts OK" if client.text_ok else "Do not text",
        "E-mail OK" if client.email_ok else "Do not e-mail",
    ]
    if client.safe_hours:
        rules.append(f"Safe hours: {client.safe_hours}")
    if client.do_not_disclose_location:
        rules.append("Do not disclose the client's location")
    if client.safe_contact_note:
        rules.append(client.safe_contact_note)
    return rules


def consent_summary(consent) -> dict:
    if consent.expires_on:
        expiry = f"on {consent.expires_on:%B %d, %Y}"
    elif consent.expiry_event:
        expiry = f"at {consent.expiry_event}"
    else:
        expiry = "no expiry"
    return {
        "id": consent.pk,
        "recipient": consent.recipient_label,
        "categories": consent.category_labels,
        "purpose": consent.purpose,
        "signed_on": f"{timezone.localtime(consent.signed_at):%B %d, %Y}",
        "signed_by": consent.signed_by_name,
        "signer": consent.get_signer_display(),
        "expires": expiry,
        "part2": consent.part2,
        "revocation": REVOCATION_STATEMENT,
    }


def packet_content(*, referral) -> dict:
    """The packet's fields: each client field only when its category is in the referral's
    shared categories (which the consent check has already held against the consent)."""
    shared = set(referral.categories)
    client = referral.client
    content = {
        "tracking_id": referral.tracking_id,
        "sender": referral.agency.name,
        "owner": str(referral.owner),
        "owner_email": referral.owner.email,
        "organization": referral.organization.name,
        "service": referral.service.name if referral.service_id else "",
        "urgency": referral.get_urgency_display(),
        "created_on": f"{timezone.localtime(referral.created_at):%B %d, %Y}",
        "categories": [Category(value).label for value in Category.values if value in shared],
        "client": {},
        "reason": "",
        "needs": [],
        "safe_contact": [],
        "consent": consent_summary(referral.consent) if referral.consent_id else None,
        "part2_notice": PART2_NOTICE if Category.SUBSTANCE_USE in shared else "",
    }
    if Category.IDENTITY in shared:
        content["client"]["name"] = client.display_name
        content["client"]["date_of_birth"] = client.date_of_birth
        content["client"]["preferred_language"] = client.preferred_language
    if Category.CONTACT in shared:
        content["client"]["phone"] = client.safe_phone or client.phone
        content["client"]["email"] = client.safe_email or client.email
        if not client.do_not_disclose_location:
            content["client"]["address"] = client.address
        content["safe_contact"] = safe_contact_rules(client)
    if Category.REASON in shared:
        content["reason"] = referral.reason
        content["needs"] = [term.name for term in referral.needs.all()]
    return content


def packet_snapshot(*, referral, by=None) -> Packet:
    """Stores the packet as it is shared now (call inside the sending transaction)."""
    return Packet.objects.create(
        agency_id=referral.agency_id,
        referral=referral,
        consent_id=referral.consent_id,
        categories=list(referral.categories),
        content=json.dumps(packet_content(referral=referral)),
        created_by=by,
    )


def packet_data(packet: Packet) -> dict:
    return json.loads(packet.content)
