"""Partner scorecards: for each partner organization, the referrals we sent it in the period and
what happened to them (read from the timeline, as the closed-loop metrics), how it answers the
one-question reply link, and the referrals it made to us (applied, admitted) with the on-time
rate of the updates it was owed. One grouped aggregation for our referrals, the stays app's
for theirs."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, DurationField, F, Q
from django.utils import timezone

from referloop.core.timeutils import local_midnight_utc
from referloop.directory.models import Organization
from referloop.partners.selectors import cadence_compliance
from referloop.referrals.models import ReplyLink
from referloop.reports.metrics import (
    DEFINITIONS,
    NOT_CANCELLED,
    OUTBOUND,
    Median,
    Metrics,
    MetricsQuery,
    cohort,
)
from referloop.stays.selectors import source_metrics, source_referrals_by_month

SORTS = {
    "name": "Partner",
    "sent": "Referrals sent",
    "receipt": "Receipt confirmed",
    "outcome": "Known outcome",
    "receipt_days": "Median days to receipt",
    "outcome_days": "Median days to outcome",
    "replied": "Answers the reply link",
    "received": "Referred to us",
    "admitted": "Admitted",
    "cadence": "Cadence kept",
}


@dataclass
class Scorecard:
    organization_id: int
    name: str
    sent: int = 0
    receipt: int = 0
    outcome_base: int = 0
    outcome: int = 0
    completed: int = 0
    not_accepted: int = 0
    failed: int = 0
    receipt_days: float | None = None
    outcome_days: float | None = None
    linked: int = 0  # sent with a reply link
    replied: int = 0  # ... that the partner answered
    received: int = 0  # referrals the partner made to us
    applied: int = 0
    admitted: int = 0
    updates_due: int = 0
    updates_on_time: int = 0
    cadence: float | None = None  # % of the period within the contact cadence (worked partners)

    receipt_rate = property(lambda self: Metrics._rate(self.receipt, self.sent))
    outcome_rate = property(lambda self: Metrics._rate(self.outcome, self.outcome_base))
    reply_rate = property(lambda self: Metrics._rate(self.replied, self.linked))
    conversion_rate = property(lambda self: Metrics._rate(self.admitted, self.received))
    on_time_rate = property(lambda self: Metrics._rate(self.updates_on_time, self.updates_due))


def _sort_key(sort: str):
    def key(card: Scorecard):
        if sort == "name":
            return (0, card.name.lower())
        value = {
            "sent": card.sent,
            "receipt": card.receipt_rate,
            "outcome": card.outcome_rate,
            "receipt_days": card.receipt_days,
            "outcome_days": card.outcome_days,
            "replied": card.reply_rate,
            "received": card.received,
            "admitted": card.admitted,
            "cadence": card.cadence,
        }[sort]
        # Highest first (fastest first for days); no data last.
        if value is None:
            return (1, 0)
        return (0, value if sort in ("receipt_days", "outcome_days") else -value)

    return key


def _days(span: timedelta | None) -> float | None:
    return None if span is None else round(span.total_seconds() / 86400, 1)


def partner_scorecards(query: MetricsQuery, *, sort: str = "sent") -> list[Scorecard]:
    """One card per partner we sent referrals to in the period or that referred someone to us
    in it (the query's partner, service and owner filters apply to our referrals)."""
    outbound = MetricsQuery(**{**query.__dict__, "direction": OUTBOUND})
    referrals = cohort(outbound)
    rows = (
        referrals.values("organization_id", "organization__name")
        .annotate(
            sent=Count("pk"),
            receipt=Count("pk", filter=DEFINITIONS["receipt"].behind),
            outcome_base=Count("pk", filter=NOT_CANCELLED),
            outcome=Count("pk", filter=DEFINITIONS["outcome"].behind),
            not_accepted=Count("pk", filter=Q(rejected_ev__isnull=False)),
            failed=Count("pk", filter=Q(bounced_ev__isnull=False, rejected_ev__isnull=True)),
            to_receipt=Median(F("receipt_ev") - F("sent_ev"), output_field=DurationField()),
            to_outcome=Median(F("outcome_ev") - F("sent_ev"), output_field=DurationField()),
        )
        .order_by()
    )
    links = {
        row["referral__organization_id"]: row
        for row in ReplyLink.objects.filter(referral__in=referrals.values("pk"))
        .values("referral__organization_id")
        .annotate(
            linked=Count("referral", distinct=True),
            replied=Count("referral", filter=Q(answer_count__gt=0), distinct=True),
        )
        .order_by()
    }
    cards: dict[int, Scorecard] = {}
    for row in rows:
        cards[row["organization_id"]] = Scorecard(
            organization_id=row["organization_id"],
            name=row["organization__name"],
            sent=row["sent"],
            receipt=row["receipt"],
            outcome_base=row["outcome_base"],
            outcome=row["outcome"],
            not_accepted=row["not_accepted"],
            failed=row["failed"],
            completed=row["outcome"] - row["not_accepted"] - row["failed"],
            receipt_days=_days(row["to_receipt"]),
            outcome_days=_days(row["to_outcome"]),
            linked=links.get(row["organization_id"], {}).get("linked", 0),
            replied=links.get(row["organization_id"], {}).get("replied", 0),
        )
    agency, period = query.agency, query.period
    names = []  # worked partners with no referral either way: named in one more query
    for source in source_metrics(
        agency=agency,
        since=local_midnight_utc(agency, period.start),
        until=local_midnight_utc(agency, period.end + timedelta(days=1)),
    ):
        card = cards.setdefault(
            source.organization_id, Scorecard(source.organization_id, source.name)
        )
        card.received, card.applied, card.admitted = (
            source.referred,
            source.applied,
            source.admitted,
        )
        card.updates_due, card.updates_on_time = source.updates_due, source.updates_on_time
    until = min(local_midnight_utc(agency, period.end + timedelta(days=1)), timezone.now())
    for organization_id, share in cadence_compliance(
        agency=agency, since=local_midnight_utc(agency, period.start), until=until
    ).items():
        if organization_id not in cards:
            names.append(organization_id)
            cards[organization_id] = Scorecard(organization_id, "")
        cards[organization_id].cadence = share
    for pk, name in Organization.objects.filter(pk__in=names).values_list("pk", "name"):
        cards[pk].name = name
    if query.partner_id:
        cards = {pk: card for pk, card in cards.items() if pk == query.partner_id}
    return sorted(cards.values(), key=_sort_key(sort if sort in SORTS else "sent"))


@dataclass
class FunnelStage:
    label: str
    count: int
    share: float | None  # % of the people referred to us


def inbound_funnel(cards: list[Scorecard]) -> list[FunnelStage]:
    """Inbound conversion over every partner's card: the people referred to us, how many of
    them applied, how many were admitted. Each stage's share is of the people referred."""
    referred = sum(card.received for card in cards)
    return [
        FunnelStage(label, count, Metrics._rate(count, referred))
        for label, count in (
            ("Referred to us", referred),
            ("Applied", sum(card.applied for card in cards)),
            ("Admitted", sum(card.admitted for card in cards)),
        )
    ]


TOP_REFERRERS = 5


@dataclass
class ReferrerTrend:
    """The partners that referred the most people to us in the period, by month (by quarter
    for periods longer than 13 months)."""

    buckets: list  # the first day of each month (or quarter)
    quarterly: bool
    rows: list[tuple[str, list[int], int]]  # (partner, referred per bucket, total)


def _buckets(period, quarterly: bool) -> list:
    step = 3 if quarterly else 1
    month = period.start.month - (period.start.month - 1) % step
    day = period.start.replace(month=month, day=1)
    buckets = []
    while day <= period.end:
        buckets.append(day)
        months = day.month - 1 + step
        day = day.replace(year=day.year + months // 12, month=months % 12 + 1)
    return buckets


def top_referrers(query: MetricsQuery, *, limit: int = TOP_REFERRERS) -> ReferrerTrend:
    agency, period = query.agency, query.period
    quarterly = period.days > 400
    buckets = _buckets(period, quarterly)
    counts: dict[tuple[int, str], dict] = {}
    for row in source_referrals_by_month(
        agency=agency,
        since=local_midnight_utc(agency, period.start),
        until=local_midnight_utc(agency, period.end + timedelta(days=1)),
        quarterly=quarterly,
    ):
        key = (row["source_organization_id"], row["source_organization__name"])
        counts.setdefault(key, {})[row["bucket"]] = row["referred"]
    ranked = sorted(counts.items(), key=lambda item: (-sum(item[1].values()), item[0][1].lower()))
    return ReferrerTrend(
        buckets=buckets,
        quarterly=quarterly,
        rows=[
            (name, [by_bucket.get(day, 0) for day in buckets], sum(by_bucket.values()))
            for (_, name), by_bucket in ranked[:limit]
        ],
    )
