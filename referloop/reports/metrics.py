"""The six closed-loop metrics of seed 003, read from the referral timeline (the immutable events),
never from the referral's current status: one SQL aggregation over the period's referrals, each
annotated with when its events first happened.

The cohort is the referrals *sent* in the period (in agency time): by their sending time, which
the referral stores with its "sent" event, in the same transaction and never changes (a referral
is sent once), so an index finds them. The numbers say what happened to them since, up to now.
- receipt confirmed: the partner confirmed receipt (a status past "sent", or a reply);
- known outcome: a final answer is recorded — completed, not accepted or failed (a referral the
  sender cancelled has no outcome to know and leaves the denominator);
- days to first contact attempt, days to outcome: medians, from the sending;
- bounce-back: not accepted or failed, or re-referred as another referral's bounce-back;
- reasons not accepted: the disposition on the "not accepted" status event.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import (
    Aggregate,
    Count,
    DateField,
    DurationField,
    Exists,
    F,
    OuterRef,
    Q,
    Subquery,
)
from django.db.models.functions import TruncWeek

from referloop.core.errors import DomainError
from referloop.core.timeutils import agency_today, agency_zone, local_midnight_utc
from referloop.directory.models import Organization
from referloop.referrals.models import EventKind, Referral, ReferralEvent, Status

OUTBOUND, INBOUND = "outbound", "inbound"
DIRECTIONS = {OUTBOUND: "Sent by us", INBOUND: "Sent to us"}
RECEIPT = (
    Status.RECEIVED,
    Status.ACCEPTED,
    Status.IN_PROGRESS,
    Status.ON_HOLD,
    Status.COMPLETED,
    Status.REJECTED,
    Status.FAILED,
)
OUTCOMES = (Status.COMPLETED, Status.REJECTED, Status.FAILED)
BOUNCED = (Status.REJECTED, Status.FAILED)
LONGEST_PERIOD_DAYS = 3 * 366
EARLIEST = date(2000, 1, 1)
TOP_REASONS = 5


class Median(Aggregate):
    """The median (the mean of the middle two for an even count) of the values that are not
    null: PostgreSQL's percentile_cont, SQLite's `median` aggregate (registered by reports.apps
    on each connection). Give it an expression that is null for the rows to leave out, not a
    `filter` (PostgreSQL then miscounts a grouped query's parameters)."""

    function = "median"
    name = "Median"
    allow_distinct = False

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            function="percentile_cont",
            template="%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)",
            **extra,
        )


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Period":
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


@dataclass(frozen=True)
class MetricsQuery:
    agency: object
    period: Period
    direction: str = OUTBOUND
    partner_id: int | None = None  # a directory organization (inbound: the one the sender runs)
    service_id: int | None = None
    owner_id: int | None = None


def period_clean(*, start: date | None, end: date | None, agency) -> Period:
    """The period asked for, or the last 30 days; reversed or absurd ranges are refused."""
    today = agency_today(agency)
    end = end or today
    if end < EARLIEST:
        raise DomainError(f"End on {EARLIEST:%B %-d, %Y} or later.", field="end")
    start = start or end - timedelta(days=29)
    if start > end:
        raise DomainError("The period starts after it ends: swap the dates.", field="start")
    if start < EARLIEST:
        raise DomainError(f"Start on {EARLIEST:%B %-d, %Y} or later.", field="start")
    if start > today:
        raise DomainError(
            "The period starts in the future: nothing was sent then yet.", field="start"
        )
    if (end - start).days >= LONGEST_PERIOD_DAYS:
        raise DomainError("Ask for at most three years at a time.", field="end")
    return Period(start, end)


# A contact attempt: ours, or the partner's answer "client contacted" (by reply link or staff).
CONTACT = Q(kind=EventKind.CONTACT_ATTEMPT) | Q(
    kind=EventKind.PARTNER_REPLY, data__answer="client_contacted"
)


