"""Reply links themselves: a random 256-bit token, stored only as its SHA-256, scoped to one
referral and expiring (the page they open is `replies`; the e-mail that carries one is sent by
`services.partner_email_queue`)."""

import hashlib
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from referloop.referrals.models import ReplyLink

# What secrets.token_urlsafe(32) produces: anything else is not a token, and needs no lookup.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


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
