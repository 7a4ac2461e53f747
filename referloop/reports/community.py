"""The community scorecard of a network (seed 004, PRODUCT.md §8): the referrals between its
agencies, the closed-loop rates by sending agency and by need, the gaps (needs whose referrals are
most often not accepted for want of capacity, and whose services have no place free), and the
share of services with a place free week by week -- every count about people put through
`suppress`, so that none below the network's threshold can be read or worked out.

The cohort is the closed-loop metrics' (reports.metrics): the referrals the network's agencies
sent in the period (by their "sent" event, each in its own agency's time), with the same
timeline columns and DEFINITIONS. A network total is thus the sum of its agencies' own metrics.

Suppression, in full (README, "Community scorecard"):
- every count below the threshold (default 11, never below 5: `Network.community_min_cell`),
  zero included, is shown as "fewer than 11"; a rate whose numerator, denominator or
  complement (the denominator less the numerator: "not confirmed") is such a count is hidden;
- complementary suppression: the counts of a table are tied by *lines* -- a whole and its parts
  (an agency's referrals = those confirmed + those not; a row of the agency-to-agency table and
  its total; a column of agencies and the network total). A line holding exactly one hidden
  count would give it back by subtraction, so the smallest other count of that line is hidden
  too ("hidden"), until no line holds exactly one. The lines span the tables (the network total
  is one count wherever it is shown), so no count is recovered from another table either;
- only whole calendar quarters that have ended can be asked for: two overlapping periods would
  give a small count back as their difference;
- rows are sorted by the counts shown only (a hidden count sorts last), so an order says
  nothing a hidden count would.
Capacity figures count services, not people (each service's places are public in the directory
already), so they are not suppressed.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, Exists, F, OuterRef, Q, Value, When

from referloop.core.errors import DomainError
from referloop.core.models import Agency
from referloop.core.timeutils import agency_today, agency_zone
from referloop.directory.selectors import capacity_by_term, capacity_shares, network_needs
from referloop.referrals.models import EventKind, Referral, ReferralEvent, Status
from referloop.reports.metrics import (
    DEFINITIONS,
    EARLIEST,
    NOT_CANCELLED,
    Period,
    period_clean,
    timeline_annotated,
)

NO_CAPACITY = "no_capacity"  # the disposition code (seed 003's defaults) of "not accepted: full"
NO_NEED, NO_NEED_KEY = "No need recorded", 0
OTHER_NEEDS, OTHER_KEY = "Other needs", -1
ALL = "all"  # the key of a network total
QUARTERS_LISTED = 12  # the quarters a page offers (three years, the metrics' longest period)


# --- small-cell suppression ----------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """One count as the scorecard may show it: `value` is None when it is suppressed, because it
    is below the threshold (`small`) or to protect one that is (complementary)."""

    value: int | None
    threshold: int
    small: bool = False

    @property
    def hidden(self) -> bool:
        return self.value is None

    @property
    def text(self) -> str:
        if self.value is not None:
            return f"{self.value:,}"
        return f"fewer than {self.threshold}" if self.small else "hidden"

    @property
    def cell(self):
        """What a spreadsheet cell holds: the number, or the words."""
        return self.text if self.value is None else self.value

    def __str__(self):
        return self.text


def suppress(counts: dict, lines, *, threshold: int, unlisted=frozenset()) -> dict:
    """The one suppression rule of the scorecard (page, sheets, public page and API): `counts`
    maps keys to counts, `lines` are groups of keys whose counts are tied (one is the sum of
    the others). Every count below `threshold` is hidden; then, while some line holds exactly
    one hidden count, one more count of that line is hidden: an `unlisted` one if it has any
    (a count no table shows but subtraction would give: hiding it costs nothing), else the
    smallest (the first key on a tie). Returns a Shown for every key."""
    order = {key: index for index, key in enumerate(counts)}
    unlisted = {key for key in counts if key[0] in unlisted}
    lines = [tuple(line) for line in lines if len(line) > 1]
    small = {key for key, value in counts.items() if value < threshold}
    hidden = set(small)
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(key in hidden for key in line) == 1:
                shown = [key for key in line if key not in hidden]
                hidden.add(
                    min(shown, key=lambda key: (key not in unlisted, counts[key], order[key]))
                )
                changed = True
    return {
        key: Shown(None if key in hidden else value, threshold, small=key in small)
        for key, value in counts.items()
    }


@dataclass(frozen=True)
class Rate:
    """A share of two counts, shown only when both are."""

    part: Shown
    whole: Shown

    @property
    def value(self) -> float | None:
        if self.part.hidden or self.whole.hidden or not self.whole.value:
            return None
        return round(100 * self.part.value / self.whole.value, 1)

    @property
    def text(self) -> str:
        if self.value is not None:
            return f"{self.value:g}%"
        return "no data" if self.whole.value == 0 else "hidden"

    @property
    def cell(self):
        return self.text if self.value is None else self.value

    def __str__(self):
        return self.text


def _part_lines(row) -> list[tuple]:
    """The lines of one row of closed-loop counts: the sent = confirmed + not; the base =
    known + not; the sent = the base + cancelled before an outcome."""
    return [
        (("receipt", row), ("no_receipt", row), ("sent", row)),
        (("outcome", row), ("no_outcome", row), ("base", row)),
        (("base", row), ("cancelled", row), ("sent", row)),
    ]


def _parts(totals: dict) -> dict:
    """Closed-loop counts with their complements (hidden cells: derivable, so protected too)."""
    # Parts before wholes: on a tie, the suppression hides a part (one rate) before a whole.
    return {
        "receipt": totals["receipt"],
        "no_receipt": totals["sent"] - totals["receipt"],
        "outcome": totals["outcome"],
        "no_outcome": totals["outcome_base"] - totals["outcome"],
        "cancelled": totals["sent"] - totals["outcome_base"],
        "base": totals["outcome_base"],
        "sent": totals["sent"],
    }


PART_MEASURES = ("sent", "receipt", "no_receipt", "base", "outcome", "no_outcome", "cancelled")
# The counts subtraction gives but no table lists (what was not confirmed, had no outcome, was
# cancelled before one, was not refused for capacity, went outside the network).
UNLISTED = frozenset({"no_receipt", "no_outcome", "cancelled", "no_capacity_not", "elsewhere"})


# --- the period: one whole calendar quarter that has ended ---------------------------------


def quarter_of(day: date) -> Period:
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = day.replace(month=first_month, day=1)
    following = date(start.year + (first_month == 10), (first_month + 2) % 12 + 1, 1)
    return Period(start, following - timedelta(days=1))


def quarter_label(period: Period) -> str:
    return f"{period.start.year}-Q{(period.start.month - 1) // 3 + 1}"


def quarters_ended(today: date, count: int = QUARTERS_LISTED) -> list[Period]:
    """The last `count` quarters that have ended, newest first."""
    quarters, day = [], quarter_of(today).start - timedelta(days=1)
    while len(quarters) < count and day >= EARLIEST:
        quarter = quarter_of(day)
        quarters.append(quarter)
        day = quarter.start - timedelta(days=1)
    return quarters


def _quarter_param(value: str) -> Period:
    year, _, number = value.upper().partition("-Q")
    if not (year.isdigit() and len(year) == 4 and number in ("1", "2", "3", "4")):
        raise DomainError("Choose a quarter as YYYY-Qn, e.g. 2026-Q1.", field="quarter")
    if int(year) < EARLIEST.year:
        raise DomainError(f"Start on {EARLIEST:%B %-d, %Y} or later.", field="quarter")
    if int(year) > 9000:  # far beyond today, and clear of date's last year
        raise DomainError(
            "That quarter has not ended yet: the scorecard shows whole quarters only.",
            field="quarter",
        )
    return quarter_of(date(int(year), 3 * int(number) - 2, 1))


def period_for(*, start: date | None, end: date | None, quarter: str = "", clock) -> Period:
    """The quarter asked for (`quarter` "2026-Q1", or `start` and `end` spanning exactly one),
    or the last one that ended. Reversed or absurd dates are refused as the metrics refuse them;
    a period that is not one whole calendar quarter, or one not over yet, is refused too: the
    difference of two overlapping periods would give back a count the scorecard hides."""
    today = agency_today(clock)
    if quarter:
        period = _quarter_param(quarter)
        if period.start < EARLIEST:
            raise DomainError(f"Start on {EARLIEST:%B %-d, %Y} or later.", field="quarter")
    elif start is None and end is None:
        return quarters_ended(today, 1)[0]
    else:
        period = period_clean(start=start, end=end, agency=clock)
        if period != quarter_of(period.start):
            raise DomainError(
                "The community scorecard covers one whole calendar quarter (e.g. January 1 to "
                "March 31): choose a quarter.",
                field="start",
            )
    if period.end >= today:
        raise DomainError(
            "That quarter has not ended yet: the scorecard shows whole quarters only.",
            field="quarter" if quarter else "end",
        )
    return period


def _date(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DomainError("Enter the date as YYYY-MM-DD.", field=name) from None


def period_from(params, *, clock) -> Period:
    """The period a page's (or the API's) parameters ask for; DomainError if unusable."""
    return period_for(
        start=_date(params.get("start", ""), "start"),
        end=_date(params.get("end", ""), "end"),
        quarter=params.get("quarter", "")[:20],
        clock=clock,
    )


def network_clock(network, agency=None):
    """Whose calendar says what 'today' is: the viewer's agency, or (on the public page) the
    network's first agency; None for a network without agencies."""
    if agency is not None:
        return agency
    return Agency.objects.filter(network=network).order_by("pk").only("time_zone").first()