def _first(condition: Q) -> Subquery:
    """When the referral's first event matching `condition` happened (null: none did)."""
    events = ReferralEvent.objects.filter(condition, referral=OuterRef("pk"))
    # Only the time is read, so ties need no order: the (referral, at) index gives the first.
    return Subquery(events.order_by("at").values("at")[:1])


def cohort(query: MetricsQuery):
    """The referrals sent in the period (in the query's direction and filters), each annotated
    with when it was sent, receipt confirmed, first contact attempted, its outcome recorded."""
    agency, period = query.agency, query.period
    if query.direction == INBOUND:
        referrals = Referral.objects.filter(receiving_agency=agency)
        if query.partner_id:
            referrals = referrals.filter(
                agency_id__in=Organization.objects.filter(pk=query.partner_id).values("agency_id")
            )
    else:
        referrals = Referral.objects.filter(agency=agency)
        if query.partner_id:
            referrals = referrals.filter(organization_id=query.partner_id)
    if query.service_id:
        referrals = referrals.filter(service_id=query.service_id)
    if query.owner_id:
        referrals = referrals.filter(owner_id=query.owner_id)
    starts = local_midnight_utc(agency, period.start)
    ends = local_midnight_utc(agency, period.end + timedelta(days=1))
    return timeline_annotated(referrals).filter(sent_at__gte=starts, sent_at__lt=ends)


def timeline_annotated(referrals):
    """`referrals`, each annotated with when its events first happened (the cohort's columns,
    which DEFINITIONS read): the community scorecard annotates a network's referrals with it."""
    status = Q(kind=EventKind.STATUS) | Q(kind=EventKind.PARTNER_REPLY)
    return referrals.annotate(
        sent_ev=F("sent_at"),  # the "sent" event's time, stored with it
        receipt_ev=_first(status & Q(to_status__in=RECEIPT) | Q(kind=EventKind.PARTNER_REPLY)),
        contact_ev=_first(CONTACT),
        outcome_ev=_first(status & Q(to_status__in=OUTCOMES)),
        bounced_ev=_first(status & Q(to_status__in=BOUNCED)),
        rejected_ev=_first(status & Q(to_status=Status.REJECTED)),
        cancelled_ev=_first(status & Q(to_status=Status.CANCELLED)),
        re_referred=Exists(Referral.objects.filter(bounce_back_of=OuterRef("pk"))),
    )


# What each number counts, as the page and the docs say it; `behind` picks its referrals.
@dataclass(frozen=True)
class Definition:
    key: str
    label: str
    numerator: str
    denominator: str
    behind: Q | None = None  # the referrals a number links to (None: the whole cohort)


NOT_CANCELLED = Q(cancelled_ev__isnull=True) | Q(outcome_ev__isnull=False)
DEFINITIONS = {
    "receipt": Definition(
        "receipt",
        "Receipt confirmed",
        "sent referrals the partner confirmed receiving (a status past “sent”, or a reply)",
        "referrals sent in the period",
        Q(receipt_ev__isnull=False),
    ),
    "outcome": Definition(
        "outcome",
        "Known outcome",
        "referrals with a final answer recorded: completed, not accepted or failed",
        "referrals sent in the period, less those we cancelled before an outcome",
        Q(outcome_ev__isnull=False),
    ),
    "contact_days": Definition(
        "contact_days",
        "Median days to first contact attempt",
        "days from sending to the first attempt to contact the client, middle value",
        "sent referrals with a contact attempt recorded",
        Q(contact_ev__isnull=False),
    ),
    "outcome_days": Definition(
        "outcome_days",
        "Median days to outcome",
        "days from sending to the outcome, middle value",
        "sent referrals with a known outcome",
        Q(outcome_ev__isnull=False),
    ),
    "bounce_back": Definition(
        "bounce_back",
        "Bounce-back rate",
        "sent referrals not accepted or failed, or re-referred as a bounce-back",
        "referrals sent in the period",
        Q(bounced_ev__isnull=False) | Q(re_referred=True),
    ),
    "not_accepted": Definition(
        "not_accepted",
        "Top reasons for “not accepted”",
        "referrals not accepted, by the reason recorded with the answer",
        "referrals sent in the period that were not accepted",
        Q(rejected_ev__isnull=False),
    ),
}


