"""The worklist: every app's due items for one person (or a whole agency), merged and grouped.

Each source is a selector `*due_rows(*, agency, member, until)` giving the queries of its due
rows (`core.due.DueRows`), answered from an indexed next-due column; listing them here (rather
than discovering them) keeps dependencies one-way: the worklist knows the apps, the apps don't
know the worklist.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from referloop.clients import selectors as client_selectors
from referloop.core import selectors as core_selectors
from referloop.core.due import DueItem, due_count_of, due_items_of
from referloop.core.timeutils import agency_today, local_midnight_utc
from referloop.directory import selectors as directory_selectors
from referloop.intake import selectors as intake_selectors
from referloop.partners import selectors as partner_selectors
from referloop.referrals import selectors as referral_selectors
from referloop.stays import selectors as stay_selectors

SOURCES = (
    core_selectors.due_rows,
    directory_selectors.listing_due_rows,
    referral_selectors.due_rows,
    client_selectors.consent_due_rows,
    partner_selectors.due_rows,
    stay_selectors.due_rows,
    intake_selectors.due_rows,
)

HORIZON_DAYS = 7


@dataclass
class Worklist:
    overdue: list[DueItem] = field(default_factory=list)
    due_today: list[DueItem] = field(default_factory=list)
    coming_up: list[DueItem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.overdue) + len(self.due_today) + len(self.coming_up)


def _due_rows_for(*, agency, member, until):
    return [
        rows for source in SOURCES for rows in source(agency=agency, member=member, until=until)
    ]


def due_items_for(*, agency, member, until) -> list[DueItem]:
    items = due_items_of(_due_rows_for(agency=agency, member=member, until=until))
    return sorted(items, key=lambda item: (item.due_at, item.key))


def worklist_for(*, agency, member) -> Worklist:
    """Overdue, due today (agency time) and coming up in the next 7 days; `member` None = agency."""
    now = timezone.now()
    today = agency_today(agency)
    tomorrow_starts = local_midnight_utc(agency, today + timedelta(days=1))
    horizon = local_midnight_utc(agency, today + timedelta(days=HORIZON_DAYS + 1))
    worklist = Worklist()
    for item in due_items_for(agency=agency, member=member, until=horizon):
        if item.due_at <= now:
            worklist.overdue.append(item)
        elif item.due_at < tomorrow_starts:
            worklist.due_today.append(item)
        else:
            worklist.coming_up.append(item)
    return worklist


def overdue_count_for(*, agency, member) -> int:
    """The navigation badge on every page: the rows counted in SQL, no item built."""
    return due_count_of(_due_rows_for(agency=agency, member=member, until=timezone.now()))
