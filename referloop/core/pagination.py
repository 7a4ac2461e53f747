"""How the API pages every list (`@paginate` takes `CursorPagination` from NINJA_PAGINATION_CLASS):
by position, not by offset (keyset pagination).

A page answers `{"items": [...], "count": N, "next_cursor": "..." | null}`. The cursor holds the
values of the page's last row in the list's ordering (a queryset's `order_by`, or its model's
`ordering`, with the primary key added as the last tie-break), so the next page is the rows after
that row: rows inserted or deleted while a client pages move no row from one page to another.

A cursor is signed for the list it came from: the token's agency, the path and its filters
(every query parameter but `cursor` and `limit`). Anything else -- garbled, edited, another
list's or another agency's -- is a 422 naming `cursor`. It only ever narrows the list the route
built through its tenant scoping; it never names a row itself.

A list ranked in Python rather than by the database (a search's best match first) is returned as
`Ranked`: pairs of (key, item), the key a tuple of plain values ending in a unique one.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.core import signing
from django.core.exceptions import FieldDoesNotExist
from django.db.models import F, OrderBy, Q, QuerySet
from django.db.models.constants import LOOKUP_SEP
from ninja import Field, Schema
from ninja.errors import ValidationError
from ninja.pagination import PaginationBase
from pydantic import ValidationInfo, field_validator

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_CURSOR = 2000
# The query parameters that are the page's, not the list's: a cursor continues the same list.
PAGE_PARAMETERS = ("cursor", "limit")


@dataclass(frozen=True)
class Ranked:
    """A list in an order computed in Python: `rows` are (key, item) pairs sorted by key, each key
    a tuple of numbers, text, dates or date-times whose last member is unique (an id)."""

    rows: Sequence[tuple[tuple, Any]]


# --- the cursor --------------------------------------------------------------------------------

_TAGS = {"t": datetime, "d": date, "n": Decimal}


def _plain(value):
    for tag, kind in _TAGS.items():
        if isinstance(value, kind):  # a datetime is a date: "t" is tried first
            return {tag: value.isoformat() if tag != "n" else str(value)}
    return value


def _typed(value):
    if isinstance(value, dict):
        ((tag, text),) = value.items()
        return Decimal(text) if tag == "n" else _TAGS[tag].fromisoformat(text)
    return value


def _salt(request) -> str:
    """The list a cursor belongs to: the agency, the path and the filters."""
    filters = sorted(
        (name, value)
        for name, values in request.GET.lists()
        if name not in PAGE_PARAMETERS
        for value in values
    )
    return f"referloop.cursor:{request.agency.pk}:{request.path}?{urlencode(filters)}"


def cursor_encode(request, values: Sequence) -> str:
    return signing.dumps([_plain(value) for value in values], salt=_salt(request), compress=True)


def cursor_decode(request, cursor: str) -> tuple:
    """The position a cursor holds; ValueError if it is not a cursor of this list."""
    try:
        values = signing.loads(cursor, salt=_salt(request))
        return tuple(_typed(value) for value in values)
    except (signing.BadSignature, TypeError, ValueError, KeyError):
        raise ValueError(
            "is not a cursor of this list: give the `next_cursor` of its previous page, "
            "with the same filters"
        ) from None


def _refused(message: str) -> ValidationError:
    return ValidationError([{"type": "value_error", "loc": ["query", "cursor"], "msg": message}])


# --- the position in a queryset ----------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    alias: str
    order: OrderBy


def _order_by(queryset: QuerySet) -> list[OrderBy]:
    """The queryset's ordering as expressions, ending with its primary key."""
    terms = queryset.query.order_by or (
        queryset.query.default_ordering and queryset.model._meta.ordering
    )
    orders = []
    for term in terms or ():
        if isinstance(term, str):
            if term == "?":
                raise TypeError("A randomly ordered list cannot be paged by position.")
            descending = term.startswith("-")
            term = F(term.removeprefix("-")).desc() if descending else F(term).asc()
        elif not isinstance(term, OrderBy):
            term = term.asc()
        orders.append(term)
    pk_names = {"pk", queryset.model._meta.pk.name, queryset.model._meta.pk.attname}
    last = orders[-1].expression if orders else None
    if not (isinstance(last, F) and last.name in pk_names):
        descending = orders[0].descending if orders else False
        orders.append(F("pk").desc() if descending else F("pk").asc())
    return [_nulls_placed(queryset.model, order) for order in orders]


