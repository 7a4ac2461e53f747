"""Value parsers for HSDS import: each takes what a CSV cell or a JSON value holds (a string, a
number, None) and returns a Python value, or raises `BadValue` with a reason written for the
person who prepared the file."""

import math
import re
import uuid
from datetime import UTC, date, datetime, time

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from referloop.directory.models import CapacityUnit


class BadValue(ValueError):
    """The value cannot be used; `str(exc)` says why."""


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def scalar(value) -> str | None:
    """A cell as stripped text (numbers become their text), or None when empty."""
    if value.__class__ is str:  # the common case first
        value = value.strip()
        if "\x00" in value:
            raise BadValue("contains a NUL character")
        return value or None
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict | list):
        raise BadValue("expected a single value, not a nested object or list")
    text = str(value).strip()
    if "\x00" in text:
        raise BadValue("contains a NUL character")
    return text or None


def text(value, *, max_length: int | None = None) -> str:
    result = scalar(value) or ""
    if max_length is not None and len(result) > max_length:
        raise BadValue(f"is {len(result)} characters long; at most {max_length} fit")
    return result


def whole_number(value, *, minimum: int = 0, maximum: int = 1_000_000, of: str = ""):
    """A whole number ("12", 12, 12.0, "1,200"); `of` names what it counts ("years")."""
    raw = scalar(value)
    if raw is None:
        return None
    suffix = f" of {of}" if of else ""
    try:
        number = float(raw.replace(",", ""))
    except ValueError:
        raise BadValue(f"'{raw}' is not a whole number{suffix}") from None
    if math.isnan(number) or math.isinf(number) or not number.is_integer():
        raise BadValue(f"'{raw}' is not a whole number{suffix}")
    number = int(number)
    if number < minimum or number > maximum:
        raise BadValue(f"{number} is outside {minimum}..{maximum}")
    return number


def age(value) -> int | None:
    return whole_number(value, minimum=0, maximum=130, of="years")


def coordinate(value) -> float | None:
    """A latitude/longitude as a float (range checked by the caller, which decides severity)."""
    raw = scalar(value)
    if raw is None:
        return None
    try:
        number = float(raw)
    except ValueError:
        raise BadValue(f"'{raw}' is not a number") from None
    if math.isnan(number) or math.isinf(number):
        raise BadValue(f"'{raw}' is not a number")
    return number


_TIME = re.compile(
    r"(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?(?::(?P<s>\d{2})(?:\.\d+)?)?\s*"
    r"(?P<ampm>[ap]\.?\s*m\.?)?\s*(?:z|[+-]\d{2}:?\d{2})?",
)


