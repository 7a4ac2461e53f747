"""The shared shape of a worklist source: every app's `*due_rows` selector returns `DueRows`, the
queries of its due rows with how each row reads as a `DueItem`. The worklist lists the items;
the navigation's overdue badge, on every page, only counts the rows, in SQL."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Model, QuerySet


@dataclass(frozen=True, slots=True)
class DueItem:
    key: str  # stable and unique across sources, e.g. "agency-setup:12"
    kind: str  # short machine name of the item type, e.g. "agency_setup"
    kind_label: str  # what a person calls it, e.g. "Agency set-up"
    subject: str  # who or what it concerns
    reason: str  # why it is due, in plain words
    due_at: datetime
    action_label: str  # the one action that clears it
    action_url: str
    owner_id: int | None = None  # None: the agency's, for whoever holds the right role
    # A form fragment that clears the item in place (htmx), when the action is one short form.
    inline_url: str = ""


@dataclass(frozen=True, slots=True)
class DueRows:
    rows: QuerySet | list  # a list when the source already holds its rows
    item: Callable[[Model], DueItem]

    def count(self) -> int:
        return len(self.rows) if isinstance(self.rows, list) else self.rows.count()


def due_items_of(sources: Iterable[DueRows]) -> list[DueItem]:
    return [source.item(row) for source in sources for row in source.rows]


def due_count_of(sources: Iterable[DueRows]) -> int:
    return sum(source.count() for source in sources)
