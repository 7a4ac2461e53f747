"""The metrics API: the six closed-loop numbers for a period and filters, with what each one
counts (the same definitions as the page)."""

from datetime import date

from ninja import Query, Router, Schema
from pydantic import Field

from referloop.core.access import api_require
from referloop.core.audit import audit_record
from referloop.core.permissions import Perm
from referloop.core.schemas import API_READ, DomainErrorOut, Id
from referloop.reports import metrics

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
    params = {
        name: (value.isoformat() if isinstance(value, date) else str(value))
        for name, value in filters.dict().items()
        if value is not None
    }
    query = metrics.query_from(params, request.agency)
    result = metrics.closed_loop_metrics(query)
    audit_record(action="view", request=request, object_type="reports.metrics")
    return metrics.metrics_document(query, result)
