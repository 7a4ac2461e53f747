"""Tracking IDs people can read over the phone: "K7QM-4TXT".

The alphabet leaves out characters that are easily confused when spoken or handwritten (0/O,
1/I/L, U/V, 5/S), and the last character is a check character: the body's character values,
weighted 2, 1, 2, 1, ... from the right, must sum with it to 0 mod 27. Both weights and their
difference are invertible mod 27, so every single mistyped character and every swap of two
different neighbours is caught before any lookup happens. (Not Luhn mod N: with 27 characters its
digit-sum step maps 'G' and 'Z' alike, missing substitutions, and it misses the swap "2Z" <-> "Z2".)
"""

import secrets

ALPHABET = "2346789ABCDEFGHJKMNPQRTWXYZ"
BODY_LENGTH = 7
_INDEX = {char: position for position, char in enumerate(ALPHABET)}


def _check_character(body: str) -> str:
    base = len(ALPHABET)
    total = 0
    factor = 2
    for char in reversed(body):
        total += factor * _INDEX[char]
        factor = 1 if factor == 2 else 2
    return ALPHABET[(base - total % base) % base]


def _format(raw: str) -> str:
    return f"{raw[:4]}-{raw[4:]}"


def tracking_id_generate(rng=secrets) -> str:
    """A new ID; `rng` (anything with `choice`) lets demo data draw reproducible ones."""
    body = "".join(rng.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return _format(body + _check_character(body))


def tracking_id_normalize(text: str) -> str | None:
    """The canonical form of a typed or spoken ID, or None if it cannot be one of ours."""
    raw = "".join(char for char in text.upper() if char not in " -")
    if len(raw) != BODY_LENGTH + 1 or any(char not in _INDEX for char in raw):
        return None
    if _check_character(raw[:-1]) != raw[-1]:
        return None
    return _format(raw)
