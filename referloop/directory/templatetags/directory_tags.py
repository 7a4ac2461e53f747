from datetime import time, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.timesince import timesince

from referloop.core.charts import step_chart
from referloop.core.policy import AgencyPolicy
from referloop.core.templatetags.time_tags import clock, readable
from referloop.directory.search import gender_groups
from referloop.directory.selectors import capacity_is_stale

register = template.Library()

_DEFAULT_STALE_DAYS = AgencyPolicy().capacity_stale_days
_DEFAULT_VERIFY_DAYS = AgencyPolicy().listing_verify_days


def _stale_days(context) -> int:
    # The viewer's agency decides what counts as stale for them; the public sees the default.
    request = context.get("request")
    agency = getattr(request, "agency", None) if request is not None else None
    return agency.policies.capacity_stale_days if agency is not None else _DEFAULT_STALE_DAYS


_DAY_NAMES = {
    "MO": "Mon",
    "TU": "Tue",
    "WE": "Wed",
    "TH": "Thu",
    "FR": "Fri",
    "SA": "Sat",
    "SU": "Sun",
}


def _days(byday: str) -> str:
    """RFC 5545 BYDAY ("MO,TU,WE,TH,FR") as people write it ("Mon–Fri", "every day")."""
    codes = [code.strip().upper()[-2:] for code in byday.split(",") if code.strip()]
    order = list(_DAY_NAMES)
    if set(codes) == set(order):
        return "every day"
    if len(codes) > 2 and all(code in order for code in codes):
        positions = [order.index(code) for code in codes]
        if positions == list(range(positions[0], positions[0] + len(positions))):
            return f"{_DAY_NAMES[codes[0]]}–{_DAY_NAMES[codes[-1]]}"
    return ", ".join(_DAY_NAMES.get(code, code) for code in codes)


@register.filter
def opening_hours(schedule) -> str:
    """A schedule as people say it: "Mon–Fri 8:30 AM–5:00 PM", "every day, 24 hours" (HSDS
    writes round-the-clock as opening at 00:00 and closing at 23:59, or at 00:00 again)."""
    days = _days(schedule.byday) if schedule.byday else ""
    opens, closes = schedule.opens_at, schedule.closes_at
    if opens == time(0, 0) and closes in (time(23, 59), time(0, 0)):
        hours = "24 hours"
        days = f"{days}," if days else days
    elif opens and closes:
        hours = f"{clock(opens)}–{clock(closes)}"
    elif opens:
        hours = f"from {clock(opens)}"
    else:
        hours = ""
    return " ".join(part for part in (days, hours, schedule.description) if part)


@register.filter
def served_groups(genders_served) -> str:
    """A gender-specific program's people, as a phrase: "Men", "Women and non-binary people"."""
    phrase = " and ".join(gender_groups(genders_served))
    return phrase[:1].upper() + phrase[1:]


@register.simple_tag(takes_context=True)
def capacity_badge(context, capacity) -> str:
    """A bed or slot count with its "as of" time, marked stale past the viewer's agency limit.

    Built here rather than in a template: a search page shows a score of them, and as an
    included template each one cost more than the rest of its result. Its full time is written as
    every other time in Referloop (`readable`): Django's localized date format took half of the
    badge's 0.2 ms."""
    stale_days = _stale_days(context)
    updated, now = capacity.updated_at, timezone.now()
    stale = capacity_is_stale(updated_at=updated, days=stale_days, now=now)
    state = "stale" if stale else "open" if capacity.available else "full"
    return format_html(
        '<span class="capacity capacity-{}"><strong>{}</strong>{} {}{} · <time datetime="{}" '
        'title="{}">as of {} ago</time>{}</span>',
        state,
        capacity.available,
        f" of {capacity.maximum}" if capacity.maximum is not None else "",
        capacity.label,
        " · waitlist" if capacity.waitlist else "",
        updated.isoformat(),
        readable(updated),
        timesince(updated, now),
        format_html(" <em>(stale: older than {} days)</em>", stale_days) if stale else "",
    )


@register.simple_tag
def listing_stale(service) -> bool:
    """Past the verification limit of the agency that keeps the listing (default 180 days)."""
    limit = (
        service.agency.policies.listing_verify_days if service.agency_id else _DEFAULT_VERIFY_DAYS
    )
    checked = service.last_verified_at or service.created_at
    return checked < timezone.now() - timedelta(days=limit)


@register.simple_tag
def capacity_chart(history, span) -> str:
    """One unit's free places (a selectors.CapacityHistory) over the `span` as a step chart,
    its maximum dashed; empty when nothing was recorded in or before the span."""
    capacity = history.capacity
    steps = [(reading.recorded_at, reading.available) for reading in history.readings]
    if history.before is not None:
        steps.insert(0, (history.before.recorded_at, history.before.available))
    if not steps:
        return ""
    unit = capacity.label
    days = span.days
    counts = [available for _, available in steps]
    of = f" of {capacity.maximum}" if capacity.maximum is not None else ""
    return step_chart(
        chart_id=f"capacity-{capacity.pk}",
        steps=steps,
        start=span.since,
        end=span.until,
        title=f"{capfirst(unit)} free over the last {days} days",
        description=(
            f"Between {min(counts)} and {max(counts)} {unit} free over the last {days} days "
            f"({len(history.readings)} updates); {capacity.available}{of} free now."
        ),
        reference=capacity.maximum,
        reference_label=f"maximum {capacity.maximum}" if capacity.maximum is not None else "",
    )