# --- the figures ---------------------------------------------------------------------------


@dataclass
class AgencyRow:
    agency_id: int | str
    name: str
    sent: Shown
    receipt: Shown
    base: Shown
    outcome: Shown

    @property
    def receipt_rate(self) -> Rate:
        return Rate(self.receipt, self.sent)

    @property
    def outcome_rate(self) -> Rate:
        return Rate(self.outcome, self.base)


@dataclass
class NeedRow(AgencyRow):
    no_capacity: Shown | None = None
    services_tracked: int = 0  # services with this need and a capacity reading (not people)
    services_full: int = 0  # ... whose latest reading at the quarter's end had no place free

    @property
    def no_capacity_rate(self) -> Rate:
        return Rate(self.no_capacity, self.sent)


@dataclass(frozen=True)
class CapacityWeek:
    starts: date  # the Monday
    at: datetime  # the instant of the snapshot (the week's end, or the quarter's)
    tracked: int
    open: int

    @property
    def share(self) -> float | None:
        return round(100 * self.open / self.tracked, 1) if self.tracked else None


@dataclass
class Scorecard:
    network: object
    period: Period
    threshold: int
    agencies: list  # (id, name), by name
    matrix: dict  # (sender id, receiver id) -> Shown
    received: dict  # receiver id -> Shown (the column totals)
    between: Shown  # every referral between two of the network's agencies
    by_agency: list[AgencyRow]
    total: AgencyRow
    by_need: list[NeedRow]
    gaps: list[NeedRow]
    capacity: list[CapacityWeek] = field(default_factory=list)

    @property
    def matrix_rows(self):
        """The agency-to-agency table as rows: (sender, [Shown or None for itself], sent on)."""
        for sender_id, name in self.agencies:
            cells = [
                None if sender_id == receiver_id else self.matrix[sender_id, receiver_id]
                for receiver_id, _ in self.agencies
            ]
            yield name, cells, self.matrix_sent[sender_id]

    matrix_sent: dict = field(default_factory=dict)  # sender id -> Shown (the row totals)

    @property
    def received_row(self) -> list:
        return [self.received[pk] for pk, _ in self.agencies]


