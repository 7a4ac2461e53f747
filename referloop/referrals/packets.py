"""The one-page referral packet: exactly the client information the consent allows, the
safe-contact rules, a summary of the consent and -- when substance-use information is included --
the 42 CFR Part 2 redisclosure notice. What was shared is kept as a snapshot (`Packet`).

Showing a stored packet again can be a new disclosure: the PDF handed to a partner, or the
receiving agency opening it. `packet_release` checks the consent *now* and writes the ledger row
in the same transaction, so a revocation a second ago stops it and every release is on record.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from referloop.clients.models import Category, Channel
from referloop.clients.selectors import (
    DisclosureDecision,
    client_disclosures,
    disclosure_check,
    safe_contact_rules,
)
from referloop.clients.services import disclosure_record
from referloop.core.audit import audit_record
from referloop.core.models import AuditEvent
from referloop.core.pdf import pdf_render
from referloop.core.timeutils import agency_today, agency_zone, local_midnight_utc
from referloop.referrals.models import Packet, Urgency

# 42 CFR 2.32(a)(2) as amended by the 2024 final rule (89 FR 12472), "Statement 2". Every
# consented disclosure of Part 2 information carries it, with the consent summary (2.32(b)).
PART2_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
REVOCATION_STATEMENT = (
    "The client may revoke this consent at any time, in writing, except where action has "
    "already been taken in reliance on it. Revocation stops future disclosures; it does not "
    "undo past ones."
)
# Which category each client field of the packet belongs to: a field is filled only when its
# category is shared (tests hold every packet against this map).
CLIENT_FIELD_CATEGORIES = {
    "name": Category.IDENTITY,
    "date_of_birth": Category.IDENTITY,
    "preferred_language": Category.IDENTITY,
    "phone": Category.CONTACT,
    "email": Category.CONTACT,
    "address": Category.CONTACT,
}
PACKET_CSS = "referloop/packet.css"


def _local_date(moment: datetime, agency) -> str:
    return f"{timezone.localtime(moment, agency_zone(agency)):%B %d, %Y}"


def consent_summary(consent, *, agency, identity_shared: bool) -> dict:
    """The explanation of the consent's scope that 42 CFR 2.32(b) asks to accompany a Part 2
    disclosure. The signer is named only when the packet shares the client's identity anyway:
    usually the client signs, so their name would otherwise leak through the summary."""
    if consent.expires_on:
        expiry = f"on {consent.expires_on:%B %d, %Y}"
    elif consent.expiry_event:
        expiry = f"at {consent.expiry_event}"
    else:
        expiry = "no expiry"
    signer = consent.get_signer_display()
    return {
        "id": consent.pk,
        "recipient": consent.recipient_label,
        "categories": consent.category_labels,
        "purpose": consent.purpose,
        "signed_on": _local_date(consent.signed_at, agency),
        "signed_by": f"{consent.signed_by_name} ({signer.lower()})" if identity_shared else signer,
        "expires": expiry,
        "part2": consent.part2,
        "revocation": REVOCATION_STATEMENT,
    }


def shared_categories(referral) -> list[str]:
    """What the packet may hold: the categories the referral shares *and* its consent covers
    (substance use only under a Part 2 consent), in Category order. The consent gate refuses a
    send that asks for more; this keeps the packet minimal even if something upstream slipped."""
    consent = referral.consent
    if consent is None:
        return []
    wanted = set(referral.categories) & set(consent.categories)
    if not consent.part2:
        wanted.discard(Category.SUBSTANCE_USE)
    return [value for value in Category.values if value in wanted]


def _client_fields(client, shared: set[str]) -> dict:
    values = {
        "name": client.display_name,
        "date_of_birth": client.date_of_birth,
        "preferred_language": client.preferred_language,
        # A safe number or address, when recorded, is the one to use.
        "phone": client.safe_phone or client.phone,
        # Only when the client agreed to e-mail: the partner has no use for the address otherwise.
        "email": (client.safe_email or client.email) if client.email_ok else "",
        "address": "" if client.do_not_disclose_location else client.address,
    }
    return {
        name: value
        for name, value in values.items()
        if CLIENT_FIELD_CATEGORIES[name] in shared and value
    }


def packet_content(*, referral, at: datetime | None = None) -> dict:
    """The packet's fields as they are shared at `at` (default now): each client field only when
    its category is shared (see `shared_categories`), nothing about the client otherwise."""
    categories = shared_categories(referral)
    shared = set(categories)
    client = referral.client
    agency = referral.agency
    return {
        "tracking_id": referral.tracking_id,
        "date": _local_date(at or timezone.now(), agency),
        "sender": agency.name,
        "owner": str(referral.owner),
        "owner_email": referral.owner.email,
        "organization": referral.organization.name,
        "service": referral.service.name if referral.service_id else "",
        "contact_name": referral.contact_name,
        "urgency": referral.get_urgency_display(),
        "urgent": referral.urgency != Urgency.ROUTINE,
        "categories": [Category(value).label for value in categories],
        "client": _client_fields(client, shared),
        "reason": referral.reason if Category.REASON in shared else "",
        "needs": [term.name for term in referral.needs.all()] if Category.REASON in shared else [],
        "safe_contact": safe_contact_rules(client) if Category.CONTACT in shared else [],
        "consent": (
            consent_summary(
                referral.consent, agency=agency, identity_shared=Category.IDENTITY in shared
            )
            if referral.consent_id
            else None
        ),
        "part2_notice": PART2_NOTICE if Category.SUBSTANCE_USE in shared else "",
    }


def packet_snapshot(*, referral, by=None) -> Packet:
    """Stores the packet as it is shared now (call inside the sending transaction)."""
    return Packet.objects.create(
        agency_id=referral.agency_id,
        referral=referral,
        consent_id=referral.consent_id,
        categories=shared_categories(referral),
        content=json.dumps(packet_content(referral=referral)),
        created_by=by,
    )


def packet_data(packet: Packet) -> dict:
    return json.loads(packet.content)


# --- the consent gate for packets ----------------------------------------------------------------


def referral_packet_check(*, referral) -> DisclosureDecision:
    """May the referral's packet go to its receiver now? (The preview asks before showing.)"""
    return disclosure_check(
        consent=referral.consent,
        client=referral.client,
        organization=referral.organization,
        categories=referral.categories,
    )