def clock_time(value) -> time | None:
    """ "08:00", "8:00am", "8am", "17:30:00", "5:30 PM", "8:00 a.m.", "noon", "midnight"."""
    raw = scalar(value)
    if raw is None:
        return None
    lowered = raw.lower()
    if lowered == "noon":
        return time(12, 0)
    if lowered == "midnight":
        return time(0, 0)
    match = _TIME.fullmatch(lowered)
    if not match:
        raise BadValue(f"'{raw}' is not a time (use 08:00, 17:30 or 5:30 PM)")
    hour, minute, second = int(match["h"]), int(match["m"] or 0), int(match["s"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            raise BadValue(f"'{raw}' is not a time: a 12-hour clock runs from 1 to 12")
        hour = hour % 12 + (12 if match["ampm"].startswith("p") else 0)
    elif match["m"] is None:
        raise BadValue(f"'{raw}' is not a time: add minutes (08:00) or am/pm (8am)")
    if hour > 23 or minute > 59 or second > 59:
        raise BadValue(f"'{raw}' is not a time of day")
    return time(hour, minute, second)


def iso_date(value) -> date | None:
    """An ISO 8601 date; a date-time gives its date (the rest must be a time, not any text)."""
    raw = scalar(value)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else _from_iso(raw).date()
    except ValueError:
        raise BadValue(f"'{raw}' is not a date (use YYYY-MM-DD)") from None


def _from_iso(raw: str) -> datetime:
    """ISO 8601, with a UTC "Z" in either case; ValueError otherwise."""
    return datetime.fromisoformat(raw.replace("z", "Z"))


def iso_datetime(value) -> datetime | None:
    """An ISO 8601 date or date-time; naive values are taken as UTC."""
    raw = scalar(value)
    if raw is None:
        return None
    try:
        parsed = _from_iso(raw)
    except ValueError:
        raise BadValue(
            f"'{raw}' is not a date-time (use ISO 8601, e.g. 2024-05-01T09:30Z)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def boolean(value) -> bool | None:
    if isinstance(value, bool):
        return value
    raw = scalar(value)
    if raw is None:
        return None
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise BadValue(f"'{raw}' is not true or false")


def choice(value, choices, *, what: str) -> str | None:
    raw = scalar(value)
    if raw is None:
        return None
    normalized = " ".join(raw.lower().replace("_", " ").split())
    if normalized not in choices:
        raise BadValue(f"unknown {what} '{raw}'; expected one of: {', '.join(choices)}")
    return normalized


_email = EmailValidator()
_url = URLValidator(schemes=["http", "https"])


def email(value, *, max_length: int = 254) -> str:
    raw = scalar(value)
    if raw is None:
        return ""
    try:
        _email(raw)
    except ValidationError:
        raise BadValue(f"'{raw}' is not an e-mail address") from None
    if len(raw) > max_length:
        raise BadValue(f"is longer than {max_length} characters")
    return raw


def url(value, *, max_length: int = 500) -> str:
    raw = scalar(value)
    if raw is None:
        return ""
    candidate = raw if "://" in raw else f"https://{raw}"
    try:
        _url(candidate)
    except ValidationError:
        raise BadValue(f"'{raw}' is not a web address") from None
    if len(candidate) > max_length:
        raise BadValue(f"is longer than {max_length} characters")
    return candidate


_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = {
    name: code
    for code, names in {
        "MO": ("monday", "mon"),
        "TU": ("tuesday", "tue", "tues"),
        "WE": ("wednesday", "wed"),
        "TH": ("thursday", "thu", "thur", "thurs"),
        "FR": ("friday", "fri"),
        "SA": ("saturday", "sat"),
        "SU": ("sunday", "sun"),
    }.items()
    for name in names
}


def weekday(value) -> str | None:
    """HSDS 1.x `weekday`: 1-7 with Monday = 1 (ISO 8601; 0 is read as Sunday) or a day name."""
    raw = scalar(value)
    if raw is None:
        return None
    lowered = raw.lower()
    if lowered.isdigit() and 0 <= int(lowered) <= 7:
        return _WEEKDAYS[(int(lowered) - 1) % 7]
    if lowered.upper() in _WEEKDAYS:
        return lowered.upper()
    if lowered in _DAY_NAMES:
        return _DAY_NAMES[lowered]
    raise BadValue(f"'{raw}' is not a weekday (1-7 with Monday = 1, or a day name)")


_BYDAY = re.compile(r"[+-]?\d{0,2}(MO|TU|WE|TH|FR|SA|SU)")


def byday(value) -> str:
    raw = scalar(value)
    if raw is None:
        return ""
    days = []
    for part in raw.replace(";", ",").split(","):
        token = part.strip()
        if not token:
            continue
        token = _DAY_NAMES.get(token.lower(), token.upper())
        if not _BYDAY.fullmatch(token):
            raise BadValue(f"'{raw}' is not an RFC 5545 day list (e.g. MO,TU,WE)")
        days.append(token)
    result = ",".join(days)
    if len(result) > 50:
        raise BadValue("lists too many days")
    return result


_COUNTRY_NAMES = {
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states": "US",
    "united states of america": "US",
    "can": "CA",
    "canada": "CA",
    "uk": "GB",
    "united kingdom": "GB",
    "mex": "MX",
    "mexico": "MX",
}


def country(value) -> str:
    raw = scalar(value)
    if raw is None:
        return ""
    if raw.lower() in _COUNTRY_NAMES:
        return _COUNTRY_NAMES[raw.lower()]
    if len(raw) == 2 and raw.isalpha():
        return raw.upper()
    raise BadValue(f"'{raw}' is not a two-letter country code (ISO 3166-1, e.g. US)")


_UNIT = re.compile(r"(bed|slot|place|appointment)(?:\(s\)|s)?")
_UNIT_MAP = {
    "bed": CapacityUnit.BEDS,
    "slot": CapacityUnit.SLOTS,
    "place": CapacityUnit.SLOTS,
    "appointment": CapacityUnit.APPOINTMENTS,
}


def capacity_unit(value) -> str:
    """An HSDS 3.1 unit name ("Bed", "beds", "Slot(s)", "places", "Appointments") → CapacityUnit."""
    raw = scalar(value)
    if raw is None:
        raise BadValue("a unit name is required (beds, slots or appointments)")
    match = _UNIT.fullmatch(raw.strip().lower())
    if not match:
        raise BadValue(f"unit '{raw}' is not one Referloop counts; use beds, slots or appointments")
    return _UNIT_MAP[match[1]]


def as_uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


# Common language names → ISO 639-1, so 1.x files (which give names only) match language search.
LANGUAGE_CODES = {
    "english": "en",
    "spanish": "es",
    "español": "es",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "portuguese": "pt",
    "russian": "ru",
    "ukrainian": "uk",
    "polish": "pl",
    "arabic": "ar",
    "chinese": "zh",
    "mandarin": "zh",
    "cantonese": "yue",
    "vietnamese": "vi",
    "korean": "ko",
    "japanese": "ja",
    "tagalog": "tl",
    "filipino": "fil",
    "hindi": "hi",
    "urdu": "ur",
    "bengali": "bn",
    "punjabi": "pa",
    "somali": "so",
    "amharic": "am",
    "haitian creole": "ht",
    "persian": "fa",
    "farsi": "fa",
    "hmong": "hmn",
    "american sign language": "ase",
    "asl": "ase",
}