def network_cohort(network, period: Period, agencies=None):
    """The referrals the network's agencies sent in the period, with the metrics' columns and
    whether one was not accepted for want of capacity."""
    agencies = list(agencies if agencies is not None else Agency.objects.filter(network=network))
    if not agencies:
        return Referral.objects.none()
    window = Q(pk__in=[])
    zones = defaultdict(list)
    for agency in agencies:
        zones[str(agency_zone(agency))].append(agency.pk)
    for zone_name, ids in zones.items():
        zone = ZoneInfo(zone_name)
        starts = datetime.combine(period.start, time.min, tzinfo=zone).astimezone(UTC)
        ends = datetime.combine(period.end + timedelta(days=1), time.min, tzinfo=zone).astimezone(
            UTC
        )
        window |= Q(
            agency_id__in=ids,
            sent_at__gte=starts,
            sent_at__lt=ends,
            sent_ev__gte=starts,
            sent_ev__lt=ends,
        )
    no_capacity = ReferralEvent.objects.filter(
        referral=OuterRef("pk"),
        kind=EventKind.STATUS,
        to_status=Status.REJECTED,
        disposition__code=NO_CAPACITY,
    )
    return (
        timeline_annotated(Referral.objects.filter(agency_id__in=[a.pk for a in agencies]))
        .filter(window)
        .annotate(no_capacity=Exists(no_capacity))
    )


