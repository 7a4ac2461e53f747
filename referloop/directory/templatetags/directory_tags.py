from datetime import timedelta

from django import template
from django.utils import timezone

from referloop.core.policy import AgencyPolicy

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


@register.filter
def weekdays(byday: str) -> str:
    """RFC 5545 BYDAY ("MO,TU,WE,TH,FR") as people write it ("Mon–Fri")."""
    codes = [code.strip().upper()[-2:] for code in byday.split(",") if code.strip()]
    order = list(_DAY_NAMES)
    if len(codes) > 2 and all(code in order for code in codes):
        positions = [order.index(code) for code in codes]
        if positions == list(range(positions[0], positions[0] + len(positions))):
            return f"{_DAY_NAMES[codes[0]]}–{_DAY_NAMES[codes[-1]]}"
    return ", ".join(_DAY_NAMES.get(code, code) for code in codes)


@register.inclusion_tag("directory/_capacity_badge.html", takes_context=True)
def capacity_badge(context, capacity):
    stale = capacity.updated_at < timezone.now() - timedelta(days=_stale_days(context))
    return {"capacity": capacity, "stale": stale, "stale_days": _stale_days(context)}


@register.simple_tag
def listing_stale(service) -> bool:
    """Past the verification limit of the agency that keeps the listing (default 180 days)."""
    limit = (
        service.agency.policies.listing_verify_days if service.agency_id else _DEFAULT_VERIFY_DAYS
    )
    checked = service.last_verified_at or service.created_at
    return checked < timezone.now() - timedelta(days=limit)
