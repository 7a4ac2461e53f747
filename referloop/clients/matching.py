"""Keys and scores for finding a client who may already be on record."""

import unicodedata
from difflib import SequenceMatcher

from referloop.core.fields import keyed_hash, normalize_for_hash

_SOUNDEX_CODES = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


def _ascii_letters(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if "a" <= char <= "z")


def soundex(name: str) -> str:
    """American Soundex: "Smith" and "Smyth" both give S530. Empty for names without letters."""
    letters = _ascii_letters(name)
    if not letters:
        return ""
    code = letters[0].upper()
    previous = _SOUNDEX_CODES.get(letters[0], "")
    for char in letters[1:]:
        digit = _SOUNDEX_CODES.get(char, "")
        if digit and digit != previous:
            code += digit
        if char not in "hw":  # h and w don't separate letters with the same code
            previous = digit
    return (code + "000")[:4]


def full_name_key(first_name: str, last_name: str) -> str:
    return normalize_for_hash(f"{first_name} {last_name}")


def name_dob_hash(first_name: str, last_name: str, date_of_birth: str) -> str:
    return keyed_hash(
        f"{full_name_key(first_name, last_name)}|{date_of_birth}", purpose="client-name-dob"
    )


def dob_hash(date_of_birth: str) -> str:
    return keyed_hash(date_of_birth, purpose="client-dob") if date_of_birth else ""


def last_name_sound_hash(last_name: str) -> str:
    sound = soundex(last_name)
    return keyed_hash(sound, purpose="client-last-name-sound") if sound else ""


def name_similarity(a: str, b: str) -> float:
    """0..1; word order and accents don't matter ("María José" ~ "Jose Maria")."""

    def words(text: str) -> str:
        return " ".join(sorted(_ascii_letters(word) for word in text.split()))

    return SequenceMatcher(None, words(a), words(b)).ratio()
