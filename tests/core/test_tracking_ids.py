"""Tracking IDs: readable format, a check character that catches typos, unique per network."""

import re
import string
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from referloop.core import services
from referloop.core.models import IssuedTrackingId
from referloop.core.services import tracking_id_issue
from referloop.core.tracking_ids import (
    ALPHABET,
    BODY_LENGTH,
    tracking_id_generate,
    tracking_id_normalize,
)

FORMAT = re.compile(rf"^[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")
AMBIGUOUS = set("0O1IL UV5S".replace(" ", ""))

bodies = st.text(alphabet=ALPHABET, min_size=BODY_LENGTH, max_size=BODY_LENGTH)


def _with_check(body: str) -> str:
    """The valid 8-character raw ID for a body (found by asking normalize, not re-implementing)."""
    valid = [body + c for c in ALPHABET if tracking_id_normalize(body + c)]
    assert len(valid) == 1, f"exactly one check character must fit {body}, got {valid}"
    return valid[0]


def _raw(code: str) -> str:
    return code.replace("-", "")


# --- format and alphabet ---------------------------------------------------------------------


def test_alphabet_has_no_ambiguous_characters():
    assert not AMBIGUOUS & set(ALPHABET)
    assert len(set(ALPHABET)) == len(ALPHABET), "no duplicates"
    # Only upper-case letters and digits: nothing that needs shifting or escaping.
    assert set(ALPHABET) <= set(string.ascii_uppercase + string.digits)


def test_generated_ids_have_the_readable_format():
    codes = {tracking_id_generate() for _ in range(500)}
    for code in codes:
        assert FORMAT.match(code), code
        assert not AMBIGUOUS & set(code)
        assert tracking_id_normalize(code) == code
    assert len(codes) > 490, "IDs must be random, not repeating"


# --- the check character ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(bodies)
def test_every_single_character_substitution_is_caught(body):
    raw = _with_check(body)
    for position in range(len(raw)):
        for char in ALPHABET:
            if char == raw[position]:
                continue
            typo = raw[:position] + char + raw[position + 1 :]
            assert tracking_id_normalize(typo) is None, f"{raw} -> {typo} not caught"


@settings(max_examples=100, deadline=None)
@given(bodies)
def test_every_adjacent_transposition_is_caught(body):
    raw = _with_check(body)
    for position in range(len(raw) - 1):
        first, second = raw[position], raw[position + 1]
        if first == second:
            continue
        swapped = raw[:position] + second + first + raw[position + 2 :]
        assert tracking_id_normalize(swapped) is None, f"{raw} -> {swapped} not caught"


@pytest.mark.parametrize("first", ALPHABET)
def test_transpositions_of_every_character_pair_are_caught(first):
    # Exhaustive over character pairs and positions (weak check schemes fail on specific pairs,
    # e.g. Luhn's 0/9, which random samples may miss).
    for second in ALPHABET:
        if second == first:
            continue
        for position in range(BODY_LENGTH):
            body = list("2" * BODY_LENGTH)
            body[position] = first
            if position + 1 < BODY_LENGTH:
                body[position + 1] = second
            raw = _with_check("".join(body))
            swapped = raw[:position] + raw[position + 1] + raw[position] + raw[position + 2 :]
            if swapped != raw:
                assert tracking_id_normalize(swapped) is None, f"{raw} -> {swapped}"


def test_substitutions_for_every_character_pair_are_caught():
    for position in range(BODY_LENGTH + 1):
        for original in ALPHABET:
            body = "".join(original if i == position else "3" for i in range(BODY_LENGTH))
            raw = _with_check(body)
            for char in ALPHABET:
                if char != raw[position]:
                    typo = raw[:position] + char + raw[position + 1 :]
                    assert tracking_id_normalize(typo) is None, f"{raw} -> {typo}"


