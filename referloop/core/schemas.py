"""What every request body of the API is held to, beyond its own fields' rules."""

import types
from typing import Any, Union, get_args, get_origin

from ninja import Schema
from pydantic import ConfigDict, ValidationInfo, field_validator


def _plain_types(annotation) -> set:
    """The classes a field's annotation allows (`int | None` → {int, NoneType})."""
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
