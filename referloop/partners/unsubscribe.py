"""Unsubscribe links of the monthly availability e-mail: a random 256-bit token per person,
stored only as its SHA-256 on the key contact, issued anew with each e-mail (the page they open
is `views_unsubscribe`)."""

import hashlib
import re
import secrets

from django.conf import settings
from django.urls import reverse

from referloop.partners.models import KeyContact

# What secrets.token_urlsafe(32) produces: anything else is not a token, and needs no lookup.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def unsubscribe_token_issue(key_contact: KeyContact) -> str:
    """A new token for the person; the link in an earlier e-mail stops working (one hash is
    kept, so only the latest link is live)."""
    raw = secrets.token_urlsafe(32)
    key_contact.unsubscribe_token_hash = token_hash(raw)
    key_contact.save(update_fields=["unsubscribe_token_hash"])
    return raw


def unsubscribe_url(raw: str) -> str:
    return f"{settings.BASE_URL}{reverse('partners:unsubscribe', kwargs={'token': raw})}"


def unsubscribe_find(raw: str) -> KeyContact | None:
    """The key contact a raw token names, or None."""
    if not TOKEN_PATTERN.fullmatch(raw):
        return None
    return (
        KeyContact.objects.select_related("agency", "contact")
        .filter(unsubscribe_token_hash=token_hash(raw))
        .first()
    )
