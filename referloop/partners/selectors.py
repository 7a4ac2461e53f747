"""Reads for partner relationships: print materials and what went out, and the monthly
availability e-mail's recipients and contents."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch
from django.utils import timezone

from referloop.directory.models import Contact, ServiceCapacity, Status
from referloop.directory.selectors import capacity_is_stale
from referloop.partners.models import (
    ESTABLISHED_STAGES,
    Interaction,
    InteractionKind,
    KeyContact,
    Material,
)

# --- print materials --------------------------------------------------------------------------


def agency_materials(*, agency):
    return Material.objects.for_agency(agency).order_by("-is_active", "name", "pk")


def print_media_sent(*, agency):
    """What went to whom and when: the agency's print-media interactions, newest first, with
    the material, the partner and the people."""
    return (
        Interaction.objects.for_agency(agency)
        .filter(kind=InteractionKind.PRINT_MEDIA)
        .select_related("material", "relationship__organization", "owner")
        .prefetch_related(Prefetch("people", queryset=Contact.objects.order_by("name", "pk")))
        .order_by("-occurred_at", "-id")
    )


# --- the monthly availability e-mail ----------------------------------------------------------


def established_contacts(*, agency):
    """The key contacts of the agency's established relationships: who may get the e-mail."""
    return (
        KeyContact.objects.for_agency(agency)
        .filter(relationship__stage__in=ESTABLISHED_STAGES)
        .select_related("contact", "relationship__organization")
        .order_by("relationship__organization__name", "contact__name", "pk")
    )


def availability_recipients(*, agency):
    """Who gets this month's e-mail: opted in, not unsubscribed, with an address, in an
    established relationship."""
    return (
        established_contacts(agency=agency)
        .filter(availability_opt_in=True, unsubscribed_at__isnull=True)
        .exclude(contact__email="")
    )


@dataclass(frozen=True, slots=True)
class Availability:
    """One count the e-mail lists: a service's unit (or named kind of it)."""

    service_name: str
    unit: str  # "beds"
    name: str  # "Men's beds", or "" for the unit alone
    label: str  # what is counted, as the e-mail says it
    available: int
    maximum: int | None
    waitlist: bool
    as_of: datetime
    stale: bool


def agency_availability(*, agency, now: datetime | None = None) -> list[Availability]:
    """The current capacity of the agency's own active services, by service and unit; counts
    older than the agency's capacity_stale_days are marked stale."""
    now = now or timezone.now()
    days = agency.policies.capacity_stale_days
    capacities = (
        ServiceCapacity.objects.filter(service__agency=agency, service__status=Status.ACTIVE)
        .select_related("service")
        .order_by("service__name", "service_id", "unit", "name")
    )
    return [
        Availability(
            service_name=capacity.service.name,
            unit=capacity.get_unit_display(),
            name=capacity.name,
            label=capacity.label,
            available=capacity.available,
            maximum=capacity.maximum,
            waitlist=capacity.waitlist,
            as_of=capacity.updated_at,
            stale=capacity_is_stale(updated_at=capacity.updated_at, days=days, now=now),
        )
        for capacity in capacities
    ]