# What each closed-loop count counts (the metrics' definitions), as conditions on the cohort.
COUNTED = {
    "sent": None,
    "receipt": DEFINITIONS["receipt"].behind,
    "outcome_base": NOT_CANCELLED,
    "outcome": DEFINITIONS["outcome"].behind,
    "no_capacity": Q(no_capacity=True),
}
CLOSED_LOOP = {name: Count("pk", filter=condition) for name, condition in COUNTED.items()}
# The same, each referral once however many rows a join gives it (as a CASE: SQLite refuses a
# FILTER clause beside DISTINCT).
CLOSED_LOOP_DISTINCT = {
    name: Count(
        F("pk") if condition is None else Case(When(condition, then=F("pk"))), distinct=True
    )
    for name, condition in COUNTED.items()
}


def to_network(ids) -> Q:
    """Sent to another of the network's agencies (by its inbox, not only its listing)."""
    return Q(receiving_agency_id__in=ids) & ~Q(receiving_agency_id=F("agency_id"))


def _weeks(period: Period, zone) -> list[tuple[date, datetime]]:
    """Each week (Monday) the period touches, with the instant its snapshot is taken: the end
    of the week or of the period, whichever comes first."""
    weeks, monday = [], period.start - timedelta(days=period.start.weekday())
    while monday <= period.end:
        last = min(monday + timedelta(days=6), period.end)
        at = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
        weeks.append((monday, at - timedelta(microseconds=1)))
        monday += timedelta(days=7)
    return weeks


