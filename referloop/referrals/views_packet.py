"""Referral packet pages: a stored packet as it was sent, its PDF, and a preview of what would be
sent now.

- The sending agency's staff may always read their stored packets (HTML): a record of the past,
  nothing new leaves the agency, so no consent check -- but the read is audited.
- The PDF is made to be handed to the partner, so downloading it is a new disclosure: the consent
  is checked now (revoked, expired ... -> 409 with the reason) and the ledger gets a row.
- The receiving agency sees the packets of referrals sent to it -- the only thing it ever sees of
  the client -- and only while the consent still allows it; the ledger lists it once a day.
- The preview (sender only) shows what would be sent now, and refuses when the consent would
  refuse the send.
Every refusal is a 409 page with the reason and an audit row with outcome "denied".
"""

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from referloop.core.access import agency_member_required
from referloop.core.audit import audit_record
from referloop.core.permissions import Perm
from referloop.core.scoping import get_for_user_or_404
from referloop.referrals import packets
from referloop.referrals.models import Packet, Referral

_REFERRAL_RELATED = ("agency", "client", "organization", "consent")


def _stored_packet(request, pk: int, packet_pk: int) -> tuple[Referral, Packet]:
    """A packet of a referral the request's agency sent or received; a 404 (audited) for a
    referral of anyone else and for a packet of another referral alike."""
    referral = get_for_user_or_404(
        Referral.objects.filter(packets=packet_pk).select_related(*_REFERRAL_RELATED),
        request,
        pk=pk,
    )
    packet = Packet.objects.select_related("consent").get(pk=packet_pk)
    return referral, packet


def _refused(request, referral: Referral, decision, *, receiver: bool):
    """The 409 page with the reason (the refusal is audited by the caller)."""
    context = {"reason": decision.reason, "referral": referral, "receiver": receiver}
    return render(request, "referrals/packet_refused.html", context, status=409)


def packet_pdf_response(referral: Referral, pdf: bytes) -> HttpResponse:
    """The packet PDF as a download named by the tracking ID (the page and the API)."""
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="referral-{referral.tracking_id}.pdf"'
    return response


@agency_member_required(Perm.VIEW)
@require_safe
@never_cache
def packet_detail(request, pk: int, packet_pk: int):
    referral, packet = _stored_packet(request, pk, packet_pk)
    receiver = request.agency.pk != referral.agency_id
    if receiver:
        release = packets.packet_release(
            packet=packet, agency=request.agency, by=request.user, as_pdf=False
        )
        if not release:
            packets.disclosure_refusal_record(
                request=request, obj=packet, decision=release.decision
            )
            return _refused(request, referral, release.decision, receiver=True)
    audit_record(action="view", request=request, obj=packet)
    context = {
        "packet": packets.packet_data(packet),
        "stored": packet,
        "referral": referral,
        "receiver": receiver,
        # Offered only while the consent covers a new disclosure (the download checks again).
        "release": packets.stored_packet_check(packet=packet),
    }
    return render(request, "referrals/packet.html", context)


@agency_member_required(Perm.VIEW)
@require_safe
@never_cache
def packet_pdf(request, pk: int, packet_pk: int):
    referral, packet = _stored_packet(request, pk, packet_pk)
    release = packets.packet_pdf_download(request=request, packet=packet)
    if not release:
        receiver = request.agency.pk != referral.agency_id
        return _refused(request, referral, release.decision, receiver=receiver)
    return packet_pdf_response(referral, release.pdf)


@agency_member_required(Perm.VIEW)
@require_safe
@never_cache
def packet_preview(request, pk: int):
    # Only the sender previews: the receiver sees what was sent, never the sender's record.
    referral = get_for_user_or_404(
        Referral.objects.for_agency(request.agency).select_related(*_REFERRAL_RELATED),
        request,
        pk=pk,
    )
    decision = packets.referral_packet_check(referral=referral)
    if not decision:
        packets.disclosure_refusal_record(request=request, obj=referral, decision=decision)
        return _refused(request, referral, decision, receiver=False)
    audit_record(action="preview", request=request, obj=referral)
    context = {
        "packet": packets.packet_content(referral=referral),
        "referral": referral,
        "preview": True,
    }
    return render(request, "referrals/packet.html", context)
