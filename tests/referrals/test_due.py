"""`next_due`: what a referral needs next and when, from the agency policy and the referral's
stored timestamps -- every time target, business days over weekends, holidays and a DST change,
the follow-up cadence, chase-then-clear, the loop closing, and bounce-backs. Then the same rules
through the services with frozen time, since they store its answer."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from referloop.core.models import Agency
from referloop.referrals.due import NOT_DUE, Due, escalation_threshold, next_due, targets
from referloop.referrals.models import DueReason, Referral, Status
from referloop.referrals.services import (
    Actor,
    Answer,
    referral_bounce_resolve,
    referral_follow_up_log,
    referral_partner_answer,
)
from tests.referrals import factories

CHICAGO = ZoneInfo("America/Chicago")
DAY = timedelta(days=1)
# Tuesday 12 May 2026, 09:00 in Chicago.
SENT = datetime(2026, 5, 12, 9, 0, tzinfo=CHICAGO)


def agency(**policy) -> Agency:
    return Agency(name="Alpha", slug="alpha", time_zone="America/Chicago", policy=policy)


def sent(at=SENT, **fields) -> Referral:
    return Referral(status=fields.pop("status", Status.REQUESTED), sent_at=at, **fields)


# --- the three targets ------------------------------------------------------------------------


def test_the_targets_of_a_sent_referral():
    assert targets(sent(), agency()) == {
        DueReason.RECEIPT: SENT + 2 * DAY,  # Thursday: two business days
        DueReason.FIRST_CONTACT: SENT + 7 * DAY,
        DueReason.OUTCOME: SENT + 30 * DAY,
    }


def test_receipt_comes_first_after_sending():
    assert next_due(sent(), agency()) == Due(SENT + 2 * DAY, DueReason.RECEIPT)


def test_targets_follow_the_agency_policy():
    custom = agency(receipt_confirm_business_days=1, first_contact_days=3, outcome_known_days=14)
    assert targets(sent(), custom) == {
        DueReason.RECEIPT: SENT + DAY,
        DueReason.FIRST_CONTACT: SENT + 3 * DAY,
        DueReason.OUTCOME: SENT + 14 * DAY,
    }


def test_receipt_counts_business_days_over_a_weekend():
    friday_afternoon = datetime(2026, 5, 15, 15, 30, tzinfo=CHICAGO)
    due = next_due(sent(friday_afternoon), agency())
    assert due == Due(datetime(2026, 5, 19, 15, 30, tzinfo=CHICAGO), DueReason.RECEIPT)  # Tuesday


def test_receipt_skips_the_agency_holidays():
    friday = datetime(2026, 5, 22, 10, 0, tzinfo=CHICAGO)
    memorial_day = date(2026, 5, 25)
    due = next_due(sent(friday), agency(holidays=[memorial_day.isoformat()]))
    assert due.at == datetime(2026, 5, 27, 10, 0, tzinfo=CHICAGO)  # Wednesday


def test_receipt_counts_the_agency_working_weekdays():
    # An agency working Sunday to Thursday: sent Thursday, due Monday (Sunday counts, Fri/Sat not).
    thursday = datetime(2026, 5, 14, 11, 0, tzinfo=CHICAGO)
    due = next_due(sent(thursday), agency(working_weekdays=[7, 1, 2, 3, 4]))
    assert due.at == datetime(2026, 5, 18, 11, 0, tzinfo=CHICAGO)


def test_receipt_keeps_the_local_time_across_daylight_saving():
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=CHICAGO)  # CST; clocks go forward on 8 March
    due = next_due(sent(friday), agency())
    assert due.at == datetime(2026, 3, 10, 15, 0, tzinfo=CHICAGO)  # Tuesday, 15:00 CDT
    assert due.at.astimezone(UTC) == datetime(2026, 3, 10, 20, 0, tzinfo=UTC)


def test_first_contact_is_next_once_received():
    received = sent(received_at=SENT + DAY)
    assert next_due(received, agency()) == Due(SENT + 7 * DAY, DueReason.FIRST_CONTACT)


def test_outcome_is_due_at_thirty_days_when_follow_ups_keep_up():
    # Received, client contacted, partner chased every week: only the outcome target remains.
    ref = sent(
        status=Status.ACCEPTED,
        received_at=SENT + DAY,
        first_contact_at=SENT + 2 * DAY,
        last_follow_up_at=SENT + 28 * DAY,
    )
    assert next_due(ref, agency()) == Due(SENT + 30 * DAY, DueReason.OUTCOME)


# --- the follow-up cadence --------------------------------------------------------------------


def test_follow_up_every_seven_days_from_the_last_touch():
    contacted = sent(received_at=SENT + DAY, first_contact_at=SENT + 2 * DAY)
    assert next_due(contacted, agency()) == Due(SENT + 7 * DAY, DueReason.FOLLOW_UP)
    # A partner update counts as a touch ...
    contacted.last_partner_update_at = SENT + 4 * DAY
    assert next_due(contacted, agency()) == Due(SENT + 11 * DAY, DueReason.FOLLOW_UP)
    # ... and so does the owner's follow-up.
    contacted.last_follow_up_at = SENT + 6 * DAY
    assert next_due(contacted, agency()) == Due(SENT + 13 * DAY, DueReason.FOLLOW_UP)


def test_follow_up_cadence_follows_the_policy():
    contacted = sent(received_at=SENT + DAY, first_contact_at=SENT + DAY)
    assert next_due(contacted, agency(follow_up_every_days=3)).at == SENT + 3 * DAY


# --- chase, then clear ------------------------------------------------------------------------


def test_a_missed_target_gives_way_to_the_cadence_once_chased():
    ref = sent()
    ref.last_follow_up_at = SENT + 3 * DAY  # receipt was due on day 2: chased after it
    assert next_due(ref, agency()) == Due(SENT + 7 * DAY, DueReason.FIRST_CONTACT)
    ref.last_follow_up_at = SENT + 8 * DAY  # first contact (day 7) missed too, chased again
    assert next_due(ref, agency()) == Due(SENT + 15 * DAY, DueReason.FOLLOW_UP)


def test_a_follow_up_before_a_target_does_not_clear_it():
    ref = sent(last_follow_up_at=SENT + DAY)  # chased on day 1, receipt still due on day 2
    assert next_due(ref, agency()) == Due(SENT + 2 * DAY, DueReason.RECEIPT)


# --- the loop closes --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.COMPLETED])
def test_known_outcome_closes_the_loop(status):
    ref = sent(status=status, received_at=SENT + DAY, outcome_at=SENT + 5 * DAY)
    assert next_due(ref, agency()) == NOT_DUE


@pytest.mark.parametrize(
    "status", [Status.DRAFT, Status.COMPLETED, Status.CANCELLED, Status.FAILED]
)
def test_drafts_and_closed_referrals_are_never_due(status):
    assert next_due(sent(status=status, closed_at=SENT + DAY), agency()) == NOT_DUE


def test_rejected_is_due_for_re_referral_until_resolved():
    closed = SENT + 3 * DAY
    rejected = sent(status=Status.REJECTED, outcome_at=closed, closed_at=closed)
    assert next_due(rejected, agency()) == Due(closed, DueReason.REREFER)
    rejected.bounce_resolved_at = closed + DAY
    assert next_due(rejected, agency()) == NOT_DUE


# --- escalation -------------------------------------------------------------------------------


def test_escalation_threshold_follows_the_policy():
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert escalation_threshold(agency(), now) == now - 7 * DAY
    assert escalation_threshold(agency(escalate_after_overdue_days=3), now) == now - 3 * DAY


# --- through the services, with frozen time ---------------------------------------------------


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(SENT, tick=False)
    return time_machine


def stored(ref: Referral) -> Due:
    ref = Referral.objects.get(pk=ref.pk)
    return Due(ref.next_due_at, ref.due_reason)


def test_services_store_each_step(cast, clock):
    ref = factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator)
    owner = Actor(user=cast.coordinator, agency=cast.agency_a)
    partner = Actor(label="Pat (reply link)")
    assert stored(ref) == Due(SENT + 2 * DAY, DueReason.RECEIPT)

    clock.move_to(SENT + 3 * DAY, tick=False)  # receipt missed; the owner chases
    referral_follow_up_log(referral=ref, actor=owner)
    assert stored(ref) == Due(SENT + 7 * DAY, DueReason.FIRST_CONTACT)

    clock.move_to(SENT + 4 * DAY, tick=False)
    referral_partner_answer(referral=ref, actor=partner, answer=Answer.CLIENT_CONTACTED)
    assert stored(ref) == Due(SENT + 11 * DAY, DueReason.FOLLOW_UP)

    clock.move_to(SENT + 10 * DAY, tick=False)
    referral_partner_answer(referral=ref, actor=partner, answer=Answer.SERVICE_STARTED)
    assert stored(ref) == Due(None, "")


def test_services_keep_a_rejected_referral_due_until_the_bounce_is_resolved(cast, clock):
    ref = factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator)
    clock.move_to(SENT + DAY, tick=False)
    referral_partner_answer(
        referral=ref,
        actor=Actor(label="Pat (reply link)"),
        answer=Answer.NOT_ACCEPTED,
        disposition="not_eligible",
    )
    assert stored(ref) == Due(SENT + DAY, DueReason.REREFER)

    clock.move_to(SENT + 40 * DAY, tick=False)  # still due, however long ago
    assert stored(ref) == Due(SENT + DAY, DueReason.REREFER)
    referral_bounce_resolve(
        referral=ref,
        actor=Actor(user=cast.coordinator, agency=cast.agency_a),
        note="Client moved out of the county.",
    )
    assert stored(ref) == Due(None, "")