def _may_be_null(model, path: str) -> bool:
    for name in path.split(LOOKUP_SEP):
        if name == "pk":
            return False
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:  # an annotation: it may be anything
            return True
        if field.null:
            return True
        if not field.is_relation:
            return False
        model = field.related_model
    return False


def _nulls_placed(model, order: OrderBy) -> OrderBy:
    """Where nulls go is each database's own choice unless said: say it (last) for a column
    that may be null, so that a position among them means the same on both."""
    if order.nulls_first or order.nulls_last:
        return order
    expression = order.expression
    if isinstance(expression, F) and not _may_be_null(model, expression.name):
        return order
    return OrderBy(expression, descending=order.descending, nulls_last=True)


def _after(terms: list[_Term], position: tuple) -> Q:
    """The rows after `position` in the terms' order: the first term past its value, or equal
    and the second past, and so on."""
    after = Q(pk__in=[])
    equal = Q()
    for term, value in zip(terms, position, strict=True):
        order, name = term.order, term.alias
        if value is None:
            past = ~Q(**{f"{name}__isnull": True}) if order.nulls_first else None
            same = Q(**{f"{name}__isnull": True})
        else:
            past = Q(**{f"{name}__{'lt' if order.descending else 'gt'}": value})
            if order.nulls_last:
                past |= Q(**{f"{name}__isnull": True})
            same = Q(**{name: value})
        if past is not None:
            after |= equal & past
        equal &= same
    first, value = terms[0], position[0]
    if value is not None and not (first.order.nulls_first or first.order.nulls_last):
        # Implied by the above, stated for the database: a range on the first column (the
        # leading column of the list's index) instead of a filter over every row.
        after &= Q(**{f"{first.alias}__{'lte' if first.order.descending else 'gte'}": value})
    return after


def _queryset_page(queryset: QuerySet, position: tuple | None, limit: int) -> tuple[list, tuple]:
    orders = _order_by(queryset)
    terms = [_Term(f"_cursor_{index}", order) for index, order in enumerate(orders)]
    rows = queryset.annotate(**{term.alias: term.order.expression for term in terms}).order_by(
        *orders
    )
    if position is not None:
        if len(position) != len(terms):
            raise _refused("is not a cursor of this list")
        rows = rows.filter(_after(terms, position))
    found = list(rows[: limit + 1])
    if len(found) <= limit:
        return found, None
    return found[:limit], tuple(getattr(found[limit - 1], term.alias) for term in terms)


def _ranked_page(ranked: Ranked, position: tuple | None, limit: int) -> tuple[list, tuple]:
    try:
        rows = [row for row in ranked.rows if position is None or row[0] > position]
    except TypeError:  # a key of other types than this list's
        raise _refused("is not a cursor of this list") from None
    return [item for _, item in rows[:limit]], rows[limit - 1][0] if len(rows) > limit else None


# --- the paginator -----------------------------------------------------------------------------


class CursorPagination(PaginationBase):
    """`limit` (1-500, default 50) and `cursor` (the `next_cursor` of the page before)."""

    class Input(Schema):
        limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page")
        cursor: str = Field(
            None,
            max_length=MAX_CURSOR,
            description="The `next_cursor` of the previous page (left out: the first page)",
        )

        @field_validator("cursor")
        @classmethod
        def _of_this_list(cls, value: str | None, info: ValidationInfo) -> str | None:
            if value is not None:
                cursor_decode(info.context["request"], value)
            return value

    class Output(Schema):
        items: list[Any]
        count: int = Field(description="Items in the whole list")
        next_cursor: str | None = Field(
            description="Pass as `cursor` for the next page; null on the last page"
        )

    def paginate_queryset(self, queryset, pagination: Input, request, **params: Any) -> Any:
        position = cursor_decode(request, pagination.cursor) if pagination.cursor else None
        if isinstance(queryset, Ranked):
            items, last = _ranked_page(queryset, position, pagination.limit)
            count = len(queryset.rows)
        else:
            items, last = _queryset_page(queryset, position, pagination.limit)
            count = queryset.count()
        return {
            "items": items,
            "count": count,
            "next_cursor": cursor_encode(request, last) if last is not None else None,
        }
