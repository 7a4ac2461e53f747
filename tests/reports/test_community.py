"""The community scorecard against a small, hand-checked network timeline (frozen time, each step
at its own instant): every figure exactly, the small-cell suppression (10 vs 11, complementary
cells), the quarter rule, and the capacity over time. Run on SQLite and on PostgreSQL alike."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from referloop.core.errors import DomainError
from referloop.directory.vocabulary import NEEDS
from referloop.referrals import services
from referloop.referrals.services import Actor
from referloop.reports import community
from referloop.reports.metrics import Period
from tests.directory import factories as directory
from tests.referrals import factories

pytestmark = pytest.mark.django_db

Q1 = Period(date(2026, 1, 1), date(2026, 3, 31))
NOW = datetime(2026, 4, 20, 15, 0, tzinfo=UTC)


def _at(day: int, hour: int = 15) -> datetime:
    """A moment of Q1 2026: January 1 plus `day` days, at `hour` UTC (daytime in the US)."""
    return datetime(2026, 1, 1, hour, 0, tzinfo=UTC) + timedelta(days=day)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


class Network:
    """The North County network of the cast: Alpha (Chicago) and Bravo (New York) each run a
    listed program; Harbor is a partner off Referloop."""

    def __init__(self, cast):
        self.cast = cast
        self.alpha = Actor(user=cast.coordinator, agency=cast.agency_a)
        self.bravo = Actor(user=cast.admin_b, agency=cast.agency_b)
        north = cast.network
        self.alpha_org = directory.organization(network=north, agency=cast.agency_a, name="Alpha")
        self.bravo_org = directory.organization(network=north, agency=cast.agency_b, name="Bravo")
        self.harbor = directory.organization(network=north, name="Harbor")
        self.alpha_house = directory.service(
            organization=self.alpha_org, name="Alpha house", needs=("housing",)
        )
        self.bravo_house = directory.service(
            organization=self.bravo_org, name="Bravo house", needs=("housing",)
        )
        self.harbor_food = directory.service(
            organization=self.harbor, name="Harbor pantry", needs=("food",)
        )
        self.harbor_counseling = directory.service(
            organization=self.harbor, name="Harbor counseling", needs=("counseling",)
        )
        self.terms = {t.code: t for t in directory.terms(NEEDS, ["housing", "food", "counseling"])}

    def send(self, actor, service, need: str, at: datetime):
        """A referral from `actor`'s agency to `service`, for `need`, sent at `at`."""
        with time_machine.travel(at - timedelta(minutes=5), tick=False):
            person = factories.client(agency=actor.agency, actor=actor.user)
            covering = factories.consent(client=person, organization=service.organization)
            made = factories.referral(
                client=person,
                organization=service.organization,
                service=service,
                consent=covering,
                actor=actor.user,
                needs=(self.terms[need].pk,),
            )
        with time_machine.travel(at, tick=False):
            return services.referral_send(referral=made, actor=actor)

    def move(self, referral, actor, to_status, at, **fields):
        with time_machine.travel(at, tick=False):
            return services.referral_transition(
                referral=referral, actor=actor, to_status=to_status, **fields
            )

    def batch(self, count, *, sender, service, need, day, fate, receiver=None):
        """`count` referrals sent on `day`, each taken through `fate` a day later."""
        made = []
        for index in range(count):
            referral = self.send(sender, service, need, _at(day, 14) + timedelta(minutes=index))
            later = _at(day + 1, 14) + timedelta(minutes=index)
            answer = receiver or sender  # a partner off Referloop: the sender records it
            if fate in ("completed", "rejected", "received"):
                referral = self.move(referral, answer, "received", later)
            if fate == "completed":
                referral = self.move(referral, answer, "accepted", later + timedelta(hours=1))
                referral = self.move(referral, answer, "completed", later + timedelta(hours=2))
            if fate == "rejected":
                referral = self.move(
                    referral,
                    answer,
                    "rejected",
                    later + timedelta(hours=1),
                    disposition="no_capacity",
                )
            if fate == "cancelled":
                referral = self.move(referral, sender, "cancelled", later, reason="Moved away")
            made.append(referral)
        return made


