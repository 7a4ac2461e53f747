"""The weekly review (seed 003's operating rhythm): one page a team goes through once a week —
what opened and what closed that week, what is stuck now, the reasons partners gave for "not
accepted" this week against last, partners gone silent, consents about to expire and directory
entries to verify — every line with the one action that deals with it.

A week runs Monday to Sunday in agency time. "Opened" and "closed" are read from the timeline
events of the week; the rest is the agency's state now (a past week's review still shows what is
stuck today: that is what the meeting can act on). Every section is one or two indexed queries
(a count and its first lines), whatever the agency's size.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlencode

from django.db.models import Count, Max, Min, Q
from django.urls import reverse
from django.utils import timezone

from referloop.clients.selectors import consent_due_rows
from referloop.core.due import DueItem, DueRows
from referloop.core.errors import DomainError
from referloop.core.timeutils import agency_today, agency_zone, local_midnight_utc
from referloop.directory.selectors import listing_due_rows
from referloop.referrals import selectors as referral_selectors
from referloop.referrals.due import escalation_threshold
from referloop.referrals.models import CLOSED, EventKind, Referral, ReferralEvent, Status
from referloop.reports.metrics import EARLIEST, INBOUND, OUTBOUND, MetricsQuery, Period, cohort

REVIEW_CSS = "referloop/review.css"  # the printed review (its PDF)
LINES_SHOWN = 15  # per section on the page; its count and its "all of them" link give the rest
# The answers that close a referral, recorded by our staff or by the partner's reply.
_ANSWER = Q(kind=EventKind.STATUS) | Q(kind=EventKind.PARTNER_REPLY)


@dataclass(frozen=True)
class Line:
    subject: str
    detail: str
    action_label: str
    action_url: str


@dataclass
class Section:
    key: str
    title: str
    explanation: str
    count: int
    lines: list[Line] = field(default_factory=list)
    all_url: str = ""  # where every line of a long section is
    empty: str = "Nothing."

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.lines))


@dataclass(frozen=True)
class ReasonRow:
    label: str
    this_week: int
    last_week: int

    @property
    def change(self) -> int:
        return self.this_week - self.last_week


@dataclass
class WeeklyReview:
    agency: object
    week: Period
    sections: list[Section]
    reasons: list[ReasonRow]

    @property
    def previous_week(self) -> date:
        return self.week.start - timedelta(days=7)

    @property
    def next_week(self) -> date | None:
        following = self.week.start + timedelta(days=7)
        return following if following <= agency_today(self.agency) else None

    def section(self, key: str) -> Section:
        return next(section for section in self.sections if section.key == key)

    @property
    def silent(self) -> Section:
        return self.section("silent")


def week_of(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    return Period(monday, monday + timedelta(days=6))


def last_full_week(agency) -> Period:
    return week_of(agency_today(agency) - timedelta(days=7))


def week_clean(value: str, agency) -> Period:
    """The week a `week=YYYY-MM-DD` parameter names (any day of it), by default the last full
    week; weeks before 2000 or after the current one are refused."""
    if not value:
        return last_full_week(agency)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise DomainError("Enter the week as a date, YYYY-MM-DD.", field="week") from None
    if day < EARLIEST:
        raise DomainError(f"Pick a week from {EARLIEST:%B %-d, %Y} on.", field="week")
    if day > agency_today(agency):
        raise DomainError("That week has not started yet.", field="week")
    return week_of(day)


def _referral_url(referral_id: int) -> str:
    return reverse("referrals:detail", kwargs={"pk": referral_id})


def _list_url(**params) -> str:
    """The referrals list filtered by `params` (a list value repeats its parameter)."""
    return f"{reverse('referrals:list')}?{urlencode(params, doseq=True)}"


def _local(moment, zone) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a %b} {local.day}"


def _opened(agency, week: Period, direction: str, zone, limit: int | None) -> Section:
    sent = cohort(MetricsQuery(agency=agency, period=week, direction=direction))
    rows = (
        sent.select_related("organization", "service", "agency")
        .only(
            "id",
            "tracking_id",
            "organization__name",
            "service__name",
            "agency__name",
            "status",
        )
        .order_by("-sent_ev", "-pk")[:limit]
    )
    outbound = direction == OUTBOUND
    return Section(
        key=f"opened_{direction}",
        title="Sent by us" if outbound else "Sent to us",
        explanation="Referrals sent this week"
        + (", by when they were first sent." if outbound else " by partners using Referloop."),
        count=sent.count(),
        lines=[
            Line(
                subject=referral.tracking_id,
                detail=(
                    f"to {referral.organization.name}"
                    if outbound
                    else f"from {referral.agency.name}"
                )
                + (f" ({referral.service.name})" if referral.service_id else "")
                + f", sent {_local(referral.sent_ev, zone)}; now {referral.get_status_display()}",
                action_label="Open",
                action_url=_referral_url(referral.pk),
            )
            for referral in rows
        ],
        all_url=_list_url(direction=direction, sort="-created"),
        empty="No referrals sent this week." if outbound else "No referrals came in this week.",
    )


def _closed(agency, week: Period, zone, limit: int | None) -> Section:
    """Our referrals whose final answer (completed, not accepted, failed, cancelled) was recorded
    this week: the agency's events of the week, by the (agency, at) index."""
    starts = local_midnight_utc(agency, week.start)
    ends = local_midnight_utc(agency, week.end + timedelta(days=1))
    closing = ReferralEvent.objects.filter(
        _ANSWER, agency=agency, to_status__in=CLOSED, at__gte=starts, at__lt=ends
    )
    events = (
        closing.select_related("referral__organization", "disposition")
        .only(
            "at",
            "to_status",
            "referral__id",
            "referral__tracking_id",
            "referral__organization__name",
            "disposition__label",
        )
        .order_by("-at", "-pk")[:limit]
    )
    labels = dict(Status.choices)
    return Section(
        key="closed",
        title="Closed",
        explanation="Referrals we sent whose final answer was recorded this week.",
        count=closing.values("referral_id").distinct().count(),
        lines=[
            Line(
                subject=event.referral.tracking_id,
                detail=f"{labels[event.to_status]} at {event.referral.organization.name}"
                + (f": {event.disposition.label}" if event.disposition_id else "")
                + f", {_local(event.at, zone)}",
                action_label="Open",
                action_url=_referral_url(event.referral_id),
            )
            for event in events
        ],
        all_url=_list_url(direction=OUTBOUND, status=sorted(CLOSED)),
        empty="No referral closed this week.",
    )


