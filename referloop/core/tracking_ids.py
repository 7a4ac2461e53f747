"""Tracking IDs people can read over the phone: "K7QM-4TXP".

The alphabet leaves out characters that are easily confused when spoken or handwritten (0/O,
1/I/L, U/V, 5/S), and the last character is a Luhn mod-N check character, so a single mistyped
character or two swapped neighbours are caught before any lookup happens.
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
        addend = factor * _INDEX[char]
        total += addend // base + addend % base
        factor = 1 if factor == 2 else 2
    return ALPHABET[(base - total % base) % base]


def _format(raw: str) -> str:
    return f"{raw[:4]}-{raw[4:]}"


def tracking_id_generate() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return _format(body + _check_character(body))


def tracking_id_normalize(text: str) -> str | None:
    """The canonical form of a typed or spoken ID, or None if it cannot be one of ours."""
    raw = "".join(char for char in text.upper() if char not in " -")
    if len(raw) != BODY_LENGTH + 1 or any(char not in _INDEX for char in raw):
        return None
    if _check_character(raw[:-1]) != raw[-1]:
        return None
    return _format(raw)