def stored_packet_check(*, packet: Packet) -> DisclosureDecision:
    """May this stored packet be disclosed again now, under the consent it was sent under?"""
    referral = packet.referral
    return disclosure_check(
        consent=packet.consent,
        client=referral.client,
        organization=referral.organization,
        categories=packet.categories,
    )


def packet_pdf(content: dict) -> bytes:
    """The packet as a one-page PDF."""
    return pdf_render("referrals/packet_pdf.html", {"packet": content}, stylesheet=PACKET_CSS)


@dataclass(frozen=True)
class Release:
    decision: DisclosureDecision
    pdf: bytes | None = None

    def __bool__(self):
        return bool(self.decision)


def _inbox_release_recorded_today(packet: Packet, agency, channel: str) -> bool:
    since = local_midnight_utc(agency, agency_today(agency))
    return (
        client_disclosures(client=packet.referral.client)
        .filter(
            channel=channel,
            recipient_name=agency.name[:300],
            object_type=Packet._meta.label_lower,
            object_id=str(packet.pk),
            at__gte=since,
        )
        .exists()
    )


def packet_latest(*, referral) -> Packet | None:
    """The packet the referral was last sent with (None for a draft)."""
    return referral.packets.order_by("-created_at", "-id").first()


def packet_release(
    *, packet: Packet, agency, by, as_pdf: bool, channel: str = Channel.AGENCY_INBOX
) -> Release:
    """Shows a stored packet where that is a new disclosure: the sending agency's PDF (made to be
    handed to the partner: a ledger row every time, channel "Packet PDF"), or the receiving
    agency opening it (HTML or PDF: a ledger row at most once a day, channel "agency inbox").

    The packet and its consent are locked, the consent checked, the ledger written and the PDF
    rendered in one transaction: a concurrent revocation waits or wins, and a ledger row exists
    exactly when the packet was released."""
    with transaction.atomic():
        locked = (
            Packet.objects.select_for_update(of=("self", "consent"))
            .select_related(
                "consent",
                "consent__recipient_organization",
                "referral",
                "referral__client",
                "referral__organization",
            )
            .get(pk=packet.pk)
        )
        decision = stored_packet_check(packet=locked)
        if not decision:
            return Release(decision)
        referral = locked.referral
        by_sender = agency.pk == referral.agency_id
        if by_sender or not _inbox_release_recorded_today(locked, agency, channel):
            disclosure_record(
                consent=locked.consent,
                channel=Channel.PACKET_PDF if by_sender else channel,
                recipient_name=referral.organization.name if by_sender else agency.name,
                categories=locked.categories,
                description=(
                    f"Referral packet {referral.tracking_id} as PDF, to hand to the partner"
                    if by_sender
                    else f"Referral packet {referral.tracking_id} opened by the receiving agency"
                    f" ({Channel(channel).label})"
                ),
                obj=locked,
                by=by,
            )
        return Release(decision, packet_pdf(packet_data(locked)) if as_pdf else None)


def disclosure_refusal_record(*, request, obj, decision) -> None:
    """The audit row of a refused disclosure of a packet (or of a referral's would-be packet)."""
    audit_record(
        action="disclosure_refused",
        request=request,
        obj=obj,
        outcome=AuditEvent.Outcome.DENIED,
        detail={"reason": decision.reason, "path": request.path[:300]},
    )


def packet_pdf_download(*, request, packet: Packet, channel: str = Channel.AGENCY_INBOX) -> Release:
    """A stored packet as a PDF to download (the page or the API): released through
    `packet_release` -- the consent checked now, the ledger written -- and audited, as a
    download or as the refusal with its reason."""
    release = packet_release(
        packet=packet, agency=request.agency, by=request.user, as_pdf=True, channel=channel
    )
    if release:
        audit_record(action="download", request=request, obj=packet, detail={"format": "pdf"})
    else:
        disclosure_refusal_record(request=request, obj=packet, decision=release.decision)
    return release