# --- normalizing what people type ------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(bodies)
def test_normalize_accepts_lowercase_spaces_and_missing_hyphen(body):
    code = f"{_with_check(body)[:4]}-{_with_check(body)[4:]}"
    raw = _raw(code)
    for typed in (
        code,
        code.lower(),
        raw,
        raw.lower(),
        f"  {code}  ",
        f"{raw[:4]} {raw[4:]}",
        " ".join(raw.lower()),
        f"{raw[:2]}-{raw[2:6]} - {raw[6:]}",
    ):
        assert tracking_id_normalize(typed) == code, typed


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "-",
        "ABCD-EFG",  # too short
        "ABCD-EFGHJ",  # too long
        "2222-22220",  # too long and '0' is not ours
        "O222-2222",  # ambiguous letter
        "ABCD_EFGH",  # underscore is not a separator
        "ABCD.EFGH",
        "ÄBCD-EFGH",
        "ABCD\x00EFGH",
    ],
)
def test_normalize_rejects_malformed_input(typed):
    assert tracking_id_normalize(typed) is None


def test_normalize_rejects_ambiguous_characters_even_in_the_right_shape():
    code = _raw(tracking_id_generate())
    for char in sorted(AMBIGUOUS):
        for position in range(len(code)):
            assert tracking_id_normalize(code[:position] + char + code[position + 1 :]) is None


def test_normalize_rejects_a_wrong_check_character():
    code = _raw(tracking_id_generate())
    wrong = [c for c in ALPHABET if c != code[-1]]
    assert all(tracking_id_normalize(code[:-1] + c) is None for c in wrong)


# --- issuing: unique within a network ----------------------------------------------------------


def test_tracking_id_issue_records_valid_ids(cast):
    codes = [tracking_id_issue(network=cast.network) for _ in range(50)]
    assert len(set(codes)) == 50
    assert all(tracking_id_normalize(code) == code for code in codes)
    stored = set(
        IssuedTrackingId.objects.filter(network=cast.network).values_list("code", flat=True)
    )
    assert stored == set(codes)
    assert not IssuedTrackingId.objects.filter(network=cast.other_network).exists()


def test_tracking_id_issue_never_repeats_within_a_network(cast, monkeypatch):
    # The generator returns an already issued code first: issue must skip it, not reuse it.
    first = tracking_id_issue(network=cast.network)
    fresh = tracking_id_generate()
    while fresh == first:
        fresh = tracking_id_generate()
    sequence = iter([first, first, fresh])
    monkeypatch.setattr(services, "tracking_id_generate", lambda: next(sequence))
    assert tracking_id_issue(network=cast.network) == fresh
    assert IssuedTrackingId.objects.filter(network=cast.network, code=first).count() == 1


def test_tracking_id_issue_gives_up_when_every_try_collides(cast, monkeypatch):
    taken = tracking_id_issue(network=cast.network)
    monkeypatch.setattr(services, "tracking_id_generate", lambda: taken)
    with pytest.raises(RuntimeError):
        tracking_id_issue(network=cast.network)
    # The failed attempts rolled back their savepoints; the outer transaction is still usable.
    assert IssuedTrackingId.objects.filter(network=cast.network).count() == 1


def test_the_same_code_may_exist_in_two_networks(cast):
    code = tracking_id_generate()
    IssuedTrackingId.objects.create(network=cast.network, code=code)
    IssuedTrackingId.objects.create(network=cast.other_network, code=code)
    assert IssuedTrackingId.objects.filter(code=code).count() == 2


def test_issue_hands_out_a_code_taken_only_in_another_network(cast):
    code = tracking_id_generate()
    IssuedTrackingId.objects.create(network=cast.other_network, code=code)
    with mock.patch.object(services, "tracking_id_generate", return_value=code):
        assert tracking_id_issue(network=cast.network) == code
        with pytest.raises(RuntimeError):
            tracking_id_issue(network=cast.network)  # now taken here too


def test_database_refuses_a_duplicate_code_in_one_network(cast):
    code = tracking_id_generate()
    IssuedTrackingId.objects.create(network=cast.network, code=code)
    with pytest.raises(IntegrityError), transaction.atomic():
        IssuedTrackingId.objects.create(network=cast.network, code=code)
