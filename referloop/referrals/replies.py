"""Partner reply links: a random 256-bit token, stored only as its SHA-256, scoped to one
referral and expiring. The e-mail that carries it names no client: the tracking ID and the
sending agency only (mail passes through servers we don't control)."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from referloop.core.outbox import outbox_enqueue
from referloop.referrals.models import EventKind, ReplyLink


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def reply_link_create(*, referral) -> tuple[ReplyLink, str]:
    """A new link for the referral's partner contact; earlier links of the referral stop working."""
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    ReplyLink.objects.filter(referral=referral, revoked_at__isnull=True).update(revoked_at=now)
    link = ReplyLink.objects.create(
        agency_id=referral.agency_id,
        referral=referral,
        token_hash=token_hash(raw),
        contact_email=referral.contact_email,
        created_at=now,
        expires_at=now + timedelta(days=referral.agency.policies.reply_link_days),
    )
    return link, raw


def reply_url(raw: str) -> str:
    return f"{settings.BASE_URL}{reverse('reply', kwargs={'token': raw})}"


def partner_email_queue(*, referral, actor) -> None:
    """Queues the referral e-mail to the partner contact, once per referral."""
    from referloop.referrals.services import _event  # one event writer for the timeline

    link, raw = reply_link_create(referral=referral)
    context = {
        "referral": referral,
        "url": reply_url(raw),
        "expires_at": link.expires_at,
        "sender": referral.agency.name,
        "owner": referral.owner,
    }
    message, created = outbox_enqueue(
        dedupe_key=f"referral-partner:{referral.pk}",
        kind="referral_partner",
        to=referral.contact_email,
        reply_to=referral.owner.email,
        subject=f"Referral {referral.tracking_id} from {referral.agency.name}",
        body_text=render_to_string("referrals/email/partner_referral.txt", context),
        body_html=render_to_string("referrals/email/partner_referral.html", context),
        agency=referral.agency,
        obj=referral,
    )
    if created:
        _event(
            referral,
            actor,
            EventKind.EMAIL,
            data={"to": referral.contact_email, "message": message.pk, "kind": message.kind},
        )
