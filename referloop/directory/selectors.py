"""Reads of the directory: a service page with everything on it, capacity staleness and history,
postal-code centroids, and the worklist's "verify this listing" items. The search is in
`search.py`."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db.models import Count, F, OuterRef, Prefetch, Q, Subquery, Window
from django.db.models.functions import Lead
from django.urls import reverse
from django.utils import timezone

from referloop.core.due import DueItem, DueRows
from referloop.core.permissions import Perm, has_perm
from referloop.directory.models import (
    Address,
    CapacityReading,
    Contact,
    Language,
    Location,
    Phone,
    PostalCode,
    RequiredDocument,
    Schedule,
    Service,
    ServiceAtLocation,
    ServiceCapacity,
    Status,
    TaxonomyTerm,
)
from referloop.directory.postal import normalize_us_zip, packaged_zip
from referloop.directory.vocabulary import NEEDS


def service_detail_queryset():
    """Services with everything a service page shows, in a fixed number of queries."""
    return Service.objects.select_related("organization", "agency").prefetch_related(
        Prefetch("organization__phones", queryset=Phone.objects.order_by("pk")),
        Prefetch(
            "service_at_locations",
            queryset=ServiceAtLocation.objects.select_related("location")
            .prefetch_related(
                Prefetch("location__addresses", queryset=Address.objects.order_by("pk")),
                Prefetch("location__phones", queryset=Phone.objects.order_by("pk")),
                Prefetch("location__schedules", queryset=Schedule.objects.order_by("pk")),
            )
            .order_by("pk"),
        ),
        Prefetch("phones", queryset=Phone.objects.order_by("pk")),
        Prefetch("schedules", queryset=Schedule.objects.order_by("pk")),
        Prefetch("languages", queryset=Language.objects.order_by("pk")),
        Prefetch(
            "terms",
            queryset=TaxonomyTerm.objects.select_related("taxonomy").order_by(
                "taxonomy__name", "name"
            ),
        ),
        Prefetch("required_documents", queryset=RequiredDocument.objects.order_by("pk")),
        Prefetch(
            "capacities",
            queryset=ServiceCapacity.objects.select_related("updated_by").order_by("unit", "name"),
        ),
        Prefetch(
            "contacts",
            queryset=Contact.objects.prefetch_related(
                Prefetch("phones", queryset=Phone.objects.order_by("pk"))
            ).order_by("pk"),
        ),
    )


def service_detail(*, pk: int | None = None, hsds_id=None, network=None) -> Service:
    """One service with its organization, locations (+ addresses, phones, schedules), phones,
    schedules, languages, terms, required documents, capacities and contacts prefetched.

    Give `pk` or `hsds_id` (optionally narrowed to a `network`). Raises Service.DoesNotExist.
    This does not check who may see it: fetch through `visible_to` / `published` first.
    """
    if (pk is None) == (hsds_id is None):
        raise TypeError("service_detail needs exactly one of pk or hsds_id")
    services = service_detail_queryset()
    services = services.filter(pk=pk) if pk is not None else services.filter(hsds_id=hsds_id)
    if network is not None:
        services = services.filter(network=network)
    found = list(services.order_by("pk")[:1])
    if not found:
        raise Service.DoesNotExist("No such service")
    return found[0]


def capacity_is_stale(
    *, updated_at: datetime | None, days: int, now: datetime | None = None
) -> bool:
    """True when a count is older than `days` (the agency's capacity_stale_days) — or missing."""
    if updated_at is None:
        return True
    return updated_at < (now or timezone.now()) - timedelta(days=days)


CAPACITY_HISTORY_SPANS = (30, 90, 365)  # days: the spans a service page offers
CAPACITY_HISTORY_DEFAULT = 90


@dataclass(frozen=True, slots=True)
class CapacityHistory:
    """One unit's counts over a span: the reading in force when it began (`before`, None when
    the unit was first counted later) and each reading within it, oldest first."""

    capacity: ServiceCapacity
    before: CapacityReading | None
    readings: list[CapacityReading]

    TABLE_ROWS = 60  # a page lists the newest updates; the chart draws them all

    @property
    def newest_first(self) -> list[CapacityReading]:
        return self.readings[::-1][: self.TABLE_ROWS]

    @property
    def not_listed(self) -> int:
        return max(0, len(self.readings) - self.TABLE_ROWS)


@dataclass(frozen=True, slots=True)
class CapacitySpan:
    """A service's units over the same span of time, `since` to `until`."""

    since: datetime
    until: datetime
    units: list[CapacityHistory]

    @property
    def days(self) -> int:
        return round((self.until - self.since).total_seconds() / 86400)


def capacity_history(*, capacities, days: int, now: datetime | None = None) -> CapacitySpan:
    """The readings of these capacities (one service's units) over the last `days` days, one
    CapacityHistory per capacity in the order given, in one query: each unit's readings of the
    span and, so a chart starts at the span's first day, the last one before it."""
    capacities = list(capacities)
    until = now or timezone.now()
    since = until - timedelta(days=days)
    ids = [capacity.pk for capacity in capacities]
    readings = CapacityReading.objects.filter(capacity_id__in=ids).filter(
        Q(recorded_at__gte=since, recorded_at__lte=until)
        | Q(pk__in=_last_readings(ids, recorded_at__lt=since))
    )
    before, within = {}, {pk: [] for pk in ids}
    for reading in readings.order_by("recorded_at", "pk") if ids else []:
        if reading.recorded_at < since:
            before[reading.capacity_id] = reading
        else:
            within[reading.capacity_id].append(reading)
    units = [
        CapacityHistory(
            capacity=capacity, before=before.get(capacity.pk), readings=within[capacity.pk]
        )
        for capacity in capacities
    ]
    return CapacitySpan(since=since, until=until, units=units)


def capacity_in_force(*, capacity_ids, at: datetime) -> dict[int, CapacityReading]:
    """The reading each of these capacities had in force at `at` (its latest at or before
    then), by capacity id, in one query; capacities counted only later are left out."""
    readings = CapacityReading.objects.filter(
        pk__in=_last_readings(list(capacity_ids), recorded_at__lte=at)
    )
    return {reading.capacity_id: reading for reading in readings}


def _last_readings(capacity_ids: list[int], **when):
    """The id of each capacity's latest reading of those `when` selects, as a subquery."""
    last = (
        CapacityReading.objects.filter(capacity=OuterRef("pk"), **when)
        .order_by("-recorded_at", "-pk")
        .values("pk")[:1]
    )
    return (
        ServiceCapacity.objects.filter(pk__in=capacity_ids)
        .annotate(reading=Subquery(last))
        .values("reading")
    )


@dataclass(frozen=True, slots=True)
class PostalPoint:
    code: str
    latitude: float
    longitude: float
    city: str = ""
    state: str = ""


def postal_code_point(*, code: str, country: str = "US") -> PostalPoint | None:
    """The centroid of a ZIP code from the PostalCode table (the package as a fallback)."""
    normalized = normalize_us_zip(code) if country == "US" else (code or "").strip()
    if not normalized:
        return None
    row = (
        PostalCode.objects.filter(country=country, code=normalized)
        .values("code", "latitude", "longitude", "city", "state")
        .first()
    )
    if row is None and country == "US":
        row = packaged_zip(normalized)
        if row is not None:
            row.pop("country")
    return PostalPoint(**row) if row is not None else None


def listing_verify_due_at(*, service: Service, days: int) -> datetime:
    """When a listing next needs verifying: `days` after it was last verified (or listed)."""
    return (service.last_verified_at or service.created_at) + timedelta(days=days)


def listing_due_rows(*, agency, member, until: datetime) -> list[DueRows]:
    """The worklist's "verify this listing" items: the agency's services not verified within its
    policy's `listing_verify_days` as of `until`.

    One indexed query on (agency, last_verified_at): the threshold comes from the policy, so a
    policy change takes effect at once without recomputing anything. `member` None: the whole
    agency; otherwise only members who may change the agency's data (Perm.WRITE) get them.
    """
    if member is not None and (member.agency_id != agency.pk or not has_perm(member, Perm.WRITE)):
        return []
    days = agency.policies.listing_verify_days
    threshold = until - timedelta(days=days)
    services = (
        Service.objects.filter(agency=agency)
        .filter(
            Q(last_verified_at__lte=threshold)
            | Q(last_verified_at__isnull=True, created_at__lte=threshold)
        )
        .exclude(status=Status.DEFUNCT)
        .select_related("organization")
        .only("pk", "name", "last_verified_at", "created_at", "organization__name")
        .order_by("last_verified_at", "created_at", "pk")
    )
    return [DueRows(services, partial(_listing_item, days=days, now=timezone.now()))]


def _listing_item(service: Service, *, days: int, now: datetime) -> DueItem:
    since = service.last_verified_at or service.created_at
    age_days = max(0, (now - since).days)
    if service.last_verified_at is None:
        reason = (
            f"Never verified: listed {age_days} days ago; your agency verifies listings "
            f"every {days} days."
        )
    else:
        reason = (
            f"Not verified for {age_days} days; your agency verifies listings every {days} days."
        )
    return DueItem(
        key=f"listing-verify:{service.pk}",
        kind="listing_verify",
        kind_label="Listing to verify",
        subject=f"{service.name} ({service.organization.name})",
        reason=reason,
        due_at=listing_verify_due_at(service=service, days=days),
        action_label="Verify listing",
        action_url=reverse("directory:service_detail", args=[service.pk]),
    )


def location_shared(location: Location, *, but: Service) -> bool:
    """Other listings are at this location too (a site with several programs)."""
    return ServiceAtLocation.objects.filter(location=location).exclude(service=but).exists()


# --- capacity over time (the community scorecard's) ----------------------------------------


def _readings_in_force(*, network, until: datetime, partition: list):
    """The network's capacity readings made before `until`, each with when the next one of the
    same capacity (and `partition`) was made: a reading holds from its time until then."""
    return CapacityReading.objects.filter(
        capacity__service__network=network, recorded_at__lt=until
    ).annotate(
        next_at=Window(
            Lead("recorded_at"),
            partition_by=[F("capacity_id"), *partition],
            order_by=[F("recorded_at").asc(), F("pk").asc()],
        )
    )


def _holding_at(at: datetime) -> Q:
    return Q(recorded_at__lte=at) & (Q(next_at__isnull=True) | Q(next_at__gt=at))


def capacity_shares(*, network, instants: list[datetime]) -> list[tuple[int, int]]:
    """For each instant: (services with a capacity reading by then, those whose latest reading
    then showed a place free in at least one of their capacities) -- one query."""
    if not instants:
        return []
    readings = _readings_in_force(network=network, until=max(instants), partition=[])
    totals = readings.aggregate(
        **{
            f"{name}{index}": Count("capacity__service", distinct=True, filter=condition)
            for index, at in enumerate(instants)
            for name, condition in (
                ("tracked", _holding_at(at)),
                ("open", _holding_at(at) & Q(available__gt=0)),
            )
        }
    )
    return [(totals[f"tracked{i}"], totals[f"open{i}"]) for i in range(len(instants))]


def capacity_by_term(*, network, term_ids: list[int], at: datetime) -> dict[int, tuple[int, int]]:
    """For each taxonomy term: (its services with a capacity reading by `at`, those whose latest
    reading then showed no place free in any of their capacities) -- one query."""
    if not term_ids:
        return {}
    term = F("capacity__service__attributes__term_id")
    readings = _readings_in_force(
        network=network, until=at + timedelta(microseconds=1), partition=[term]
    ).filter(capacity__service__attributes__term_id__in=term_ids)
    holding = _holding_at(at)
    totals = readings.aggregate(
        **{
            f"{name}{pk}": Count("capacity__service", distinct=True, filter=condition)
            for pk in term_ids
            for name, condition in (
                ("tracked", holding & Q(capacity__service__attributes__term_id=pk)),
                ("open", holding & Q(capacity__service__attributes__term_id=pk, available__gt=0)),
            )
        }
    )
    return {
        pk: (totals[f"tracked{pk}"], totals[f"tracked{pk}"] - totals[f"open{pk}"])
        for pk in term_ids
    }


def network_needs(*, network) -> list[tuple[int, str]]:
    """The needs (terms of the default needs vocabulary) the network's services meet, by name:
    public directory facts, so a list of them says nothing about who was referred."""
    return list(
        TaxonomyTerm.objects.filter(taxonomy__name=NEEDS, services__network=network)
        .distinct()
        .order_by("name", "pk")
        .values_list("pk", "name")
    )
