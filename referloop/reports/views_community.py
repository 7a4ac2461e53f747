"""The community scorecard pages: the members' page (any member of an agency of the network),
publishing it (an agency administrator), and the public page on the directory site (only while
published). All three show the same suppressed figures (reports.community) and export every
table as CSV or XLSX."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from referloop.core.access import agency_member_required
from referloop.core.audit import audit_record
from referloop.core.charts import bar_chart, rate_line_chart
from referloop.core.errors import DomainError
from referloop.core.models import Network
from referloop.core.permissions import Perm, has_perm
from referloop.core.spreadsheets import download_response
from referloop.core.timeutils import agency_today
from referloop.reports import community
from referloop.reports.metrics import DEFINITIONS
from referloop.reports.services import community_publish

GAP_BARS = 10  # needs in the gaps chart


def _charts(card: community.Scorecard) -> dict:
    labels = [f"{week.starts:%b} {week.starts.day}" for week in card.capacity]
    shares = [week.share for week in card.capacity]
    return {
        "capacity_chart": rate_line_chart(
            chart_id="community-capacity",
            points=list(zip(labels, shares, strict=True)),
            title="Share of services with a place free, week by week",
            description="; ".join(
                f"{label}: {'no data' if share is None else f'{share}%'}"
                for label, share in zip(labels, shares, strict=True)
            ),
        ),
        "gaps_chart": bar_chart(
            chart_id="community-gaps",
            bars=[(row.name, row.no_capacity.value) for row in card.gaps[:GAP_BARS]],
            title="Referrals not accepted for no capacity, by need",
            unit="referrals",
        ),
    }


def _page(request, *, network, clock, template: str, public: bool, **extra):
    """The scorecard page or one of its tables as a sheet, for the period asked for."""
    context = {
        **extra,
        "network": network,
        "public": public,
        "quarters": [
            (community.quarter_label(q), q) for q in community.quarters_ended(agency_today(clock))
        ]
        if clock
        else [],
        "definitions": [DEFINITIONS["receipt"], DEFINITIONS["outcome"]],
        "tables": community.TABLES,
    }
    if clock is None:
        context["error"] = "This network has no agencies yet: there is nothing to show."
        return render(request, template, context, status=400)
    try:
        period = community.period_from(request.GET, clock=clock)
    except DomainError as error:
        context.update(error=error.message)
        return render(request, template, context, status=400)
    card = community.community_scorecard(network, period, clock=clock)
    fmt, table = request.GET.get("format"), request.GET.get("table", "agencies")
    if fmt in ("csv", "xlsx"):
        if table not in community.TABLES:
            context.update(error=f"Unknown table: {table[:40]}.")
            return render(request, template, context, status=400)
        headers, rows = community.table_rows(card, table)
        if not public:
            audit_record(
                action="export",
                request=request,
                object_type="reports.community",
                detail={"format": fmt, "table": table},
            )
        return download_response(
            headers,
            rows,
            fmt,
            filename=f"community-{table}-{community.quarter_label(period)}",
            title=community.TABLES[table],
        )
    context.update(
        card=card,
        period=period,
        quarter=community.quarter_label(period),
        **_charts(card),
    )
    return render(request, template, context)


@agency_member_required(Perm.VIEW)
@require_safe
def community_page(request):
    """The network's scorecard for the members of its agencies, with publishing for admins."""
    agency = request.agency
    return _page(
        request,
        network=agency.network,
        clock=agency,
        template="reports/community.html",
        public=False,
        can_publish=has_perm(request.membership, Perm.CONFIGURE_AGENCY),
    )


@agency_member_required(Perm.CONFIGURE_AGENCY)
@require_POST
def community_publish_view(request):
    """Publish (publish=1) or withdraw (publish=0) the network's public scorecard."""
    published = request.POST.get("publish") == "1"
    community_publish(
        network=request.agency.network, actor=request.user, published=published, request=request
    )
    if published:
        messages.success(
            request,
            "The community scorecard is published on the public directory (suppressed figures "
            "only).",
        )
    else:
        messages.success(request, "The community scorecard is no longer public.")
    return redirect(reverse("reports:community"))


@require_safe
def community_public(request, slug):
    """The public scorecard of a network (no login): a 404 unless it is published."""
    network = get_object_or_404(Network, slug=slug)
    if network.community_published_at is None:
        raise Http404("No published community scorecard")
    return _page(
        request,
        network=network,
        clock=community.network_clock(network),
        template="reports/community_public.html",
        public=True,
    )