@pytest.fixture
def network(cast, clock):
    """Q1 2026, hand-checked (threshold 11):

    | from  | to    | need       | n  | what happened                      |
    | Alpha | Bravo | housing    | 11 | received; 6 completed, 5 no capacity |
    | Alpha | Harbor| food       | 12 | nothing                            |
    | Alpha | Harbor| food       | 11 | cancelled before an outcome        |
    | Bravo | Alpha | housing    | 10 | received, completed                |
    | Bravo | Harbor| counseling | 13 | received, not accepted: no capacity|
    | Bravo | Harbor| counseling | 11 | cancelled                          |
    Not counted: Alpha's referral of Dec 31 at 23:30 in Chicago (Jan 1, 00:30 in New York) and
    one of April 2; Charlie's (another network) 12 in Q1."""
    n = Network(cast)
    a, b = n.alpha, n.bravo
    n.batch(6, sender=a, service=n.bravo_house, need="housing", day=3, fate="completed", receiver=b)
    n.batch(5, sender=a, service=n.bravo_house, need="housing", day=4, fate="rejected", receiver=b)
    n.batch(12, sender=a, service=n.harbor_food, need="food", day=10, fate="")
    n.batch(11, sender=a, service=n.harbor_food, need="food", day=20, fate="cancelled")
    n.batch(
        10, sender=b, service=n.alpha_house, need="housing", day=30, fate="completed", receiver=a
    )
    n.batch(13, sender=b, service=n.harbor_counseling, need="counseling", day=40, fate="rejected")
    n.batch(11, sender=b, service=n.harbor_counseling, need="counseling", day=50, fate="cancelled")
    # Capacity: Bravo house 2 free from Dec 20, none from Feb 10; Harbor's pantry none from
    # Jan 20, 5 from Mar 20; Harbor counseling only counted from April; Alpha house never.
    for service, available, at in (
        (n.bravo_house, 2, datetime(2025, 12, 20, 15, tzinfo=UTC)),
        (n.bravo_house, 0, datetime(2026, 2, 10, 15, tzinfo=UTC)),
        (n.harbor_food, 0, datetime(2026, 1, 20, 15, tzinfo=UTC)),
        (n.harbor_food, 5, datetime(2026, 3, 20, 15, tzinfo=UTC)),
        (n.harbor_counseling, 3, datetime(2026, 4, 5, 15, tzinfo=UTC)),
    ):
        directory.capacity(service=service, available=available, maximum=8, at=at)
    n.send(a, n.harbor_food, "food", datetime(2026, 1, 1, 5, 30, tzinfo=UTC))
    n.send(a, n.harbor_food, "food", datetime(2026, 4, 2, 15, 0, tzinfo=UTC))
    south = Actor(user=cast.admin_c, agency=cast.agency_c)
    far = directory.organization(network=cast.other_network, name="Far away")
    far_service = directory.service(organization=far, name="Far pantry", needs=("food",))
    n.batch(12, sender=south, service=far_service, need="food", day=5, fate="completed")
    return n


def _figures(row) -> tuple:
    return (
        row.name,
        row.sent.text,
        row.receipt.text,
        row.receipt_rate.text,
        row.base.text,
        row.outcome.text,
        row.outcome_rate.text,
    )