def community_scorecard(network, period: Period, *, clock=None) -> Scorecard:
    """Every figure of the scorecard, suppressed: five grouped queries and one for the
    agencies, whatever the size of the network."""
    threshold = network.community_min_cell
    agencies = list(Agency.objects.filter(network=network).order_by("name", "pk"))
    ids = [agency.pk for agency in agencies]
    cohort = network_cohort(network, period, agencies)

    by_sender = {
        row["agency_id"]: row
        for row in cohort.values("agency_id")
        .annotate(**CLOSED_LOOP, to_network=Count("pk", filter=to_network(ids)))
        .order_by()
    }
    pairs = {
        (row["agency_id"], row["receiving_agency_id"]): row["count"]
        for row in cohort.filter(to_network(ids))
        .values("agency_id", "receiving_agency_id")
        .annotate(count=Count("pk"))
        .order_by()
    }
    empty = dict.fromkeys(CLOSED_LOOP, 0)
    # By need: every need the network's services meet, then "other needs" and "no need
    # recorded" -- always the same rows, so that a row never tells that someone had a need.
    needs = network_needs(network=network)
    listed = [pk for pk, _ in needs]
    grouped = {
        row["need"]: row
        for row in cohort.annotate(
            need=Case(
                When(needs__id__in=listed, then=F("needs__id")),
                When(needs__id__isnull=True, then=Value(NO_NEED_KEY)),
                default=Value(OTHER_KEY),
            )
        )
        .values("need")
        .annotate(**CLOSED_LOOP_DISTINCT)
        .order_by()
    }
    by_need = [
        {"needs__id": pk, "needs__name": name, **grouped.get(pk, empty)}
        for pk, name in [*needs, (OTHER_KEY, OTHER_NEEDS), (NO_NEED_KEY, NO_NEED)]
    ]

    # The counts, with every line that ties them.
    counts, lines = {}, []
    senders = {pk: by_sender.get(pk, {**empty, "to_network": 0}) for pk in ids}
    network_totals = {
        name: sum(row[name] for row in senders.values()) for name in [*CLOSED_LOOP, "to_network"]
    }
    rows = {**{pk: row for pk, row in senders.items()}, ALL: network_totals}
    for key, row in rows.items():
        for measure, value in _parts(row).items():
            counts[measure, key] = value
        counts["no_capacity", key] = row["no_capacity"]
        counts["no_capacity_not", key] = row["sent"] - row["no_capacity"]
        lines += _part_lines(key)
        lines.append((("no_capacity", key), ("no_capacity_not", key), ("sent", key)))
        # What went to the network's agencies and what went elsewhere, of what it sent.
        counts["to_network", key] = row["to_network"]
        counts["elsewhere", key] = row["sent"] - row["to_network"]
        lines.append((("to_network", key), ("elsewhere", key), ("sent", key)))
    for measure in [*PART_MEASURES, "no_capacity", "no_capacity_not", "to_network", "elsewhere"]:
        lines.append([(measure, pk) for pk in ids] + [(measure, ALL)])
    # The agency-to-agency table: each row sums to what the sender sent to the network, each
    # column to what the receiver got from it, and both sets of totals to the whole.
    for sender in ids:
        for receiver in ids:
            if sender != receiver:
                counts["pair", sender, receiver] = pairs.get((sender, receiver), 0)
        counts["received", sender] = sum(
            pairs.get((other, sender), 0) for other in ids if other != sender
        )
    for agency_id in ids:
        others = [pk for pk in ids if pk != agency_id]
        lines.append([("pair", agency_id, r) for r in others] + [("to_network", agency_id)])
        lines.append([("pair", s, agency_id) for s in others] + [("received", agency_id)])
    lines.append([("received", pk) for pk in ids] + [("to_network", ALL)])
    # By need: the needs' rows are tied to the network's total as if each referral had one need
    # (with several the rows overlap and this only hides more than it must).
    need_keys = []
    for row in by_need:
        key = ("need", row["needs__id"])
        need_keys.append(key)
        for measure, value in _parts(row).items():
            counts[measure, key] = value
        counts["no_capacity", key] = row["no_capacity"]
        counts["no_capacity_not", key] = row["sent"] - row["no_capacity"]
        lines += _part_lines(key)
        lines.append((("no_capacity", key), ("no_capacity_not", key), ("sent", key)))
    if need_keys:
        for measure in [*PART_MEASURES, "no_capacity", "no_capacity_not"]:
            lines.append([(measure, key) for key in need_keys] + [(measure, ALL)])

    shown = suppress(counts, lines, threshold=threshold, unlisted=UNLISTED)

    def agency_row(key, name, cls=AgencyRow, **extra):
        return cls(
            key,
            name,
            sent=shown["sent", key],
            receipt=shown["receipt", key],
            base=shown["base", key],
            outcome=shown["outcome", key],
            **extra,
        )

    names = {agency.pk: agency.name for agency in agencies}
    need_rows = [
        agency_row(
            ("need", row["needs__id"]),
            row["needs__name"],
            NeedRow,
            no_capacity=shown["no_capacity", ("need", row["needs__id"])],
        )
        for row in by_need
    ]
    zone = agency_zone(clock or (agencies[0] if agencies else None))
    weeks = _weeks(period, zone)
    shares = capacity_shares(network=network, instants=[at for _, at in weeks])
    term_ids = listed
    full = capacity_by_term(network=network, term_ids=term_ids, at=weeks[-1][1]) if weeks else {}
    for need in need_rows:
        need.services_tracked, need.services_full = full.get(need.agency_id[1], (0, 0))
    return Scorecard(
        network=network,
        period=period,
        threshold=threshold,
        agencies=[(agency.pk, agency.name) for agency in agencies],
        matrix={key[1:]: value for key, value in shown.items() if key[0] == "pair"},
        matrix_sent={pk: shown["to_network", pk] for pk in ids},
        received={pk: shown["received", pk] for pk in ids},
        between=shown["to_network", ALL],
        by_agency=sorted(
            (agency_row(pk, names[pk]) for pk in ids),
            key=lambda row: _shown_first(row.sent, row.name),
        ),
        total=agency_row(ALL, "The network"),
        by_need=[
            *sorted(
                (row for row in need_rows if row.agency_id[1] in listed),
                key=lambda row: _shown_first(row.sent, row.name),
            ),
            *(row for row in need_rows if row.agency_id[1] not in listed),
        ],
        gaps=sorted(
            (row for row in need_rows if row.agency_id[1] in listed),
            key=lambda row: (*_shown_first(row.no_capacity, "")[:2], -row.services_full, row.name),
        ),
        capacity=[
            CapacityWeek(monday, at, tracked, open_)
            for (monday, at), (tracked, open_) in zip(weeks, shares, strict=True)
        ],
    )


def _shown_first(count: Shown, name: str) -> tuple:
    """Largest shown count first; hidden ones after them, by name (their order says nothing)."""
    return (1, 0, name.lower()) if count.hidden else (0, -count.value, name.lower())


