"""The six closed-loop metrics against small, hand-checked timelines (frozen time, backdated
events): every number exactly, medians over odd and even counts, bounce-backs, the period and
filters, empty periods ("no data"), refused ranges, and the referrals behind each number.
Run on SQLite and on PostgreSQL alike (the test command runs both)."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from referloop.core.errors import DomainError
from referloop.referrals import services
from referloop.referrals.services import Actor
from referloop.reports import metrics
from tests.referrals import factories

pytestmark = pytest.mark.django_db

# Chicago is UTC-6 in March 2026 until the 8th: 15:00 UTC is 9 am there.
DAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _at(days: float) -> datetime:
    return DAY + timedelta(days=days)


@pytest.fixture
def clock():
    with time_machine.travel(_at(60), tick=False) as traveller:
        yield traveller


class Timeline:
    """Referrals of agency A to one partner, each step backdated to `days` after DAY."""

    def __init__(self, cast):
        self.cast = cast
        self.actor = Actor(user=cast.coordinator, agency=cast.agency_a)
        self.organization, self.service = factories.partner(network=cast.network, name="Harbor")
        self.other, _ = factories.partner(network=cast.network, name="Lakeside")

    def referral(self, *, sent: float, organization=None, client=None, **fields):
        person = client or factories.client(agency=self.cast.agency_a, actor=self.cast.coordinator)
        made = factories.referral(
            client=person,
            organization=organization or self.organization,
            service=self.service if organization is None else None,
            actor=self.cast.coordinator,
            **fields,
        )
        return services.referral_record_sent(referral=made, actor=self.actor, at=_at(sent))

    def move(self, referral, to_status, days, **fields):
        return services.referral_transition(
            referral=referral, actor=self.actor, to_status=to_status, at=_at(days), **fields
        )

    def contact(self, referral, days, *, by_partner=False):
        return services.referral_contact_attempt(
            referral=referral, actor=self.actor, at=_at(days), by_partner=by_partner
        )


@pytest.fixture
def timeline(cast, clock):
    """Six referrals sent in the first week of March 2026, hand-checked:

    | #   | sent | receipt | contact | outcome            | bounced |
    | r1  | 0    | 1       | 2       | completed at 10    | no      |
    | r2  | 1    | 2       | 5       | rejected (no cap.) at 3 | yes |
    | r3  | 2    | —       | —       | —                  | no      |
    | r4  | 3    | 4       | 4       | failed at 12       | yes     |
    | r5  | 4    | —       | —       | cancelled at 6     | no      |
    | r6  | 5    | 5       | —       | rejected (not eligible) at 5 | yes |
    Plus one sent on March 20 (outside the first week) and one to another partner."""
    t = Timeline(cast)
    r1 = t.referral(sent=0)
    t.move(r1, "received", 1)
    t.contact(r1, 2)
    t.move(r1, "accepted", 3)
    t.move(r1, "completed", 10)
    r2 = t.referral(sent=1)
    t.move(r2, "received", 2)
    t.contact(r2, 5, by_partner=True)  # the partner's "client contacted" counts too
    t.move(r2, "rejected", 3.5, disposition="no_capacity")
    r3 = t.referral(sent=2)
    r4 = t.referral(sent=3)
    t.contact(r4, 4)  # a contact attempt confirms receipt too
    t.move(r4, "accepted", 4.5)
    t.move(r4, "failed", 12, reason="Moved away")
    r5 = t.referral(sent=4)
    t.move(r5, "cancelled", 6, reason="Client changed their mind")
    r6 = t.referral(sent=5)
    t.move(r6, "rejected", 5, disposition="not_eligible")
    t.referral(sent=18)
    t.referral(sent=1, organization=t.other)
    return {"r1": r1, "r2": r2, "r3": r3, "r4": r4, "r5": r5, "r6": r6, "t": t}


def _query(cast, start=date(2026, 3, 2), end=date(2026, 3, 8), **filters):
    return metrics.MetricsQuery(agency=cast.agency_a, period=metrics.Period(start, end), **filters)


def test_the_six_numbers_of_the_first_week_to_one_partner(cast, timeline):
    result = metrics.closed_loop_metrics(_query(cast, partner_id=timeline["t"].organization.pk))
    assert result.sent == 6
    # r1, r2, r4, r6 confirmed receipt; r3 never; r5 was cancelled unseen.
    assert (result.receipt, result.receipt_rate) == (4, 66.7)
    # Outcomes: r1 completed, r2 and r6 rejected, r4 failed = 4 of 5 (r5 cancelled leaves).
    assert (result.outcome, result.outcome_base, result.outcome_rate) == (4, 5, 80.0)
    # Days to first contact: r1 2, r2 4, r4 1 -> median of an odd count: 2.
    assert (result.contacted, result.contact_days) == (3, 2.0)
    # Days to outcome: r1 10, r2 2.5, r4 9, r6 0 -> median of an even count: (2.5 + 9) / 2.
    assert result.outcome_days == 5.8
    # Bounced: r2 and r6 not accepted, r4 failed.
    assert (result.bounced, result.bounce_rate) == (3, 50.0)
    assert [(r.label, r.count) for r in result.reasons] == [("No capacity", 1), ("Not eligible", 1)]
    assert result.not_accepted == 2


def test_a_re_referral_counts_its_first_referral_as_bounced(cast, timeline, clock):
    t = timeline["t"]
    # r3 went nowhere and was cancelled; the client is referred again elsewhere a day later.
    services.referral_transition(
        referral=timeline["r3"], actor=t.actor, to_status="cancelled", at=_at(19), reason="Stuck"
    )
    clock.move_to(_at(20))
    again = factories.referral(
        client=timeline["r3"].client, organization=t.other, actor=cast.coordinator
    )
    services.referral_record_sent(referral=again, actor=t.actor, at=_at(20))
    again.refresh_from_db()
    assert again.bounce_back_of_id == timeline["r3"].pk
    result = metrics.closed_loop_metrics(_query(cast, partner_id=t.organization.pk))
    assert result.bounced == 4
    behind = metrics.referrals_behind(_query(cast, partner_id=t.organization.pk), "bounce_back")
    assert timeline["r3"] in behind


def test_the_period_is_in_agency_time_and_counts_by_the_sending(cast, timeline):
    whole = metrics.closed_loop_metrics(_query(cast, end=date(2026, 3, 31)))
    assert whole.sent == 8
    later = metrics.closed_loop_metrics(
        _query(cast, start=date(2026, 3, 20), end=date(2026, 3, 20))
    )
    assert later.sent == 1
    # DAY is 9 am in Chicago on March 2: a period ending March 1 holds nothing of it.
    before = metrics.closed_loop_metrics(_query(cast, start=date(2026, 2, 1), end=date(2026, 3, 1)))
    assert before.sent == 0


def test_an_empty_period_says_no_data_never_divides_by_zero(cast, timeline):
    empty = metrics.closed_loop_metrics(_query(cast, start=date(2025, 1, 1), end=date(2025, 1, 31)))
    assert empty.sent == 0
    assert empty.receipt_rate is None and empty.outcome_rate is None and empty.bounce_rate is None
    assert empty.contact_days is None and empty.outcome_days is None
    assert empty.reasons == []


def test_filters_by_owner_and_service_and_direction(cast, timeline):
    assert metrics.closed_loop_metrics(_query(cast, owner_id=cast.admin_a.pk)).sent == 0
    assert metrics.closed_loop_metrics(_query(cast, owner_id=cast.coordinator.pk)).sent == 7
    by_service = metrics.closed_loop_metrics(_query(cast, service_id=timeline["t"].service.pk))
    assert by_service.sent == 6
    inbound = metrics.closed_loop_metrics(_query(cast, direction=metrics.INBOUND))
    assert inbound.sent == 0


def test_inbound_metrics_count_what_other_agencies_sent_us(cast, clock):
    receiving = factories.partner(network=cast.network, agency=cast.agency_a, name="Alpha")[0]
    clock.move_to(_at(1))
    person = factories.client(agency=cast.agency_b, actor=cast.admin_b)
    made = factories.referral(
        client=person,
        organization=receiving,
        actor=cast.admin_b,
        consent=factories.consent(client=person, organization=receiving),
    )
    sent = factories.send(made, actor=cast.admin_b)
    assert sent.receiving_agency == cast.agency_a
    clock.move_to(_at(60))
    inbound = metrics.closed_loop_metrics(_query(cast, direction=metrics.INBOUND))
    assert (inbound.sent, inbound.receipt) == (1, 0)
    assert metrics.closed_loop_metrics(_query(cast)).sent == 0
    by_sender = _query(cast, direction=metrics.INBOUND, partner_id=_organization_of(cast.agency_b))
    assert metrics.closed_loop_metrics(by_sender).sent == 1


def _organization_of(agency) -> int:
    return factories.partner(network=agency.network, agency=agency, name="Bravo")[0].pk


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("receipt", {"r1", "r2", "r4", "r6"}),
        ("outcome", {"r1", "r2", "r4", "r6"}),
        ("contact_days", {"r1", "r2", "r4"}),
        ("outcome_days", {"r1", "r2", "r4", "r6"}),
        ("bounce_back", {"r2", "r4", "r6"}),
        ("not_accepted", {"r2", "r6"}),
    ],
)
def test_each_number_links_to_the_referrals_it_counts(cast, timeline, key, expected):
    query = _query(cast, partner_id=timeline["t"].organization.pk)
    names = {name for name, referral in timeline.items() if name.startswith("r")}
    found = {name for name in names if timeline[name] in metrics.referrals_behind(query, key)}
    assert found == expected


@pytest.mark.parametrize(
    ("start", "end", "field", "words"),
    [
        (date(2026, 3, 8), date(2026, 3, 2), "start", "starts after it ends"),
        (date(1999, 12, 31), date(2000, 1, 5), "start", "or later"),
        (date(2026, 6, 1), date(2026, 6, 2), "start", "in the future"),
        (date(2020, 1, 1), date(2026, 3, 1), "end", "at most three years"),
        (None, date(1, 1, 1), "end", "or later"),  # found by the API fuzz: no overflow
    ],
)
def test_reversed_or_absurd_periods_are_refused(cast, clock, start, end, field, words):
    with pytest.raises(DomainError) as refused:
        metrics.period_clean(start=start, end=end, agency=cast.agency_a)
    assert refused.value.field == field and words in refused.value.message


def test_the_default_period_is_the_last_thirty_days(cast, clock):
    period = metrics.period_clean(start=None, end=None, agency=cast.agency_a)
    assert period.days == 30 and period.end == date(2026, 5, 1)


def test_an_unknown_metric_is_refused(cast, clock):
    with pytest.raises(DomainError, match="Unknown metric"):
        metrics.referrals_behind(_query(cast), "happiness")


def test_the_weekly_rates_list_every_week_of_the_period(cast, timeline):
    weeks = metrics.weekly(_query(cast, end=date(2026, 3, 31)))
    assert [w.starts for w in weeks] == [
        date(2026, 3, 2),
        date(2026, 3, 9),
        date(2026, 3, 16),
        date(2026, 3, 23),
        date(2026, 3, 30),
    ]
    first, empty, third = weeks[0], weeks[1], weeks[2]
    # The first week: the six to Harbor and one to Lakeside (no answer): 4 of 7 confirmed.
    assert (first.sent, first.receipt_rate, first.outcome_rate) == (7, 57.1, 66.7)
    assert (empty.sent, empty.receipt_rate, empty.outcome_rate) == (0, None, None)
    assert (third.sent, third.receipt_rate) == (1, 0.0)


def test_partner_scorecards_from_the_same_timeline(cast, timeline):
    from referloop.reports.scorecards import partner_scorecards

    cards = partner_scorecards(_query(cast))
    assert [card.name for card in cards] == ["Harbor", "Lakeside"]  # most referrals first
    harbor, lakeside = cards
    assert (harbor.sent, harbor.receipt_rate, harbor.outcome_rate) == (6, 66.7, 80.0)
    assert (harbor.completed, harbor.not_accepted, harbor.failed) == (1, 2, 1)
    assert harbor.outcome_days == 5.8
    # Days to receipt: r1 1, r2 1, r4 1 (its contact attempt), r6 0 -> (1 + 1) / 2.
    assert harbor.receipt_days == 1.0
    assert (lakeside.sent, lakeside.receipt_rate, lakeside.outcome_days) == (1, 0.0, None)
    assert [c.name for c in partner_scorecards(_query(cast), sort="name")] == ["Harbor", "Lakeside"]
    only = partner_scorecards(_query(cast, partner_id=timeline["t"].other.pk))
    assert [c.name for c in only] == ["Lakeside"]