@dataclass
class Reason:
    label: str
    count: int


@dataclass
class Metrics:
    query: MetricsQuery
    sent: int
    receipt: int
    outcome_base: int
    outcome: int
    contact_days: float | None
    contacted: int
    outcome_days: float | None
    bounced: int
    reasons: list[Reason] = field(default_factory=list)

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @property
    def receipt_rate(self):
        return self._rate(self.receipt, self.sent)

    @property
    def outcome_rate(self):
        return self._rate(self.outcome, self.outcome_base)

    @property
    def bounce_rate(self):
        return self._rate(self.bounced, self.sent)

    @property
    def not_accepted(self) -> int:
        return sum(reason.count for reason in self.reasons)


def _days(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 86400, 1)


def closed_loop_metrics(query: MetricsQuery) -> Metrics:
    """The six numbers for the query: one aggregate query, one for the reasons."""
    referrals = cohort(query)
    since_sent = {"output_field": DurationField()}
    totals = referrals.aggregate(
        sent=Count("pk"),
        receipt=Count("pk", filter=DEFINITIONS["receipt"].behind),
        outcome_base=Count("pk", filter=NOT_CANCELLED),
        outcome=Count("pk", filter=DEFINITIONS["outcome"].behind),
        contacted=Count("pk", filter=DEFINITIONS["contact_days"].behind),
        contact=Median(F("contact_ev") - F("sent_ev"), **since_sent),
        to_outcome=Median(F("outcome_ev") - F("sent_ev"), **since_sent),
        bounced=Count("pk", filter=DEFINITIONS["bounce_back"].behind),
    )
    reasons = (
        ReferralEvent.objects.filter(
            referral__in=referrals.values("pk"), kind=EventKind.STATUS, to_status=Status.REJECTED
        )
        .values("disposition__label")
        .annotate(count=Count("referral", distinct=True))
        .order_by("-count", "disposition__label")[:TOP_REASONS]
    )
    return Metrics(
        query=query,
        sent=totals["sent"],
        receipt=totals["receipt"],
        outcome_base=totals["outcome_base"],
        outcome=totals["outcome"],
        contacted=totals["contacted"],
        contact_days=_days(totals["contact"]),
        outcome_days=_days(totals["to_outcome"]),
        bounced=totals["bounced"],
        reasons=[
            Reason(row["disposition__label"] or "No reason recorded", row["count"])
            for row in reasons
        ],
    )


@dataclass(frozen=True)
class Week:
    starts: date  # the Monday
    sent: int
    receipt_rate: float | None
    outcome_rate: float | None


def weekly(query: MetricsQuery) -> list[Week]:
    """Receipt-confirmed and known-outcome rates by week of sending (Monday to Sunday, agency
    time), every week of the period listed, empty ones with no data: one grouped query."""
    zone = agency_zone(query.agency)
    rows = {
        row["week"]: row
        for row in cohort(query)
        .annotate(week=TruncWeek("sent_ev", output_field=DateField(), tzinfo=zone))
        .values("week")
        .annotate(
            sent=Count("pk"),
            receipt=Count("pk", filter=DEFINITIONS["receipt"].behind),
            outcome_base=Count("pk", filter=NOT_CANCELLED),
            outcome=Count("pk", filter=DEFINITIONS["outcome"].behind),
        )
        .order_by("week")
    }
    monday = query.period.start - timedelta(days=query.period.start.weekday())
    weeks = []
    while monday <= query.period.end:
        row = rows.get(monday, {})
        weeks.append(
            Week(
                starts=monday,
                sent=row.get("sent", 0),
                receipt_rate=Metrics._rate(row.get("receipt", 0), row.get("sent", 0)),
                outcome_rate=Metrics._rate(row.get("outcome", 0), row.get("outcome_base", 0)),
            )
        )
        monday += timedelta(days=7)
    return weeks