def _from_due_rows(
    sources: list[DueRows],
    limit: int | None,
    *,
    key: str,
    title: str,
    explanation: str,
    all_url: str,
    empty: str,
) -> Section:
    """A section of worklist items (their own reason and action), from an app's due rows."""
    items: list[DueItem] = []
    for source in sources:
        rows = source.rows if limit is None else source.rows[: limit - len(items)]
        items.extend(source.item(row) for row in rows)
    return Section(
        key=key,
        title=title,
        explanation=explanation,
        count=sum(source.count() for source in sources),
        lines=[
            Line(item.subject, item.reason, item.action_label, item.action_url) for item in items
        ],
        all_url=all_url,
        empty=empty,
    )


def _silent(agency, now, limit: int | None) -> Section:
    """Partners with referrals of ours still unconfirmed after the receipt target (their stored
    due time has passed), with when we last heard from them about any referral."""
    waiting = (
        Referral.objects.filter(agency=agency, status=Status.REQUESTED, next_due_at__lte=now)
        .values("organization_id", "organization__name")
        .annotate(waiting=Count("pk"), oldest=Min("sent_at"))
        .order_by("oldest", "organization_id")
    )
    partners = list(waiting[:limit])
    heard = {
        row["organization_id"]: row["heard"]
        for row in Referral.objects.filter(
            agency=agency, organization_id__in=[p["organization_id"] for p in partners]
        )
        .values("organization_id")
        .annotate(heard=Max("last_partner_update_at"))
        .order_by()
    }
    zone = agency_zone(agency)
    lines = []
    for partner in partners:
        last = heard.get(partner["organization_id"])
        waiting_days = (now - partner["oldest"]).days
        lines.append(
            Line(
                subject=partner["organization__name"],
                detail=f"{partner['waiting']} referral{'' if partner['waiting'] == 1 else 's'} "
                f"waiting for receipt, the oldest sent {waiting_days} days ago; "
                + (f"last heard from {_local(last, zone)}." if last else "never heard from."),
                action_label="See the waiting referrals",
                action_url=_list_url(
                    partner=partner["organization_id"], status=Status.REQUESTED, sort="created"
                ),
            )
        )
    return Section(
        key="silent",
        title="Partners gone silent",
        explanation="Partners that have not confirmed receiving our referrals past the target.",
        count=waiting.count(),
        lines=lines,
        empty="Every partner has confirmed what we sent on time.",
    )


