"""Partner reply links: a random 256-bit token, stored only as its SHA-256, scoped to one
referral and expiring. The e-mail that carries it names no client: the tracking ID and the
sending agency only (mail passes through servers we don't control).

The reply page (/r/<token>, no login) only shows on GET -- mail scanners open links -- and
records an answer on POST through the same service staff use. Showing the client's details is a
disclosure, so the consent is asked again on every view and the view is written to the ledger.
Rate limits count the audit rows these requests write anyway, so every process agrees on them.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from referloop.clients.models import Category, Channel
from referloop.clients.selectors import disclosure_check, safe_contact_rules
from referloop.clients.services import disclosure_record
from referloop.core.audit import audit_record, client_ip
from referloop.core.errors import DomainError
from referloop.core.models import AuditEvent
from referloop.core.timeutils import agency_today, local_midnight_utc
from referloop.referrals.models import (
    DispositionCode,
    DispositionKind,
    Packet,
    Referral,
    ReplyLink,
    Status,
)
from referloop.referrals.packets import packet_data
from referloop.referrals.reply_links import TOKEN_PATTERN, token_hash
from referloop.referrals.services import Actor, referral_partner_answer

# Audit actions of the reply page (the rate limits count them).
VIEW = "reply_view"
ANSWER = "reply_answer"
UNKNOWN_LINK = "reply_unknown_link"
LIMITED = "reply_rate_limited"

# Why a link cannot be used, in the partner's words.
PROBLEMS = {
    "expired": "This link has expired.",
    "revoked": "This link has been replaced by a newer one.",
    "cancelled": "The sender has withdrawn this referral.",
}


# --- the reply page ------------------------------------------------------------------------------


def reply_link_find(raw: str) -> ReplyLink | None:
    """The link a raw token from a URL names, with what its page shows; None if there is none."""
    if not TOKEN_PATTERN.fullmatch(raw):
        return None
    return (
        ReplyLink.objects.select_related(
            "referral__agency",
            "referral__owner",
            "referral__organization",
            "referral__service",
            "referral__client",
            "referral__consent__agency",
        )
        .filter(token_hash=token_hash(raw))
        .first()
    )


def reply_link_problem(link: ReplyLink, *, status: str | None = None) -> str:
    """Why the link cannot be used now (a key of PROBLEMS), or "" when it can."""
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= timezone.now():
        return "expired"
    if (status or link.referral.status) == Status.CANCELLED:
        return "cancelled"
    return ""


def reply_reasons(*, agency):
    """The "not accepted" reasons a partner can choose: the agency's active codes of that kind."""
    return DispositionCode.objects.for_agency(agency).filter(
        is_active=True, kind__in=(DispositionKind.NOT_ACCEPTED, DispositionKind.BOTH)
    )


def reply_address_limited(*, request) -> bool:
    """Has this address guessed too many links, or sent too many answers, in the last window?
    One indexed count over the recent audit rows of this page."""
    ip = client_ip(request)
    if not ip:
        return False
    counts = AuditEvent.objects.filter(
        at__gte=timezone.now() - settings.REPLY_RATE_WINDOW,
        ip=ip,
        action__in=(UNKNOWN_LINK, ANSWER),
    ).aggregate(
        unknown=Count("pk", filter=Q(action=UNKNOWN_LINK)),
        answers=Count("pk", filter=Q(action=ANSWER)),
    )
    if counts["unknown"] >= settings.REPLY_UNKNOWN_LINKS_PER_IP:
        return True
    return request.method == "POST" and counts["answers"] >= settings.REPLY_ANSWERS_PER_IP


def reply_refusal_record(*, request, action: str, reason: str, link: ReplyLink | None = None):
    """Audits a request the page refused (never the raw token: it may be a live one, mistyped)."""
    audit_record(
        action=action,
        request=request,
        agency=link.referral.agency if link is not None else None,
        obj=link,
        object_type="referrals.replylink",
        outcome=AuditEvent.Outcome.DENIED,
        detail={"reason": reason},
    )


