"""Encrypted text fields (Fernet, with key rotation) and keyed hashes for exact lookup."""

import re

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from referloop.core.fields import (
    EncryptedTextField,
    decrypt_text,
    encrypt_text,
    keyed_hash,
    keyed_hash_field,
)


def new_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def one_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    return settings


# --- encrypt_text / decrypt_text -------------------------------------------------------------


@hypothesis_settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_round_trip_any_text(value):
    stored = encrypt_text(value)
    assert stored.startswith("enc1:")
    assert decrypt_text(stored) == value


def test_ciphertext_hides_the_plaintext_and_differs_every_time(one_key):
    secret = "Jane Doe, born 1984-03-02"
    first, second = encrypt_text(secret), encrypt_text(secret)
    assert secret not in first
    assert "Jane" not in first
    assert first != second, "Fernet uses a fresh IV each time: equal values must not look equal"
    assert decrypt_text(first) == decrypt_text(second) == secret


def test_decrypt_refuses_text_not_written_by_the_field():
    with pytest.raises(ValueError):
        decrypt_text("Jane Doe")


def test_tampered_ciphertext_is_refused(one_key):
    stored = encrypt_text("Jane Doe")
    body = stored.removeprefix("enc1:")
    index = len(body) // 2
    flipped = "A" if body[index] != "A" else "B"
    with pytest.raises(ImproperlyConfigured):
        decrypt_text("enc1:" + body[:index] + flipped + body[index + 1 :])


def test_without_configured_keys_a_key_is_derived_from_the_secret_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    stored = encrypt_text("Jane Doe")
    assert decrypt_text(stored) == "Jane Doe"
    settings.SECRET_KEY = "another-secret-key-" * 3
    with pytest.raises(ImproperlyConfigured):
        decrypt_text(stored)


# --- key rotation ----------------------------------------------------------------------------


def test_old_data_still_decrypts_after_a_key_rotation(settings):
    old, new = new_key(), new_key()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    written_before = encrypt_text("Jane Doe")

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert decrypt_text(written_before) == "Jane Doe"
    written_after = encrypt_text("John Roe")
    assert decrypt_text(written_after) == "John Roe"

    # New data is written with the first (new) key: it reads with the new key alone, and
    # not with the old key alone.
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert decrypt_text(written_after) == "John Roe"
    with pytest.raises(ImproperlyConfigured):
        decrypt_text(written_before)
    settings.FIELD_ENCRYPTION_KEYS = [old]
    with pytest.raises(ImproperlyConfigured):
        decrypt_text(written_after)


def test_a_wrong_key_gives_improperly_configured(settings):
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    stored = encrypt_text("Jane Doe")
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        decrypt_text(stored)


def test_a_malformed_key_gives_improperly_configured(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="not a Fernet key"):
        encrypt_text("Jane Doe")


# --- the model field -------------------------------------------------------------------------


def test_field_encrypts_on_the_way_in_and_decrypts_on_the_way_out(one_key):
    field = EncryptedTextField()
    stored = field.get_prep_value("Jane Doe")
    assert stored != "Jane Doe"
    assert "Jane" not in stored
    assert stored.startswith("enc1:")
    assert field.from_db_value(stored, None, connection) == "Jane Doe"


@pytest.mark.parametrize("empty", [None, ""])
def test_field_leaves_empty_values_alone(empty, one_key):
    field = EncryptedTextField()
    assert field.get_prep_value(empty) == empty
    assert field.from_db_value(empty, None, connection) == empty


def test_field_reads_rows_written_before_a_key_rotation(settings):
    field = EncryptedTextField()
    old, new = new_key(), new_key()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    stored = field.get_prep_value("Jane Doe")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert field.from_db_value(stored, None, connection) == "Jane Doe"


def test_field_stringifies_non_text_values_before_encrypting(one_key):
    field = EncryptedTextField()
    assert field.from_db_value(field.get_prep_value(12345), None, connection) == "12345"


# --- keyed hashes ----------------------------------------------------------------------------


def test_keyed_hash_ignores_case_and_spacing():
    assert keyed_hash("  Jane  DOE", purpose="name") == keyed_hash("jane doe", purpose="name")
    assert keyed_hash("Jane\tDoe\n", purpose="name") == keyed_hash("jane doe", purpose="name")


def test_keyed_hash_treats_composed_and_decomposed_accents_alike():
    composed = "Jos\u00e9"
    decomposed = "Jose\u0301"
    assert keyed_hash(composed, purpose="name") == keyed_hash(decomposed, purpose="name")


def test_keyed_hash_distinguishes_different_values():
    assert keyed_hash("jane doe", purpose="name") != keyed_hash("jane roe", purpose="name")
    assert keyed_hash("jane doe", purpose="name") != keyed_hash("janedoe", purpose="name")


def test_keyed_hash_differs_per_purpose():
    assert keyed_hash("jane doe", purpose="name") != keyed_hash("jane doe", purpose="email")


def test_keyed_hash_depends_on_the_hash_key(settings):
    settings.FIELD_HASH_KEY = "a" * 40
    first = keyed_hash("jane doe", purpose="name")
    assert keyed_hash("jane doe", purpose="name") == first, "stable for one key"
    settings.FIELD_HASH_KEY = "b" * 40
    assert keyed_hash("jane doe", purpose="name") != first


def test_keyed_hash_is_64_hex_characters():
    value = keyed_hash("Jane Doe", purpose="name")
    assert re.fullmatch(r"[0-9a-f]{64}", value)
    assert "jane" not in value


def test_keyed_hash_field_fits_the_hash():
    field = keyed_hash_field()
    assert field.max_length == 64
    assert field.db_index
    assert not field.editable
