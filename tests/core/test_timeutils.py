"""Business days, agency-local time, time-zone validation, and the agency policy schema."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from referloop.core.errors import DomainError
from referloop.core.policy import (
    POLICY_FIELD_NAMES,
    AgencyPolicy,
    policy_from_document,
    policy_validate,
)
from referloop.core.services import agency_policy_update
from referloop.core.timeutils import (
    add_business_days,
    agency_add_business_days,
    agency_now,
    agency_today,
    agency_zone,
    is_business_day,
    local_midnight_utc,
    valid_time_zone,
)

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")


def local(zone, *args) -> datetime:
    return datetime(*args, tzinfo=zone)


# --- add_business_days -----------------------------------------------------------------------


def test_friday_afternoon_plus_two_business_days_is_tuesday_afternoon():
    friday = local(CHICAGO, 2026, 5, 15, 15, 0)  # Friday 15:00 CDT
    assert friday.isoweekday() == 5
    due = add_business_days(friday, 2, zone=CHICAGO)
    assert due.astimezone(CHICAGO) == local(CHICAGO, 2026, 5, 19, 15, 0)
    assert due.astimezone(CHICAGO).isoweekday() == 2
    assert due == datetime(2026, 5, 19, 20, 0, tzinfo=UTC)


def test_result_is_utc_aware_whatever_the_input_zone():
    start = local(NEW_YORK, 2026, 5, 13, 9, 30)
    due = add_business_days(start, 1, zone=CHICAGO)
    assert due.tzinfo is UTC
    assert due.utcoffset() == timedelta(0)
    # 09:30 New York is 08:30 Chicago; the wall clock kept is Chicago's.
    assert due.astimezone(CHICAGO) == local(CHICAGO, 2026, 5, 14, 8, 30)


def test_counting_starts_the_next_business_day():
    wednesday = local(CHICAGO, 2026, 5, 13, 10, 0)
    assert add_business_days(wednesday, 1, zone=CHICAGO).astimezone(CHICAGO).day == 14
    # Received on a Saturday: Monday is the first business day.
    saturday = local(CHICAGO, 2026, 5, 16, 10, 0)
    assert add_business_days(saturday, 1, zone=CHICAGO).astimezone(CHICAGO) == local(
        CHICAGO, 2026, 5, 18, 10, 0
    )


def test_zero_days_is_the_start_itself():
    start = local(CHICAGO, 2026, 5, 16, 10, 0)  # even on a Saturday
    assert add_business_days(start, 0, zone=CHICAGO) == start


def test_holidays_are_skipped():
    friday = local(CHICAGO, 2026, 5, 22, 15, 0)  # the Friday before Memorial Day
    memorial_day = date(2026, 5, 25)
    due = add_business_days(friday, 2, zone=CHICAGO, holidays=[memorial_day])
    assert due.astimezone(CHICAGO) == local(CHICAGO, 2026, 5, 27, 15, 0)  # Wednesday
    without = add_business_days(friday, 2, zone=CHICAGO)
    assert without.astimezone(CHICAGO) == local(CHICAGO, 2026, 5, 26, 15, 0)


def test_holidays_on_a_weekend_change_nothing():
    friday = local(CHICAGO, 2026, 5, 15, 15, 0)
    assert add_business_days(
        friday, 2, zone=CHICAGO, holidays=[date(2026, 5, 16), date(2026, 5, 17)]
    ) == add_business_days(friday, 2, zone=CHICAGO)


def test_custom_working_weekdays_including_saturday():
    friday = local(CHICAGO, 2026, 5, 15, 15, 0)
    six_days = (1, 2, 3, 4, 5, 6)
    due = add_business_days(friday, 2, zone=CHICAGO, working_weekdays=six_days)
    assert due.astimezone(CHICAGO) == local(CHICAGO, 2026, 5, 18, 15, 0)  # Sat, then Mon
    due = add_business_days(friday, 1, zone=CHICAGO, working_weekdays=six_days)
    assert due.astimezone(CHICAGO) == local(CHICAGO, 2026, 5, 16, 15, 0)  # Saturday


def test_working_weekdays_tuesday_to_saturday():
    monday = local(CHICAGO, 2026, 5, 18, 9, 0)
    due = add_business_days(monday, 5, zone=CHICAGO, working_weekdays=(2, 3, 4, 5, 6))
    assert due.astimezone(CHICAGO) == local(CHICAGO, 2026, 5, 23, 9, 0)  # Saturday
    due = add_business_days(monday, 6, zone=CHICAGO, working_weekdays=(2, 3, 4, 5, 6))
    assert due.astimezone(CHICAGO) == local(CHICAGO, 2026, 5, 26, 9, 0)  # next Tuesday


def test_keeps_local_wall_clock_time_across_spring_forward():
    # New York moves to EDT on Sunday 2026-03-08.
    friday = local(NEW_YORK, 2026, 3, 6, 15, 0)
    assert friday.utcoffset() == timedelta(hours=-5)
    due = add_business_days(friday, 2, zone=NEW_YORK)
    assert due.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2026, 3, 10, 15, 0)
    assert due == datetime(2026, 3, 10, 19, 0, tzinfo=UTC)  # 15:00 EDT, not 20:00 UTC
    assert due - friday.astimezone(UTC) == timedelta(days=4, hours=-1)


def test_keeps_local_wall_clock_time_across_fall_back():
    # New York returns to EST on Sunday 2026-11-01.
    friday = local(NEW_YORK, 2026, 10, 30, 9, 0)
    due = add_business_days(friday, 1, zone=NEW_YORK)
    assert due.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2026, 11, 2, 9, 0)
    assert due == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


def test_the_agency_zone_decides_the_local_day():
    # 03:00 UTC on a Saturday is still Friday evening in Chicago: one business day is Monday.
    start = datetime(2026, 5, 16, 3, 0, tzinfo=UTC)
    due = add_business_days(start, 1, zone=CHICAGO)
    assert due.astimezone(CHICAGO) == local(CHICAGO, 2026, 5, 18, 22, 0)
    # In UTC the start is a Saturday: Monday too, but at 03:00.
    assert add_business_days(start, 1, zone=ZoneInfo("UTC")) == datetime(
        2026, 5, 18, 3, 0, tzinfo=UTC
    )


def test_negative_days_raise():
    with pytest.raises(ValueError):
        add_business_days(local(CHICAGO, 2026, 5, 15, 15, 0), -1, zone=CHICAGO)


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
    ),
    days=st.integers(min_value=0, max_value=40),
    weekdays=st.sets(st.integers(min_value=1, max_value=7), min_size=1),
)
def test_result_lands_on_a_business_day_after_exactly_n_of_them(start, days, weekdays):
    due = add_business_days(start, days, zone=NEW_YORK, working_weekdays=weekdays)
    assert due.tzinfo is UTC
    start_day = start.astimezone(NEW_YORK).date()
    due_local = due.astimezone(NEW_YORK)
    counted = sum(
        1
        for offset in range(1, (due_local.date() - start_day).days + 1)
        if (start_day + timedelta(days=offset)).isoweekday() in weekdays
    )
    assert counted == days
    if days:
        assert due_local.isoweekday() in weekdays
        assert due > start


def test_is_business_day():
    assert is_business_day(date(2026, 5, 15), working_weekdays=(1, 2, 3, 4, 5), holidays=())
    assert not is_business_day(date(2026, 5, 16), working_weekdays=(1, 2, 3, 4, 5), holidays=())
    assert not is_business_day(
        date(2026, 5, 15), working_weekdays=(1, 2, 3, 4, 5), holidays={date(2026, 5, 15)}
    )


# --- the agency's policy and zone ------------------------------------------------------------


def test_agency_add_business_days_uses_the_default_policy(cast):
    friday = local(CHICAGO, 2026, 5, 15, 15, 0)
    due = agency_add_business_days(cast.agency_a, friday, 2)
    assert due.astimezone(CHICAGO) == local(CHICAGO, 2026, 5, 19, 15, 0)


def test_agency_add_business_days_reads_holidays_and_weekdays_from_the_policy(cast):
    agency = cast.agency_a
    agency_policy_update(
        agency=agency,
        actor=cast.admin_a,
        data={"working_weekdays": [1, 2, 3, 4, 5, 6], "holidays": ["2026-05-18"]},
        time_zone="America/Chicago",
    )
    agency.refresh_from_db()  # the policy comes back from JSON: dates as strings
    friday = local(CHICAGO, 2026, 5, 15, 15, 0)
    due = agency_add_business_days(agency, friday, 2)
    # Saturday counts, Monday is a holiday: Tuesday.
    assert due.astimezone(CHICAGO) == local(CHICAGO, 2026, 5, 19, 15, 0)
    due = agency_add_business_days(agency, friday, 1)
    assert due.astimezone(CHICAGO) == local(CHICAGO, 2026, 5, 16, 15, 0)


def test_agency_add_business_days_uses_the_agency_time_zone(cast):
    # 23:30 UTC on Friday is Friday evening in New York (agency B) but 18:30 in Chicago (A);
    # each agency keeps its own wall clock.
    start = datetime(2026, 5, 15, 23, 30, tzinfo=UTC)
    due_b = agency_add_business_days(cast.agency_b, start, 1)
    assert due_b.astimezone(NEW_YORK) == local(NEW_YORK, 2026, 5, 18, 19, 30)
    # 03:30 UTC on Saturday is still Friday in Chicago, already Saturday in UTC.
    start = datetime(2026, 5, 16, 3, 30, tzinfo=UTC)
    due_a = agency_add_business_days(cast.agency_a, start, 1)
    assert due_a.astimezone(CHICAGO) == local(CHICAGO, 2026, 5, 18, 22, 30)


def test_agency_zone_falls_back_to_utc_for_a_bad_stored_zone(cast):
    cast.agency_a.time_zone = "Mars/Base"
    assert agency_zone(cast.agency_a) == ZoneInfo("UTC")
    cast.agency_a.time_zone = ""
    assert agency_zone(cast.agency_a) == ZoneInfo("UTC")


def test_agency_now_and_today_are_local(cast):
    with time_machine.travel(datetime(2026, 5, 16, 3, 0, tzinfo=UTC), tick=False):
        assert agency_today(cast.agency_a) == date(2026, 5, 15)  # Chicago: Friday evening
        now = agency_now(cast.agency_a)
        assert now.utcoffset() == timedelta(hours=-5)
        assert now == datetime(2026, 5, 16, 3, 0, tzinfo=UTC)


# --- time zones ------------------------------------------------------------------------------


def test_valid_time_zone_accepts_known_zones():
    assert valid_time_zone("America/Chicago") == "America/Chicago"
    assert valid_time_zone("UTC") == "UTC"


@pytest.mark.parametrize("name", ["Mars/Base", "", "america/chicago", "../etc/passwd", "EST+5"])
def test_valid_time_zone_refuses_unknown_zones(name):
    with pytest.raises(DomainError) as caught:
        valid_time_zone(name)
    assert caught.value.field == "time_zone"
    assert name in caught.value.message


def test_local_midnight_utc(cast):
    # Chicago is UTC-6 in winter and UTC-5 in summer.
    assert local_midnight_utc(cast.agency_a, date(2026, 1, 15)) == datetime(
        2026, 1, 15, 6, 0, tzinfo=UTC
    )
    assert local_midnight_utc(cast.agency_a, date(2026, 7, 15)) == datetime(
        2026, 7, 15, 5, 0, tzinfo=UTC
    )
    # On the day DST starts (at 02:00), midnight is still standard time.
    assert local_midnight_utc(cast.agency_a, date(2026, 3, 8)) == datetime(
        2026, 3, 8, 6, 0, tzinfo=UTC
    )
    assert local_midnight_utc(cast.agency_a, date(2026, 3, 9)) == datetime(
        2026, 3, 9, 5, 0, tzinfo=UTC
    )
    assert local_midnight_utc(cast.agency_b, date(2026, 1, 15)) == datetime(
        2026, 1, 15, 5, 0, tzinfo=UTC
    )


def test_local_midnight_utc_brackets_the_local_day(cast):
    for day in (date(2026, 3, 8), date(2026, 11, 1), date(2026, 6, 1)):
        start = local_midnight_utc(cast.agency_b, day)
        end = local_midnight_utc(cast.agency_b, day + timedelta(days=1))
        assert start.tzinfo is UTC
        assert start.astimezone(NEW_YORK).date() == day
        assert (end - timedelta(microseconds=1)).astimezone(NEW_YORK).date() == day
    # DST days are 23 and 25 hours long.
    spring = local_midnight_utc(cast.agency_b, date(2026, 3, 9)) - local_midnight_utc(
        cast.agency_b, date(2026, 3, 8)
    )
    fall = local_midnight_utc(cast.agency_b, date(2026, 11, 2)) - local_midnight_utc(
        cast.agency_b, date(2026, 11, 1)
    )
    assert spring == timedelta(hours=23)
    assert fall == timedelta(hours=25)


# --- the policy schema -----------------------------------------------------------------------


def test_policy_defaults():
    policy = AgencyPolicy()
    assert policy.receipt_confirm_business_days == 2
    assert policy.first_contact_days == 7
    assert policy.outcome_known_days == 30
    assert policy.follow_up_every_days == 7
    assert policy.escalate_after_overdue_days == 7
    assert policy.bounce_back_days == 30
    assert policy.reply_link_days == 60
    assert policy.partner_touch_days == 14
    assert policy.partner_max_silence_days == 90
    assert policy.listing_verify_days == 180
    assert policy.capacity_stale_days == 7
    assert policy.working_weekdays == [1, 2, 3, 4, 5]
    assert policy.holidays == []
    assert policy_from_document(None) == policy
    assert policy_from_document({}) == policy
    assert policy_validate({}) == policy


def test_policy_field_names_list_every_setting():
    assert set(POLICY_FIELD_NAMES) == set(AgencyPolicy().model_dump())
    assert "receipt_confirm_business_days" in POLICY_FIELD_NAMES


def test_policy_validate_keeps_given_values_and_fills_the_rest():
    policy = policy_validate({"first_contact_days": 3, "holidays": ["2026-12-25"]})
    assert policy.first_contact_days == 3
    assert policy.holidays == [date(2026, 12, 25)]
    assert policy.outcome_known_days == 30


def test_policy_validate_normalizes_weekdays():
    assert policy_validate({"working_weekdays": [6, 1, 1, 3]}).working_weekdays == [1, 3, 6]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("receipt_confirm_business_days", 0),
        ("receipt_confirm_business_days", 31),
        ("receipt_confirm_business_days", -2),
        ("first_contact_days", 91),
        ("outcome_known_days", 366),
        ("follow_up_every_days", 0),
        ("escalate_after_overdue_days", 1000),
        ("bounce_back_days", 0),
        ("reply_link_days", 366),
        ("partner_touch_days", 0),
        ("partner_max_silence_days", 6),
        ("listing_verify_days", 1096),
        ("capacity_stale_days", 91),
        ("first_contact_days", "soon"),
        ("first_contact_days", 2.5),
        ("first_contact_days", None),
        ("holidays", ["not a date"]),
        ("holidays", "2026-12-25"),
    ],
)
def test_policy_validate_names_the_field_at_fault(field, value):
    with pytest.raises(DomainError) as caught:
        policy_validate({field: value})
    assert caught.value.field == field
    assert caught.value.message


@pytest.mark.parametrize("weekdays", [[], [0], [8], [1, 2, 8], [-1], ["monday"], "12345", [1.5]])
def test_policy_validate_refuses_bad_weekdays(weekdays):
    with pytest.raises(DomainError) as caught:
        policy_validate({"working_weekdays": weekdays})
    assert caught.value.field == "working_weekdays"


def test_policy_validate_says_which_list_item_is_wrong():
    with pytest.raises(DomainError) as caught:
        policy_validate({"holidays": ["2026-12-25", "christmas"]})
    assert caught.value.field == "holidays"
    assert "(item 2)" in caught.value.message


def test_policy_validate_refuses_unknown_keys():
    with pytest.raises(DomainError) as caught:
        policy_validate({"receipt_confirm_days": 2})  # a typo of a real setting
    assert caught.value.field == "receipt_confirm_days"


def test_policy_bounds_are_inclusive():
    policy = policy_validate(
        {"receipt_confirm_business_days": 30, "first_contact_days": 1, "working_weekdays": [7]}
    )
    assert policy.receipt_confirm_business_days == 30
    assert policy.first_contact_days == 1
    assert policy.working_weekdays == [7]
