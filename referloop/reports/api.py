"""The reports API: the six closed-loop numbers for a period and filters, with what each one
counts (the same definitions as the page), the partner scorecards and the weekly review."""

from datetime import date
from typing import Literal

from ninja import Query, Router, Schema
from pydantic import Field

from referloop.core.access import api_require
from referloop.core.audit import audit_record
from referloop.core.permissions import Perm
from referloop.core.schemas import API_READ, DomainErrorOut, Id
from referloop.reports import community, metrics, review, scorecards

router = Router(tags=["reports"])


class MetricsFilter(Schema):
    start: date | None = Field(None, description="First day (agency time); default: 30 days ago")
    end: date | None = Field(None, description="Last day, inclusive; default: today")
    direction: str = Field(metrics.OUTBOUND, description="outbound (sent by us) or inbound")
    partner: Id | None = Field(None, description="A directory organization id")
    service: Id | None = Field(None, description="A directory service id")
    owner: Id | None = Field(None, description="A user id")


class FigureOut(Schema):
    key: str
    label: str
    value: float | None = Field(description="null: no data in the period")
    unit: str
    count: int
    of: int
    numerator: str
    denominator: str


class ReasonOut(Schema):
    label: str
    count: int


class MetricsOut(Schema):
    start: date
    end: date
    direction: str
    sent: int
    metrics: list[FigureOut]
    not_accepted_reasons: list[ReasonOut]


@router.get(
    "/metrics",
    response={200: MetricsOut, 400: DomainErrorOut, **API_READ},
    summary="The six closed-loop metrics for a period",
)
def metrics_read(request, filters: Query[MetricsFilter]):
    api_require(request, Perm.VIEW)
    query = _query(request, filters)
    result = metrics.closed_loop_metrics(query)
    audit_record(action="view", request=request, object_type="reports.metrics")
    return metrics.metrics_document(query, result)


def _query(request, filters: Schema) -> metrics.MetricsQuery:
    """The metrics query of the API's filters, read as the pages read theirs."""
    params = {
        name: (value.isoformat() if isinstance(value, date) else str(value))
        for name, value in filters.dict().items()
        if value is not None
    }
    return metrics.query_from(params, request.agency)


class ScorecardFilter(Schema):
    start: date | None = Field(None, description="First day (agency time); default: 30 days ago")
    end: date | None = Field(None, description="Last day, inclusive; default: today")
    partner: Id | None = Field(None, description="Only this directory organization")
    service: Id | None = Field(None, description="Our referrals to this service only")
    owner: Id | None = Field(None, description="Our referrals owned by this user only")
    sort: Literal[tuple(scorecards.SORTS)] = Field("sent", description="The order of the cards")


class ScorecardOut(Schema):
    organization_id: int
    name: str
    sent: int = Field(description="Referrals we sent the partner in the period")
    receipt_rate: float | None = Field(description="% of them it confirmed receiving")
    outcome_rate: float | None = Field(description="% with a known outcome (less cancelled)")
    completed: int
    not_accepted: int
    failed: int
    receipt_days: float | None = Field(description="Median days from sending to receipt")
    outcome_days: float | None = Field(description="Median days from sending to outcome")
    reply_rate: float | None = Field(description="% of reply links it answered")
    received: int = Field(description="People the partner referred to us in the period")
    applied: int
    admitted: int
    conversion_rate: float | None = Field(description="% of those referred who were admitted")
    updates_due: int = Field(description="Status updates we owed the partner, due in the period")
    on_time_rate: float | None = Field(description="% of those sent on time")
    cadence: float | None = Field(
        description="% of the period within the contact cadence (worked relationships only)"
    )


class ReferrerOut(Schema):
    name: str
    counts: list[int] = Field(description="Referred to us, per bucket")
    total: int


class ScorecardsOut(Schema):
    start: date
    end: date
    cards: list[ScorecardOut]
    referrer_buckets: list[date] = Field(description="First day of each month (or quarter)")
    top_referrers: list[ReferrerOut]


@router.get(
    "/scorecards",
    response={200: ScorecardsOut, 400: DomainErrorOut, **API_READ},
    summary="Partner scorecards and top referrers over time for a period",
)
def scorecards_read(request, filters: Query[ScorecardFilter]):
    api_require(request, Perm.VIEW)
    query = _query(request, filters)
    trend = scorecards.top_referrers(query)
    audit_record(action="view", request=request, object_type="reports.scorecards")
    return {
        "start": query.period.start,
        "end": query.period.end,
        "cards": scorecards.partner_scorecards(query, sort=filters.sort),
        "referrer_buckets": trend.buckets,
        "top_referrers": [
            {"name": name, "counts": counts, "total": total} for name, counts, total in trend.rows
        ],
    }