def referrals_behind(query: MetricsQuery, key: str):
    """The referrals one number counts (its numerator), newest sending first."""
    definition = DEFINITIONS.get(key)
    if definition is None:
        raise DomainError(f"Unknown metric: {key}.", field="metric")
    rows = cohort(query).select_related("organization", "service", "owner")
    if definition.behind is not None:
        rows = rows.filter(definition.behind)
    return rows.order_by("-sent_ev", "-pk")


# --- reading a query, showing the numbers (the page, the sheets, the API, the command line) ---


def _date(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DomainError("Enter the date as YYYY-MM-DD.", field=field) from None


def _int(value: str) -> int | None:
    """An id from a URL; anything else (or beyond the database's integers) is no filter."""
    return int(value) if value.isdigit() and len(value) <= 9 else None


def query_from(params, agency) -> MetricsQuery:
    """The metrics query a page's (or the API's) parameters ask for; DomainError if unusable."""
    period = period_clean(
        start=_date(params.get("start", ""), "start"),
        end=_date(params.get("end", ""), "end"),
        agency=agency,
    )
    direction = params.get("direction", OUTBOUND)
    if direction not in DIRECTIONS:
        raise DomainError("Choose sent by us or sent to us.", field="direction")
    return MetricsQuery(
        agency=agency,
        period=period,
        direction=direction,
        partner_id=_int(params.get("partner", "")),
        service_id=_int(params.get("service", "")),
        owner_id=_int(params.get("owner", "")),
    )


def query_string(query: MetricsQuery) -> str:
    pairs = [("start", query.period.start.isoformat()), ("end", query.period.end.isoformat())]
    pairs.append(("direction", query.direction))
    for name, value in (
        ("partner", query.partner_id),
        ("service", query.service_id),
        ("owner", query.owner_id),
    ):
        if value:
            pairs.append((name, str(value)))
    return "&".join(f"{name}={value}" for name, value in pairs)


def _figure(value, unit: str) -> str:
    if value is None:
        return "no data"
    return f"{value:g}%" if unit == "%" else f"{value:g} days"


def figures(result: Metrics) -> list[dict]:
    """The numbers as the page, the sheets, the API and the command line show them."""
    d = DEFINITIONS
    rows = [
        (d["receipt"], result.receipt_rate, "%", result.receipt, result.sent),
        (d["outcome"], result.outcome_rate, "%", result.outcome, result.outcome_base),
        (d["contact_days"], result.contact_days, "days", result.contacted, result.sent),
        (d["outcome_days"], result.outcome_days, "days", result.outcome, result.sent),
        (d["bounce_back"], result.bounce_rate, "%", result.bounced, result.sent),
    ]
    return [
        {
            "key": definition.key,
            "label": definition.label,
            "value": value,
            "unit": unit,
            "shown": _figure(value, unit),
            "count": count,
            "of": whole,
            "numerator": definition.numerator,
            "denominator": definition.denominator,
        }
        for definition, value, unit, count, whole in rows
    ]


SHEET_HEADERS = ["Metric", "Value", "Unit", "Counted", "Out of", "Counts", "Out of what"]


def sheet_rows(result: Metrics):
    for row in figures(result):
        yield [
            row["label"],
            "" if row["value"] is None else row["value"],
            row["unit"],
            row["count"],
            row["of"],
            row["numerator"],
            row["denominator"],
        ]
    for reason in result.reasons:
        yield [
            f"Not accepted: {reason.label}",
            reason.count,
            "referrals",
            reason.count,
            result.not_accepted,
            DEFINITIONS["not_accepted"].numerator,
            DEFINITIONS["not_accepted"].denominator,
        ]


def metrics_document(query: MetricsQuery, result: Metrics) -> dict:
    return {
        "start": query.period.start,
        "end": query.period.end,
        "direction": query.direction,
        "sent": result.sent,
        "metrics": figures(result),
        "not_accepted_reasons": [{"label": r.label, "count": r.count} for r in result.reasons],
    }