def _first_view_today(link: ReplyLink) -> bool:
    """Notes the view on the link; True for the first one of the agency's day (compare-and-set,
    so two views at once still count as one)."""
    agency = link.referral.agency
    now = timezone.now()
    day_start = local_midnight_utc(agency, agency_today(agency))
    links = ReplyLink.objects.filter(pk=link.pk)
    first = (
        links.filter(Q(last_viewed_at__isnull=True) | Q(last_viewed_at__lt=day_start)).update(
            last_viewed_at=now
        )
        == 1
    )
    if not first:
        links.update(last_viewed_at=now)
    return first


def _with_current_safety(data: dict, packet: Packet, client) -> dict:
    """The snapshot as it was sent, except the safe-contact rules, which are the client's rules of
    today: a partner about to call must not act on rules the client has since tightened."""
    if Category.CONTACT in packet.categories:
        data["safe_contact"] = safe_contact_rules(client)
        if client.do_not_disclose_location:
            data["client"].pop("address", None)
    return data


def reply_page_view(*, link: ReplyLink, request, details: bool = True) -> dict | None:
    """Records a view of the page and returns the referral packet it may show: the latest one
    sent, if the consent still allows it now (None otherwise, or when `details` is False). A view
    that shows the client's details goes in the disclosure ledger once per link and day (a
    partner reloading the page is one disclosure); every view is audited."""
    referral = link.referral
    packet = None
    if details and disclosure_check(
        consent=referral.consent,
        client=referral.client,
        organization=referral.organization,
        categories=referral.categories,
    ):
        packet = Packet.objects.filter(referral=referral).order_by("-created_at", "-id").first()
    with transaction.atomic():
        if packet is not None and _first_view_today(link):
            disclosure_record(
                consent=referral.consent,
                channel=Channel.PARTNER_PAGE,
                recipient_name=referral.organization.name,
                recipient_address=link.contact_email,
                categories=packet.categories,
                description=f"Reply page of referral {referral.tracking_id}",
                obj=link,
            )
        audit_record(
            action=VIEW,
            request=request,
            agency=referral.agency,
            obj=link,
            detail={"client_details": packet is not None},
        )
    if packet is None:
        return None
    return _with_current_safety(packet_data(packet), packet, referral.client)


def _answers_on_link(link: ReplyLink) -> int:
    return AuditEvent.objects.filter(
        object_type="referrals.replylink",
        object_id=str(link.pk),
        action=ANSWER,
        at__gte=timezone.now() - settings.REPLY_RATE_WINDOW,
    ).count()


def reply_answer_record(
    *, link: ReplyLink, answer: str, disposition: str = "", note: str = "", request=None
) -> ReplyLink:
    """Records the partner's answer through `referral_partner_answer`, as a correction when it
    changes an earlier one. The link row is locked first, so answers on one link apply one at a
    time and its rate limit counts exactly; everything -- implied steps included -- is one
    transaction. Nothing is recorded when the link no longer works, the limit is reached or the
    service refuses (DomainError, with `code` "expired", "revoked", "cancelled",
    "rate_limited" or the service's own)."""
    referral = link.referral
    actor = Actor(label=f"{referral.contact_name or 'Partner'} (reply link)")
    try:
        with transaction.atomic():
            locked = ReplyLink.objects.select_for_update().get(pk=link.pk)
            status = Referral.objects.only("status").get(pk=referral.pk).status
            problem = reply_link_problem(locked, status=status)
            if problem:
                raise DomainError(PROBLEMS[problem], code=problem)
            if _answers_on_link(locked) >= settings.REPLY_ANSWERS_PER_LINK:
                raise DomainError(
                    "Too many answers on this link in a short time.", code="rate_limited"
                )
            referral_partner_answer(
                referral=referral,
                actor=actor,
                answer=answer,
                disposition=disposition,
                note=note,
                may_correct=True,
                request=request,
            )
            ReplyLink.objects.filter(pk=locked.pk).update(
                last_answer=answer,
                last_answered_at=timezone.now(),
                answer_count=F("answer_count") + 1,
            )
            audit_record(
                action=ANSWER,
                request=request,
                agency=referral.agency,
                obj=locked,
                detail={"answer": answer},
            )
    except DomainError as error:
        reply_refusal_record(request=request, action=ANSWER, reason=error.code, link=link)
        raise
    link.refresh_from_db(fields=["last_answer", "last_answered_at", "answer_count"])
    return link
