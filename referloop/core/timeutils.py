"""Time helpers: store UTC, reason in the agency's local time, count business days."""

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.utils import timezone

from referloop.core.errors import DomainError


@cache
def _known_time_zones() -> frozenset[str]:
    return frozenset(available_timezones())  # reads the zone files: once per process


def is_time_zone(name: str) -> bool:
    return name in _known_time_zones()


def valid_time_zone(name: str) -> str:
    if not is_time_zone(name):
        raise DomainError(
            f"'{name}' is not a known time zone (e.g. America/Chicago)", field="time_zone"
        )
    return name


def agency_zone(agency) -> ZoneInfo:
    try:
        return ZoneInfo(agency.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def agency_now(agency) -> datetime:
    return timezone.now().astimezone(agency_zone(agency))


def agency_today(agency) -> date:
    return agency_now(agency).date()


def local_midnight_utc(agency, day: date) -> datetime:
    """The UTC instant at which `day` begins in the agency's time zone."""
    return datetime.combine(day, time.min, tzinfo=agency_zone(agency)).astimezone(UTC)


def is_business_day(day: date, *, working_weekdays, holidays) -> bool:
    return day.isoweekday() in working_weekdays and day not in holidays


def add_business_days(
    start: datetime, days: int, *, zone: ZoneInfo, working_weekdays=(1, 2, 3, 4, 5), holidays=()
) -> datetime:
    """`start` moved forward by `days` business days, at the same local wall-clock time.

    Counting starts the business day after `start` (something received on Friday afternoon with
    two business days to answer is due Tuesday afternoon). The local time is kept across DST.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    holidays = set(holidays)
    local = start.astimezone(zone)
    day = local.date()
    remaining = days
    while remaining:
        day += timedelta(days=1)
        if is_business_day(day, working_weekdays=working_weekdays, holidays=holidays):
            remaining -= 1
    return datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=zone).astimezone(UTC)


def agency_add_business_days(agency, start: datetime, days: int) -> datetime:
    policy = agency.policies
    return add_business_days(
        start,
        days,
        zone=agency_zone(agency),
        working_weekdays=policy.working_weekdays,
        holidays=policy.holidays,
    )