def test_the_quarter_in_figures_with_small_cells_suppressed(cast, network):
    card = community.community_scorecard(cast.network, Q1)
    assert card.threshold == 11
    # Between agencies: Bravo sent Alpha 10 (fewer than 11), so Alpha received 10; 21 in all
    # gives Bravo's 11 received back, so it is hidden, and with it Alpha's 11 sent to Bravo
    # (the only other count of Bravo's column) and Alpha's row total (the same 11).
    assert [
        (name, [c and c.text for c in cells], sent.text) for name, cells, sent in card.matrix_rows
    ] == [
        ("Alpha Recovery", [None, "hidden"], "hidden"),
        ("Bravo Treatment", ["fewer than 11", None], "fewer than 11"),
    ]
    assert [shown.text for shown in card.received_row] == ["fewer than 11", "hidden"]
    assert card.between.text == "21"
    # By agency: Alpha 34 sent, 11 confirmed (23 not), 23 to know (11 cancelled). Bravo 34
    # sent, 23 confirmed, 23 to know, all 23 known: its 0 "no outcome" hides its 23 known
    # (the part, not the whole), and then Alpha's 11 known (the network's 34 would give it).
    assert [_figures(row) for row in [*card.by_agency, card.total]] == [
        ("Alpha Recovery", "34", "11", "32.4%", "23", "hidden", "hidden"),
        ("Bravo Treatment", "34", "23", "67.6%", "23", "hidden", "hidden"),
        ("The network", "68", "34", "50%", "46", "34", "73.9%"),
    ]
    # By need: the network's services' needs, then "other" and "no need" (always listed, so a
    # row says nothing; 0 here). Each referral has one need, so the rows add up to the network's
    # totals. Housing: 21 sent, all confirmed and known (0 not, 0 cancelled: hidden, and with
    # them the parts 21 confirmed, 21 known and the base 21); food: 23 sent, 0 confirmed, 12 to
    # know, 0 known; counseling: 24 sent, 13 confirmed (11 not), 13 known of 13 (0 not: the 13
    # known hidden). The bases 12 and 13 stay: housing's, other's and no need's are hidden.
    assert [_figures(row) for row in card.by_need] == [
        ("Counseling / therapy", "24", "13", "54.2%", "13", "hidden", "hidden"),
        ("Food", "23", "fewer than 11", "hidden", "12", "fewer than 11", "hidden"),
        ("Housing", "21", "hidden", "hidden", "hidden", "hidden", "hidden"),
        ("Other needs", *["fewer than 11", "fewer than 11", "hidden"] * 2),
        ("No need recorded", *["fewer than 11", "fewer than 11", "hidden"] * 2),
    ]
    # Gaps: counseling's 13 not accepted for no capacity (of 24); housing's 5 and food's 0 are
    # fewer than 11 and sort after it, by the services with no place free (housing: Bravo
    # house, full since Feb 10), not by their hidden counts.
    assert [
        (
            row.name,
            row.no_capacity.text,
            row.no_capacity_rate.text,
            row.services_tracked,
            row.services_full,
        )
        for row in card.gaps
    ] == [
        ("Counseling / therapy", "13", "54.2%", 0, 0),
        ("Housing", "fewer than 11", "hidden", 1, 1),
        ("Food", "fewer than 11", "hidden", 1, 0),
    ]
    # Capacity, at the end of each week (Chicago): Bravo house 2 free, Harbor's pantry counted
    # from Jan 20 (none free), Bravo full from Feb 10, the pantry 5 free from Mar 20.
    assert [(w.starts, w.tracked, w.open, w.share) for w in card.capacity] == [
        (date(2025, 12, 29), 1, 1, 100.0),
        (date(2026, 1, 5), 1, 1, 100.0),
        (date(2026, 1, 12), 1, 1, 100.0),
        (date(2026, 1, 19), 2, 1, 50.0),
        (date(2026, 1, 26), 2, 1, 50.0),
        (date(2026, 2, 2), 2, 1, 50.0),
        (date(2026, 2, 9), 2, 0, 0.0),
        (date(2026, 2, 16), 2, 0, 0.0),
        (date(2026, 2, 23), 2, 0, 0.0),
        (date(2026, 3, 2), 2, 0, 0.0),
        (date(2026, 3, 9), 2, 0, 0.0),
        (date(2026, 3, 16), 2, 1, 50.0),
        (date(2026, 3, 23), 2, 1, 50.0),
        (date(2026, 3, 30), 2, 1, 50.0),
    ]


