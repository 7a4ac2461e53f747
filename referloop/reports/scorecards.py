"""Partner scorecards: for each partner organization, the referrals we sent it in the period and
what happened to them (read from the timeline, as the closed-loop metrics), how it answers the
one-question reply link, and the referrals it made to us (applied, admitted) with the on-time
rate of the updates it was owed. One grouped aggregation for our referrals, the stays app's
for theirs."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, DurationField, F, Q

from referloop.core.timeutils import local_midnight_utc
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
from referloop.stays.selectors import source_metrics

SORTS = {
    "name": "Partner",
    "sent": "Referrals sent",
    "receipt": "Receipt confirmed",
    "outcome": "Known outcome",
    "outcome_days": "Median days to outcome",
    "replied": "Answers the reply link",
    "received": "Referred to us",
    "admitted": "Admitted",
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
    outcome_days: float | None = None
    linked: int = 0  # sent with a reply link
    replied: int = 0  # ... that the partner answered
    received: int = 0  # referrals the partner made to us
    applied: int = 0
    admitted: int = 0
    updates_due: int = 0
    updates_on_time: int = 0

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
            "outcome_days": card.outcome_days,
            "replied": card.reply_rate,
            "received": card.received,
            "admitted": card.admitted,
        }[sort]
        # Highest first (fastest first for days); no data last.
        if value is None:
            return (1, 0)
        return (0, value if sort == "outcome_days" else -value)

    return key


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
            to_outcome=Median(
                F("outcome_ev") - F("sent_ev"),
                output_field=DurationField(),
            ),
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
        days = row["to_outcome"]
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
            outcome_days=None if days is None else round(days.total_seconds() / 86400, 1),
            linked=links.get(row["organization_id"], {}).get("linked", 0),
            replied=links.get(row["organization_id"], {}).get("replied", 0),
        )
    agency, period = query.agency, query.period
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
    if query.partner_id:
        cards = {pk: card for pk, card in cards.items() if pk == query.partner_id}
    return sorted(cards.values(), key=_sort_key(sort if sort in SORTS else "sent"))