# --- showing the figures: the tables (page, sheets, public page) and the API's document ---

TABLES = {
    "between": "Referrals between agencies",
    "agencies": "Closed loop by agency",
    "needs": "Closed loop by need",
    "gaps": "Gaps",
    "capacity": "Capacity over time",
}


def table_rows(card: Scorecard, table: str) -> tuple[list[str], list[list]]:
    """One table of the scorecard as (headers, rows) of spreadsheet cells: suppressed counts
    read "fewer than 11" or "hidden", as on the page."""
    if table == "between":
        names = [name for _, name in card.agencies]
        rows = [
            [sender, *("" if cell is None else cell.cell for cell in cells), sent.cell]
            for sender, cells, sent in card.matrix_rows
        ]
        rows.append(
            [
                "Received from the network",
                *(shown.cell for shown in card.received_row),
                card.between.cell,
            ]
        )
        return ["Sender \\ receiver", *names, "Sent to the network"], rows
    if table in ("agencies", "needs"):
        first = "Agency (sender)" if table == "agencies" else "Need"
        listed = [*card.by_agency, card.total] if table == "agencies" else card.by_need
        return [
            first,
            "Referrals sent",
            "Receipt confirmed",
            "Receipt confirmed %",
            "With an outcome to know",
            "Known outcome",
            "Known outcome %",
        ], [
            [
                row.name,
                row.sent.cell,
                row.receipt.cell,
                row.receipt_rate.cell,
                row.base.cell,
                row.outcome.cell,
                row.outcome_rate.cell,
            ]
            for row in listed
        ]
    if table == "gaps":
        return [
            "Need",
            "Referrals sent",
            "Not accepted: no capacity",
            "Not accepted: no capacity %",
            "Services with capacity figures",
            "Of them with no place free at the quarter's end",
        ], [
            [
                row.name,
                row.sent.cell,
                row.no_capacity.cell,
                row.no_capacity_rate.cell,
                row.services_tracked,
                row.services_full,
            ]
            for row in card.gaps
        ]
    if table == "capacity":
        return ["Week of", "Services with capacity figures", "With a place free", "Share %"], [
            [week.starts, week.tracked, week.open, week.share] for week in card.capacity
        ]
    raise DomainError(f"Unknown table: {table}.", field="table")


def _count(shown: Shown) -> dict:
    return {"value": shown.value, "shown": shown.text}


def _rate(rate: Rate) -> dict:
    return {"value": rate.value, "shown": rate.text}


def _closed_loop(row: AgencyRow) -> dict:
    return {
        "sent": _count(row.sent),
        "receipt": _count(row.receipt),
        "receipt_rate": _rate(row.receipt_rate),
        "outcome_base": _count(row.base),
        "outcome": _count(row.outcome),
        "outcome_rate": _rate(row.outcome_rate),
    }


def community_document(card: Scorecard) -> dict:
    """The scorecard as the API gives it: every count as its value (null when suppressed) and
    the words the page shows for it."""
    names = dict(card.agencies)
    return {
        "network": card.network.name,
        "quarter": quarter_label(card.period),
        "start": card.period.start,
        "end": card.period.end,
        "threshold": card.threshold,
        "published": card.network.community_published_at is not None,
        "between": {
            "total": _count(card.between),
            "pairs": [
                {
                    "sender_id": sender,
                    "sender": names[sender],
                    "receiver_id": receiver,
                    "receiver": names[receiver],
                    "referrals": _count(shown),
                }
                for (sender, receiver), shown in card.matrix.items()
            ],
        },
        "agencies": [
            {"agency_id": row.agency_id, "agency": row.name, **_closed_loop(row)}
            for row in card.by_agency
        ],
        "network_total": _closed_loop(card.total),
        "needs": [
            {
                "need_id": row.agency_id[1] if row.agency_id[1] > 0 else None,
                "need": row.name,
                **_closed_loop(row),
                "no_capacity": _count(row.no_capacity),
                "no_capacity_rate": _rate(row.no_capacity_rate),
                "services_tracked": row.services_tracked,
                "services_full": row.services_full,
            }
            for row in card.by_need
        ],
        "capacity": [
            {
                "week": week.starts,
                "services_tracked": week.tracked,
                "services_open": week.open,
                "share": week.share,
            }
            for week in card.capacity
        ],
    }