def _reasons(agency, week: Period) -> list[ReasonRow]:
    """Why partners said "not accepted" this week and the week before: one grouped query over
    the agency's events of the two weeks."""
    this_starts = local_midnight_utc(agency, week.start)
    last_starts = local_midnight_utc(agency, week.start - timedelta(days=7))
    ends = local_midnight_utc(agency, week.end + timedelta(days=1))
    rows = (
        ReferralEvent.objects.filter(
            _ANSWER,
            agency=agency,
            to_status=Status.REJECTED,
            at__gte=last_starts,
            at__lt=ends,
        )
        .values("disposition__label")
        .annotate(
            this_week=Count("referral", filter=Q(at__gte=this_starts), distinct=True),
            last_week=Count("referral", filter=Q(at__lt=this_starts), distinct=True),
        )
        .order_by("-this_week", "-last_week", "disposition__label")
    )
    return [
        ReasonRow(
            row["disposition__label"] or "No reason recorded", row["this_week"], row["last_week"]
        )
        for row in rows
    ]


def weekly_review(agency, week: Period, *, limit: int | None = LINES_SHOWN) -> WeeklyReview:
    """The review of `week`, each section with its count and its first `limit` lines (None:
    every line, for the exports)."""
    now = timezone.now()
    zone = agency_zone(agency)
    owned, escalated, inbox = referral_selectors.due_rows(agency=agency, member=None, until=now)
    # Each overdue referral is listed once: the escalated ones under "Escalated".
    not_escalated = DueRows(
        owned.rows.filter(next_due_at__gt=escalation_threshold(agency, now)), owned.item
    )
    stuck_url = _list_url(overdue="on", sort="due")
    sections = [
        _opened(agency, week, OUTBOUND, zone, limit),
        _opened(agency, week, INBOUND, zone, limit),
        _closed(agency, week, zone, limit),
        _from_due_rows(
            [escalated],
            limit,
            key="escalated",
            title="Escalated",
            explanation="Overdue by more than the agency's escalation threshold: program leads "
            "hear of these.",
            all_url=stuck_url,
            empty="Nothing is overdue long enough to escalate.",
        ),
        _from_due_rows(
            [not_escalated],
            limit,
            key="overdue",
            title="Overdue",
            explanation="Our referrals past their next due step (receipt, first contact, "
            "outcome, follow-up), not yet late enough to escalate.",
            all_url=stuck_url,
            empty="No referral is overdue.",
        ),
        _from_due_rows(
            [inbox],
            limit,
            key="inbox",
            title="Waiting for us",
            explanation="Referrals sent to us that nobody here has acknowledged yet.",
            all_url=_list_url(direction=INBOUND, status=Status.REQUESTED, sort="created"),
            empty="Every referral sent to us is acknowledged.",
        ),
        _silent(agency, now, limit),
        _from_due_rows(
            consent_due_rows(agency=agency, member=None, until=now),
            limit,
            key="consents",
            title="Consents expiring",
            explanation="Consents in force that expire within two weeks, with no newer one for "
            "the same recipient.",
            all_url=reverse("worklist:index") + "?scope=agency",
            empty="No consent expires in the next two weeks.",
        ),
        _from_due_rows(
            listing_due_rows(agency=agency, member=None, until=now),
            limit,
            key="listings",
            title="Directory entries to verify",
            explanation="Our listings not verified within the agency's verification interval.",
            all_url=reverse("worklist:index") + "?scope=agency",
            empty="Every listing of ours is verified.",
        ),
    ]
    return WeeklyReview(agency=agency, week=week, sections=sections, reasons=_reasons(agency, week))