def test_the_figures_before_suppression_are_the_metrics_of_each_agency(cast, network):
    """The network's cohort is each agency's own metrics cohort (in its own time zone)."""
    from referloop.reports.metrics import MetricsQuery, closed_loop_metrics

    for agency, sent, receipt, base, outcome in (
        (cast.agency_a, 34, 11, 23, 11),
        (cast.agency_b, 34, 23, 23, 23),
    ):
        own = closed_loop_metrics(MetricsQuery(agency=agency, period=Q1))
        assert (own.sent, own.receipt, own.outcome_base, own.outcome) == (
            sent,
            receipt,
            base,
            outcome,
        )
    assert community.network_cohort(cast.network, Q1).count() == 68
    assert community.network_cohort(cast.other_network, Q1).count() == 12


def test_a_higher_threshold_hides_more_and_eleven_is_shown_at_eleven(cast, network):
    cast.network.community_min_cell = 12
    card = community.community_scorecard(cast.network, Q1)
    alpha = card.by_agency[0]
    assert alpha.receipt.text == "fewer than 12"  # 11 confirmed: shown at 11, not at 12
    cast.network.community_min_cell = 11
    assert community.community_scorecard(cast.network, Q1).by_agency[0].receipt.text == "11"


# --- the suppression rule itself -------------------------------------------------------------


def _texts(shown: dict) -> dict:
    return {key: value.text for key, value in shown.items()}


def test_ten_is_fewer_than_eleven_and_eleven_is_shown():
    shown = community.suppress({"a": 10, "b": 11, "c": 0}, [], threshold=11)
    assert _texts(shown) == {"a": "fewer than 11", "b": "11", "c": "fewer than 11"}
    assert shown["a"].value is None and shown["b"].value == 11


def test_a_lone_small_cell_of_a_line_takes_the_smallest_other_with_it():
    # 10 + 20 + 30 = 60: with 20 shown, 60 - 20 - 30 would give the 10 back.
    counts = {"a": 10, "b": 20, "c": 30, "total": 60}
    shown = community.suppress(counts, [("a", "b", "c", "total")], threshold=11)
    assert _texts(shown) == {"a": "fewer than 11", "b": "hidden", "c": "30", "total": "60"}


def test_two_small_cells_protect_each_other_and_complementary_cells_chain():
    counts = {"a": 3, "b": 4, "c": 30, "total": 37}
    assert _texts(community.suppress(counts, [("a", "b", "c", "total")], threshold=11)) == {
        "a": "fewer than 11",
        "b": "fewer than 11",
        "c": "30",
        "total": "37",
    }
    # A 2 x 2 table with its margins: the hidden cell of row 1 hides its row partner, which
    # leaves column 2 with one hidden cell, so its other cell goes too, and so on.
    cells = {"r1c1": 5, "r1c2": 20, "r2c1": 30, "r2c2": 40}
    margins = {"r1": 25, "r2": 70, "c1": 35, "c2": 60, "all": 95}
    lines = [
        ("r1c1", "r1c2", "r1"),
        ("r2c1", "r2c2", "r2"),
        ("r1c1", "r2c1", "c1"),
        ("r1c2", "r2c2", "c2"),
        ("r1", "r2", "all"),
        ("c1", "c2", "all"),
    ]
    shown = community.suppress({**cells, **margins}, lines, threshold=11)
    hidden = {key for key, value in shown.items() if value.hidden}
    assert hidden == {"r1c1", "r1c2", "r2c1", "r2c2"}
    assert all(sum(key in hidden for key in line) != 1 for line in lines)


def test_unlisted_counts_are_hidden_first():
    # sent = confirmed + not confirmed: 2 not confirmed of 30 is hidden by hiding... the
    # confirmed count, as "not confirmed" is not listed anywhere (unlisted keys go first only
    # when the line needs one more: here it is the small one itself).
    counts = {("receipt", 1): 28, ("no_receipt", 1): 2, ("sent", 1): 30}
    lines = [(("receipt", 1), ("no_receipt", 1), ("sent", 1))]
    shown = community.suppress(counts, lines, threshold=11, unlisted={"no_receipt"})
    assert _texts(shown) == {
        ("receipt", 1): "hidden",
        ("no_receipt", 1): "fewer than 11",
        ("sent", 1): "30",
    }
    counts = {("receipt", 1): 2, ("no_receipt", 1): 28, ("sent", 1): 30}
    shown = community.suppress(counts, lines, threshold=11, unlisted={"no_receipt"})
    assert _texts(shown) == {
        ("receipt", 1): "fewer than 11",
        ("no_receipt", 1): "hidden",
        ("sent", 1): "30",
    }


