"""Finding a client who may already be on record: the phonetic and keyed-hash keys, the name
similarity score, and `client_possible_duplicates` over real (encrypted) client rows."""

import pytest

from referloop.clients import matching
from referloop.clients.selectors import client_possible_duplicates
from tests.referrals import factories


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Robert", "R163"),
        ("Rupert", "R163"),
        ("Rubin", "R150"),
        ("Ashcraft", "A261"),  # h does not separate the two letters coded 2
        ("Tymczak", "T522"),
        ("Pfister", "P236"),  # f has the first letter's code: skipped
        ("Honeyman", "H555"),
        ("Lee", "L000"),
        ("Müller", "M460"),
        ("O'Brien", "O165"),
        ("", ""),
        ("—", ""),
    ],
)
def test_soundex(name, code):
    assert matching.soundex(name) == code


def test_similar_sounding_last_names_share_a_key():
    assert matching.last_name_sound_hash("Smith") == matching.last_name_sound_hash("Smyth")
    assert matching.last_name_sound_hash("Smith") != matching.last_name_sound_hash("Jones")
    assert matching.last_name_sound_hash("--") == ""


def test_name_and_birth_date_key_ignores_case_and_spacing_but_not_the_date():
    key = matching.name_dob_hash("Dana", "Rivers", "1990-04-12")
    assert matching.name_dob_hash(" dana ", "RIVERS", "1990-04-12") == key
    assert matching.name_dob_hash("Dana", "Rivers", "1990-04-13") != key
    assert matching.name_dob_hash("Dan", "Rivers", "1990-04-12") != key


def test_keys_are_separated_by_purpose():
    # The same text hashed for two columns must not link them.
    assert matching.dob_hash("1990-04-12") != matching.last_name_sound_hash("1990-04-12")
    assert matching.dob_hash("") == ""
    assert len(matching.dob_hash("1990-04-12")) == 64


def test_name_similarity_ignores_word_order_case_and_accents():
    assert matching.name_similarity("María José", "jose maria") == 1.0
    assert matching.name_similarity("Jon Smyth", "John Smith") >= 0.8
    assert matching.name_similarity("Alice Jones", "John Smith") < 0.5
    assert matching.name_similarity("", "") == 1.0


def _duplicates(agency, first, last, dob, **kwargs):
    return [
        (found.client.display_name, found.why)
        for found in client_possible_duplicates(
            agency=agency, first_name=first, last_name=last, date_of_birth=dob, **kwargs
        )
    ]


@pytest.mark.django_db
def test_possible_duplicates_exact_first_then_similar(cast):
    agency = cast.agency_a
    factories.client(agency=agency, first_name="Jon", last_name="Smyth", date_of_birth="1980-02-02")
    factories.client(
        agency=agency, first_name="John", last_name="Smith", date_of_birth="1980-02-02"
    )
    factories.client(
        agency=agency, first_name="Johnny", last_name="Smit", date_of_birth="1975-01-01"
    )

    found = _duplicates(agency, "John", "Smith", "1980-02-02")

    assert found[0] == ("John Smith", "same name and date of birth")
    assert ("Jon Smyth", "similar name and the same date of birth") in found
    assert ("Johnny Smit", "similar name") in found
    assert len(found) == 3


@pytest.mark.django_db
def test_same_birth_date_with_a_different_name_is_not_a_duplicate(cast):
    factories.client(
        agency=cast.agency_a, first_name="Alice", last_name="Jones", date_of_birth="1980-02-02"
    )
    assert _duplicates(cast.agency_a, "John", "Smith", "1980-02-02") == []


@pytest.mark.django_db
def test_preferred_name_counts_and_the_record_itself_is_left_out(cast):
    bob = factories.client(
        agency=cast.agency_a,
        first_name="Robert",
        last_name="Smith",
        preferred_name="Bob",
        date_of_birth="1970-07-07",
    )
    assert _duplicates(cast.agency_a, "Bob", "Smith", "") == [("Bob Smith", "similar name")]
    assert _duplicates(cast.agency_a, "Robert", "Smith", "1970-07-07", exclude_pk=bob.pk) == []


@pytest.mark.django_db
def test_another_agencys_clients_are_never_candidates(cast):
    factories.client(agency=cast.agency_b, first_name="Dana", last_name="Rivers")
    assert _duplicates(cast.agency_a, "Dana", "Rivers", "1990-04-12") == []
    assert _duplicates(cast.agency_b, "Dana", "Rivers", "1990-04-12") == [
        ("Dana Rivers", "same name and date of birth")
    ]
