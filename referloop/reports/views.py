"""The metrics page (the six closed-loop numbers for a period, with their definitions, the
previous period beside them, and the referrals behind each), its exports, and the list of the
referrals one number counts."""

from datetime import timedelta

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from referloop.core.access import agency_member_required
from referloop.core.audit import audit_record
from referloop.core.charts import bar_chart, rate_line_chart
from referloop.core.errors import DomainError
from referloop.core.models import Membership
from referloop.core.pdf import pdf_render
from referloop.core.permissions import Perm
from referloop.core.spreadsheets import download_response
from referloop.core.timeutils import agency_now, agency_today, agency_zone
from referloop.directory.models import Organization
from referloop.referrals.models import Referral
from referloop.reports import metrics, review, scorecards

PAGE_SIZE = 50


def _choices(agency):
    partners = Organization.objects.filter(
        pk__in=Referral.objects.filter(agency=agency).values("organization_id")
    ).order_by("name")
    owners = Membership.objects.filter(agency=agency, is_active=True).select_related("user")
    return list(partners.only("pk", "name")), list(owners.order_by("user__full_name"))


@agency_member_required(Perm.VIEW)
@require_safe
def metrics_page(request):
    agency = request.agency
    partners, owners = _choices(agency)
    context = {"partners": partners, "owners": owners, "directions": metrics.DIRECTIONS.items()}
    try:
        query = metrics.query_from(request.GET, agency)
    except DomainError as error:
        context.update(error=error.message, params=request.GET)
        return render(request, "reports/metrics.html", context, status=400)
    result = metrics.closed_loop_metrics(query)
    if request.GET.get("format") in ("csv", "xlsx"):
        audit_record(
            action="export",
            request=request,
            object_type="reports.metrics",
            detail={"format": request.GET["format"]},
        )
        return download_response(
            metrics.SHEET_HEADERS,
            metrics.sheet_rows(result),
            request.GET["format"],
            filename=f"closed-loop-{query.period.start}-to-{query.period.end}",
            title="Closed-loop metrics",
        )
    previous_query = metrics.MetricsQuery(**{**query.__dict__, "period": query.period.previous()})
    previous = {
        row["key"]: row for row in metrics.figures(metrics.closed_loop_metrics(previous_query))
    }
    rows = metrics.figures(result)
    for row in rows:
        row["previous"] = previous[row["key"]]["shown"]
    weeks = metrics.weekly(query)
    labels = [f"{week.starts:%b} {week.starts.day}" for week in weeks]
    charts = [
        rate_line_chart(
            chart_id=f"trend-{key}",
            points=list(zip(labels, values, strict=True)),
            title=f"{title} by week of sending",
            description="; ".join(
                f"{label}: {'no data' if value is None else f'{value}%'}"
                for label, value in zip(labels, values, strict=True)
            ),
        )
        for key, title, values in (
            ("receipt", "Receipt confirmed", [w.receipt_rate for w in weeks]),
            ("outcome", "Known outcome", [w.outcome_rate for w in weeks]),
        )
    ]
    today = agency_today(agency)
    context.update(
        weeks=weeks,
        charts=charts,
        reasons_chart=bar_chart(
            chart_id="reasons",
            bars=[(reason.label, reason.count) for reason in result.reasons],
            title="Why referrals were not accepted",
        ),
        query=query,
        result=result,
        rows=rows,
        query_string=metrics.query_string(query),
        previous_period=previous_query.period,
        presets=[
            ("Last 30 days", metrics.period_clean(start=None, end=today, agency=agency)),
            ("Last 90 days", metrics.Period(today - timedelta(days=89), today)),
            ("This year", metrics.Period(today.replace(month=1, day=1), today)),
        ],
        not_accepted=metrics.DEFINITIONS["not_accepted"],
    )
    return render(request, "reports/metrics.html", context)


@agency_member_required(Perm.VIEW)
@require_safe
def metric_referrals(request):
    """The referrals behind one number, with the same period and filters."""
    agency = request.agency
    key = request.GET.get("metric", "")
    try:
        query = metrics.query_from(request.GET, agency)
        rows = metrics.referrals_behind(query, key)
    except DomainError as error:
        return render(
            request, "reports/metric_referrals.html", {"error": error.message}, status=400
        )
    definition = metrics.DEFINITIONS[key]
    if request.GET.get("format") in ("csv", "xlsx"):
        audit_record(
            action="export",
            request=request,
            object_type="referrals.referral",
            detail={"metric": key, "format": request.GET["format"]},
        )
        zone = agency_zone(agency)
        return download_response(
            ["Tracking ID", "Partner", "Service", "Sent", "Status", "Owner"],
            (
                [
                    r.tracking_id,
                    r.organization.name,
                    r.service.name if r.service else "",
                    r.sent_ev.astimezone(zone).strftime("%Y-%m-%d"),
                    r.get_status_display(),
                    str(r.owner),
                ]
                for r in rows.iterator(chunk_size=500)
            ),
            request.GET["format"],
            filename=f"{key}-{query.period.start}-to-{query.period.end}",
            title=definition.label[:31],
        )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    audit_record(
        action="list",
        request=request,
        object_type="referrals.referral",
        detail={"metric": key, "page": page.number},
    )
    return render(
        request,
        "reports/metric_referrals.html",
        {
            "page": page,
            "definition": definition,
            "query": query,
            "key": key,
            "query_string": metrics.query_string(query),
        },
    )