@given(
    st.lists(st.lists(st.integers(0, 40), min_size=1, max_size=5), min_size=1, max_size=5),
    st.integers(5, 15),
)
def test_no_line_ever_holds_exactly_one_hidden_count(rows, threshold):
    """Any table with row and column totals: every small count hidden, shown counts true, and
    no row or column left with one hidden count for subtraction to find."""
    width = max(len(row) for row in rows)
    grid = [row + [0] * (width - len(row)) for row in rows]
    counts = {("cell", r, c): v for r, row in enumerate(grid) for c, v in enumerate(row)}
    counts |= {("row", r): sum(row) for r, row in enumerate(grid)}
    counts |= {("col", c): sum(row[c] for row in grid) for c in range(width)}
    counts[("all",)] = sum(map(sum, grid))
    lines = [[("cell", r, c) for c in range(width)] + [("row", r)] for r in range(len(grid))]
    lines += [[("cell", r, c) for r in range(len(grid))] + [("col", c)] for c in range(width)]
    lines += [[("row", r) for r in range(len(grid))] + [("all",)]]
    lines += [[("col", c) for c in range(width)] + [("all",)]]
    shown = community.suppress(counts, lines, threshold=threshold)
    for key, value in counts.items():
        assert shown[key].value in (None, value)
        if value < threshold:
            assert shown[key].text == f"fewer than {threshold}"
    for line in lines:
        assert sum(shown[key].hidden for key in line) != 1


# --- the period ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-03-31", "end": "2026-01-01"}, "starts after it ends"),
        ({"start": "1999-01-01", "end": "1999-03-31"}, "or later"),
        ({"start": "2026-01-01", "end": "2026-01-31"}, "one whole calendar quarter"),
        ({"start": "2026-01-02", "end": "2026-03-31"}, "one whole calendar quarter"),
        ({"quarter": "2026-Q2"}, "has not ended yet"),
        ({"quarter": "2030-Q1"}, "has not ended yet"),
        ({"quarter": "2026-Q5"}, "YYYY-Qn"),
        ({"quarter": "1999-Q4"}, "or later"),
        ({"quarter": "0000-Q1"}, "or later"),
        ({"quarter": "9999-Q4"}, "has not ended yet"),
        ({"start": "2026-13-01", "end": "2026-03-31"}, "YYYY-MM-DD"),
        ({"start": "2028-01-01", "end": "2028-03-31"}, "in the future"),
    ],
)
def test_only_a_whole_quarter_that_has_ended_can_be_asked_for(cast, clock, params, message):
    with pytest.raises(DomainError, match=message):
        community.period_from(params, clock=cast.agency_a)


def test_the_default_is_the_last_quarter_that_ended(cast, clock):
    assert community.period_from({}, clock=cast.agency_a) == Q1
    assert community.period_from({"quarter": "2026-q1"}, clock=cast.agency_a) == Q1
    assert (
        community.period_from({"start": "2026-01-01", "end": "2026-03-31"}, clock=cast.agency_a)
        == Q1
    )
    assert [community.quarter_label(q) for q in community.quarters_ended(date(2026, 4, 20), 3)] == [
        "2026-Q1",
        "2025-Q4",
        "2025-Q3",
    ]


def test_an_empty_quarter_shows_fewer_than_eleven_and_divides_by_nothing(cast, clock):
    card = community.community_scorecard(cast.network, Q1)
    # "no data" would tell the count is 0: it is one of the counts below 11 like any other.
    assert card.total.sent.text == "fewer than 11" and card.total.receipt_rate.text == "hidden"
    assert [row.name for row in card.by_need] == ["Other needs", "No need recorded"]
    assert card.gaps == [] and card.between.text == "fewer than 11"
    assert all(week.share is None for week in card.capacity)
