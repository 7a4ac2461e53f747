"""Encryption at rest for identifying fields, and keyed hashes to look such fields up exactly."""

import base64
import hashlib
import hmac
import unicodedata
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

_PREFIX = "enc1:"


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...], secret: str) -> MultiFernet:
    if not keys:
        # Development only (production settings demand keys): a stable key from the secret key.
        derived = hashlib.sha256(f"referloop-field-key:{secret}".encode()).digest()
        keys = (base64.urlsafe_b64encode(derived).decode(),)
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "REFERLOOP_FIELD_KEYS holds a key that is not a Fernet key"
        ) from None


def cipher() -> MultiFernet:
    return _cipher(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt_text(value: str) -> str:
    return _PREFIX + cipher().encrypt(value.encode()).decode()


def decrypt_text(stored: str) -> str:
    if not stored.startswith(_PREFIX):
        raise ValueError("value was not written by EncryptedTextField")
    try:
        return cipher().decrypt(stored[len(_PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "an encrypted field cannot be read with the configured REFERLOOP_FIELD_KEYS"
        ) from None


class EncryptedTextField(models.TextField):
    """Text encrypted with Fernet (AES-128-CBC + HMAC) before it reaches the database.

    A raw SELECT returns only ciphertext. The column cannot be searched or ordered: pair it with a
    keyed-hash column (see `keyed_hash`) where exact lookup is needed.
    """

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_text(value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt_text(value)


def normalize_for_hash(value: str) -> str:
    """Case, accents-as-composed and spacing don't change who a value points to."""
    text = unicodedata.normalize("NFKC", value).casefold()
    return " ".join(text.split())


def keyed_hash(value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of a normalized value: equal inputs give equal hashes, but without the key
    the hash reveals nothing and cannot be brute-forced offline. `purpose` separates columns,
    so the same name hashed for two columns does not link them."""
    key = hashlib.sha256(f"{purpose}:{settings.FIELD_HASH_KEY}".encode()).digest()
    return hmac.new(key, normalize_for_hash(value).encode(), hashlib.sha256).hexdigest()


def keyed_hash_field(**kwargs) -> models.CharField:
    """The column that stores `keyed_hash` of an encrypted field, indexed for exact lookup."""
    return models.CharField(max_length=64, blank=True, db_index=True, editable=False, **kwargs)