SCORECARD_HEADERS = [
    "Partner",
    "Referrals sent",
    "Receipt confirmed %",
    "Known outcome %",
    "Completed",
    "Not accepted",
    "Failed",
    "Median days to receipt",
    "Median days to outcome",
    "Answers the reply link %",
    "Referred to us",
    "Applied",
    "Admitted",
    "Updates on time %",
    "Cadence kept %",
]


def _scorecard_row(card: scorecards.Scorecard) -> list:
    return [
        card.name,
        card.sent,
        card.receipt_rate,
        card.outcome_rate,
        card.completed,
        card.not_accepted,
        card.failed,
        card.receipt_days,
        card.outcome_days,
        card.reply_rate,
        card.received,
        card.applied,
        card.admitted,
        card.on_time_rate,
        card.cadence,
    ]


@agency_member_required(Perm.VIEW)
@require_safe
def partner_scorecards(request):
    """Every partner's card for the period: what we sent it and what came of it, what it sent
    us and whether we kept it informed."""
    agency = request.agency
    try:
        query = metrics.query_from(request.GET, agency)
    except DomainError as error:
        return render(request, "reports/scorecards.html", {"error": error.message}, status=400)
    sort = request.GET.get("sort", "sent")
    sort = sort if sort in scorecards.SORTS else "sent"
    wanted = request.GET.get("format")
    if wanted in ("csv", "xlsx") and request.GET.get("table") == "referrers":
        trend = scorecards.top_referrers(query)
        audit_record(
            action="export",
            request=request,
            object_type="reports.scorecards",
            detail={"format": wanted, "table": "referrers"},
        )
        return download_response(
            ["Partner", *(f"{day:%Y-%m}" for day in trend.buckets), "Total"],
            ([name, *counts, total] for name, counts, total in trend.rows),
            wanted,
            filename=f"top-referrers-{query.period.start}-to-{query.period.end}",
            title="Top referrers",
        )
    cards = scorecards.partner_scorecards(query, sort=sort)
    if wanted in ("csv", "xlsx"):
        audit_record(
            action="export",
            request=request,
            object_type="reports.scorecards",
            detail={"format": wanted},
        )
        return download_response(
            SCORECARD_HEADERS,
            (_scorecard_row(card) for card in cards),
            wanted,
            filename=f"partner-scorecards-{query.period.start}-to-{query.period.end}",
            title="Partner scorecards",
        )
    funnel = scorecards.inbound_funnel(cards)
    return render(
        request,
        "reports/scorecards.html",
        {
            "cards": cards,
            "funnel": funnel,
            "funnel_chart": bar_chart(
                chart_id="funnel",
                bars=[(stage.label, stage.count) for stage in funnel] if funnel[0].count else [],
                title="People referred to us: referred, applied, admitted",
            ),
            "referrers": scorecards.top_referrers(query),
            "query": query,
            "query_string": metrics.query_string(query),
            "sorts": scorecards.SORTS,
            "sort": sort,
        },
    )


REVIEW_HEADERS = ["Section", "Subject", "Detail", "Action", "Link"]


def _review_rows(result: review.WeeklyReview, base_url: str):
    for section in result.sections:
        for line in section.lines:
            yield [
                section.title,
                line.subject,
                line.detail,
                line.action_label,
                base_url + line.action_url,
            ]
    for reason in result.reasons:
        yield [
            "Not accepted: this week / last week",
            reason.label,
            f"{reason.this_week} / {reason.last_week}",
            "",
            "",
        ]


@agency_member_required(Perm.VIEW)
@require_safe
def weekly_review(request):
    """The week's review: what opened, closed and is stuck, and what to do about each; as a
    page, a printable PDF, or every line as CSV/XLSX."""
    agency = request.agency
    try:
        week = review.week_clean(request.GET.get("week", ""), agency)
    except DomainError as error:
        return render(request, "reports/review.html", {"error": error.message}, status=400)
    wanted = request.GET.get("format")
    exporting = wanted in ("csv", "xlsx")
    result = review.weekly_review(agency, week, limit=None if exporting else review.LINES_SHOWN)
    audit_record(
        action="export" if wanted else "view",
        request=request,
        object_type="reports.weekly_review",
        detail={"week": week.start.isoformat(), **({"format": wanted} if wanted else {})},
    )
    if exporting:
        return download_response(
            REVIEW_HEADERS,
            _review_rows(result, settings.BASE_URL),
            wanted,
            filename=f"weekly-review-{week.start}",
            title="Weekly review",
        )
    context = {"review": result, "this_week": review.week_of(agency_today(agency)).start}
    if wanted == "pdf":
        printed = agency_now(agency)
        pdf = pdf_render(
            "reports/review_pdf.html",
            {
                **context,
                "agency": agency,
                "printed": f"{printed:%b} {printed.day}, {printed:%Y %H:%M %Z}",
                "base_url": settings.BASE_URL,
            },
            stylesheet=review.REVIEW_CSS,
        )
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="weekly-review-{week.start}.pdf"'
        return response
    return render(request, "reports/review.html", context)