class ReviewLineOut(Schema):
    subject: str
    detail: str
    action_label: str
    action_url: str


class ReviewSectionOut(Schema):
    key: str
    title: str
    explanation: str
    count: int
    lines: list[ReviewLineOut] = Field(description=f"The first {review.LINES_SHOWN}")


class ReviewReasonOut(Schema):
    label: str
    this_week: int
    last_week: int


class ReviewFilter(Schema):
    week: date | None = Field(None, description="Any day of the week; default: last week")


class WeeklyReviewOut(Schema):
    week_start: date
    week_end: date
    sections: list[ReviewSectionOut]
    not_accepted_reasons: list[ReviewReasonOut]


@router.get(
    "/weekly-review",
    response={200: WeeklyReviewOut, 400: DomainErrorOut, **API_READ},
    summary="The weekly review: what opened, closed and is stuck, with each line's action",
)
def weekly_review_read(request, filters: Query[ReviewFilter]):
    api_require(request, Perm.VIEW)
    week = filters.week.isoformat() if filters.week else ""
    period = review.week_clean(week, request.agency)
    result = review.weekly_review(request.agency, period)
    audit_record(
        action="view",
        request=request,
        object_type="reports.weekly_review",
        detail={"week": period.start.isoformat()},
    )
    return {
        "week_start": period.start,
        "week_end": period.end,
        "sections": result.sections,
        "not_accepted_reasons": result.reasons,
    }


# --- the community scorecard (suppressed network figures) -----------------------------------


class CommunityFilter(Schema):
    quarter: str | None = Field(
        None,
        pattern=r"^[0-9]{4}-[Qq][1-4]$",
        description="A calendar quarter that has ended, e.g. 2026-Q1; default: the last one",
    )
    start: date | None = Field(None, description="Or: the quarter's first day")
    end: date | None = Field(None, description="... and its last day")


class SuppressedCountOut(Schema):
    value: int | None = Field(
        description="null: suppressed (below the threshold, or to protect one)"
    )
    shown: str = Field(description="What the page shows: the number, 'fewer than 11' or 'hidden'")


class SuppressedRateOut(Schema):
    value: float | None = Field(description="A percentage; null when a count it rests on is hidden")
    shown: str


class CommunityPairOut(Schema):
    sender_id: int
    sender: str
    receiver_id: int
    receiver: str
    referrals: SuppressedCountOut


class CommunityBetweenOut(Schema):
    total: SuppressedCountOut
    pairs: list[CommunityPairOut]


class CommunityClosedLoopOut(Schema):
    sent: SuppressedCountOut
    receipt: SuppressedCountOut
    receipt_rate: SuppressedRateOut
    outcome_base: SuppressedCountOut
    outcome: SuppressedCountOut
    outcome_rate: SuppressedRateOut


class CommunityAgencyOut(CommunityClosedLoopOut):
    agency_id: int
    agency: str


class CommunityNeedOut(CommunityClosedLoopOut):
    need_id: int | None = Field(description="A taxonomy term id; null: no need recorded")
    need: str
    no_capacity: SuppressedCountOut
    no_capacity_rate: SuppressedRateOut
    services_tracked: int = Field(description="Services of the need with capacity figures")
    services_full: int = Field(description="... with no place free at the quarter's end")


class CommunityWeekOut(Schema):
    week: date
    services_tracked: int
    services_open: int
    share: float | None


class CommunityOut(Schema):
    network: str
    quarter: str
    start: date
    end: date
    threshold: int = Field(description="No count below this is given")
    published: bool
    between: CommunityBetweenOut
    agencies: list[CommunityAgencyOut]
    network_total: CommunityClosedLoopOut
    needs: list[CommunityNeedOut]
    capacity: list[CommunityWeekOut]


@router.get(
    "/community",
    response={200: CommunityOut, 400: DomainErrorOut, **API_READ},
    summary="The network's community scorecard for a quarter, small counts suppressed",
)
def community_read(request, filters: Query[CommunityFilter]):
    api_require(request, Perm.VIEW)
    params = {
        name: (value.isoformat() if isinstance(value, date) else str(value))
        for name, value in filters.dict().items()
        if value is not None
    }
    period = community.period_from(params, clock=request.agency)
    card = community.community_scorecard(request.agency.network, period, clock=request.agency)
    audit_record(action="view", request=request, object_type="reports.community")
    return community.community_document(card)
