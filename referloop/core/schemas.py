"""What the API's schemas share: how a request body is read, the types of values every app's
routes take (ids, text, dates, date-times), and the shapes of its errors."""

import re
import types
from datetime import UTC, date, datetime
from typing import Annotated, Any, Union, get_args, get_origin

from django.utils import timezone
from ninja import Schema
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from referloop.core.timeutils import agency_zone

NO_NUL = r"^[^\x00]*$"  # PostgreSQL refuses NUL in text: refuse it here, with a 422
# What str.split() and str.strip() take for white space, spelled out: the services trim text with
# them, and Python's `\s` differs from pydantic's (Rust) and a JSON Schema reader's (ECMA-262).
SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = rf"[^{SPACE}]"  # a pattern found in any text that is more than white space

# Row ids are 64-bit on both databases: a larger number would reach the database as it is and
# fail there (a 500) instead of finding nothing.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def Text(max_length: int, *, required: bool = False):  # named like the type it returns
    """A string without NUL (PostgreSQL refuses it) of at most `max_length` characters; if
    `required`, with something besides white space (which the services trim off)."""
    pattern = rf"^[^\x00]*[^\x00{SPACE}][^\x00]*$" if required else NO_NUL
    return Annotated[
        str, StringConstraints(min_length=int(required), max_length=max_length, pattern=pattern)
    ]


# A code of a vocabulary (needs, dispositions...): letters, digits and _.:- only.
Code = Annotated[str, StringConstraints(max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]


_ADDRESS_PART = rf"[^@\x00{SPACE}]+"
EMAIL = rf"^({_ADDRESS_PART}@{_ADDRESS_PART}\.{_ADDRESS_PART})?$"  # or "" for none
Email = Annotated[str, StringConstraints(max_length=254, pattern=EMAIL)]

# ISO 8601 as RFC 3339 writes it: 2026-05-01, 2026-05-01T09:30, 2026-05-01T09:30:15.5-05:00.
_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME = r"[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
_DATE_TIME = re.compile(rf"{_DATE}([Tt ]{_TIME}([Zz]|[+-][0-9]{{2}}:[0-9]{{2}})?)?")


def _iso_date(value: Any) -> date:
    """Pydantic alone would also read 0 or "0" as 1 January 1970."""
    if isinstance(value, str) and re.fullmatch(_DATE, value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be a date, YYYY-MM-DD")


FIRST_YEAR, LAST_YEAR = 1900, 9998


def _agency_date_time(value: Any, info: ValidationInfo) -> datetime:
    """An instant: a date-time with an offset is that instant; one without, or a date alone
    (the start of that day), is read in the time zone of the agency the request acts for --
    ninja puts the request in the validation context. Pydantic alone would keep it naive (and
    Django would read it as UTC), and read a number as seconds since 1970."""
    if not (isinstance(value, str) and _DATE_TIME.fullmatch(value)):
        raise ValueError("must be a date-time (2026-05-01T09:30-05:00) or a date (2026-05-01)")
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError as error:
        raise ValueError(f"is not a date-time: {error}") from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        # Far enough from the calendar's ends that no time zone moves it past them.
        raise ValueError(f"must be between the years {FIRST_YEAR} and {LAST_YEAR}")
    if moment.tzinfo is None:
        moment = timezone.make_aware(moment, agency_zone(info.context["request"].agency))
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
AgencyDateTime = Annotated[
    datetime,
    BeforeValidator(_agency_date_time),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date"},
            ],
            "description": "Without an offset (or a date alone: the start of that day), in the "
            "agency's time zone",
        }
    ),
]


def filled(field: str, **schema) -> dict:
    """JSON Schema: the object has `field`, with a value `schema` allows (so not null). For the
    rules across fields that a body schema states to its readers (`json_schema_extra`), which
    its service enforces (a 400 naming the field)."""
    return {"required": [field], "properties": {field: schema}}


def _plain_types(annotation) -> set:
    """The classes a field's annotation allows (`int | None` → {int, NoneType})."""
    if get_origin(annotation) is Annotated:
        return _plain_types(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return set().union(*(_plain_types(arg) for arg in get_args(annotation)))
    return {annotation} if isinstance(annotation, type) else set()


class InputSchema(Schema):
    """A JSON object of known fields, whose numbers are JSON numbers and whose yes/no fields
    are JSON booleans.

    Pydantic's defaults would read `true` as the number 1, "5" as 5 and "yes" as true; ninja's
    schemas would read a JSON value that is not an object (a list, a string) as an object with
    no fields, and skip a field they do not know ("maximun"): a client's mistake would be
    written as data, or silently not written, instead of refused with its reason."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _json_types(cls, value: Any, info: ValidationInfo) -> Any:
        allowed = _plain_types(cls.model_fields[info.field_name].annotation)
        if value is None:
            return value
        if bool in allowed:
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
        elif allowed & {int, float} and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise ValueError("must be a number")
        return value


# --- answers -----------------------------------------------------------------------------------


class ErrorOut(Schema):
    detail: str


class DomainErrorOut(Schema):
    detail: str
    field: str | None = None
    code: str = "invalid"


class ValidationErrorOut(Schema):
    detail: list[dict[str, Any]]


# The error answers every app's routes document, by kind of route.
API_READ = {401: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut}
API_OBJECT = {**API_READ, 404: ErrorOut}
API_WRITE = {**API_OBJECT, 400: DomainErrorOut, 409: DomainErrorOut}
