"""The network's resource directory, shaped on Open Referral HSDS 3.0 (organization, service,
location, service_at_location, phone, contact, schedule, address, service_area, language,
taxonomy, taxonomy_term, attribute, required_document) plus HSDS 3.1's service_capacity.

The directory belongs to a network, not to one agency: every agency of the network reads it. An
organization may be linked to the Agency that runs it on Referloop; only that agency (and network
staff) edit its entries (`directory.permissions`). Every row keeps an `hsds_id` (the UUID we export)
and a `source_id` (the id it had in the file it was imported from, for idempotent re-import).
"""

import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Cast, Coalesce, Concat, Greatest, Lower
from django.utils import timezone

from referloop.core.models import Agency, Network

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def service_freshness():
    """A service's freshness: the later of last verified and capacity updated (never NULL).

    Search orders by exactly this expression, and the `service_fresh_*` indexes are built on it,
    so that a search ranked by freshness alone reads the first page straight from the index."""
    return Greatest(
        Coalesce("last_verified_at", Value(EPOCH)), Coalesce("capacity_updated_at", Value(EPOCH))
    )


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    DEFUNCT = "defunct", "Defunct"
    TEMPORARILY_CLOSED = "temporarily closed", "Temporarily closed"


class CapacityUnit(models.TextChoices):
    BEDS = "beds", "beds"
    SLOTS = "slots", "slots"
    APPOINTMENTS = "appointments", "appointments"


class LocationType(models.TextChoices):
    PHYSICAL = "physical", "Physical"
    POSTAL = "postal", "Postal"
    VIRTUAL = "virtual", "Virtual"


class DirectoryQuerySet(models.QuerySet):
    """The directory's side of the scoping chokepoint: its rows are shared by a network, so a
    member of an agency sees the rows of that agency's network (`get_for_user_or_404` calls
    `visible_to`), and the public pages see every network's rows through `published`."""

    def for_network(self, network):
        return self.filter(network=network) if network is not None else self.none()

    def visible_to(self, user, agency):
        if agency is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if not agency.memberships.filter(user=user, is_active=True).exists():
            return self.none()
        return self.for_network(agency.network_id)

    def published(self):
        return self.exclude(status=Status.DEFUNCT) if self.model is Service else self.all()


class HsdsRecord(models.Model):
    """Identity every directory row shares: our exported UUID and the id it was imported with."""

    hsds_id = models.UUIDField(default=uuid.uuid4, editable=False)
    source_id = models.CharField(max_length=200, blank=True)
    # Indexed by the (network, hsds_id) constraint every table has: a second index on network
    # alone would only slow the imports' writes.
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        abstract = True


def _source_unique(model_name: str) -> list:
    return [
        models.UniqueConstraint(
            fields=["network", "source_id"],
            condition=~Q(source_id=""),
            name=f"{model_name}_source_unique",
        ),
        models.UniqueConstraint(fields=["network", "hsds_id"], name=f"{model_name}_hsds_unique"),
    ]


class Taxonomy(models.Model):
    """A vocabulary of terms (e.g. Referloop's needs list, Open Eligibility, AIRS/211)."""

    hsds_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    uri = models.URLField(max_length=500, blank=True)
    version = models.CharField(max_length=50, blank=True)

    class Meta:
        verbose_name_plural = "taxonomies"

    def __str__(self):
        return self.name


class TaxonomyTerm(models.Model):
    hsds_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="terms")
    code = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    term_uri = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["taxonomy__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "code"], name="term_code_unique")
        ]

    def __str__(self):
        return self.name


class Organization(HsdsRecord):
    agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="directory_organizations",
        db_index=False,  # org_agency_verified leads with it
        help_text="The Referloop agency that runs this organization and keeps its listing.",
    )
    name = models.CharField(max_length=300)
    alternate_name = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    email = models.EmailField(max_length=254, blank=True)
    website = models.URLField(max_length=500, blank=True)
    tax_status = models.CharField(max_length=100, blank=True)
    legal_status = models.CharField(max_length=100, blank=True)
    year_incorporated = models.PositiveSmallIntegerField(null=True, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = _source_unique("organization")
        indexes = [models.Index(fields=["agency", "last_verified_at"], name="org_agency_verified")]

    def __str__(self):
        return self.name


class Service(HsdsRecord):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="services", db_index=False
    )  # indexed as service_organization
    # Copied from the organization so the worklist and edit checks are one indexed filter
    # (service_agency_verified, which leads with it).
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    name = models.CharField(max_length=300)
    alternate_name = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    alert = models.TextField(blank=True, help_text="A short notice shown above everything else.")
    interpretation_services = models.TextField(blank=True)
    application_process = models.TextField(blank=True)
    wait_time = models.CharField(max_length=300, blank=True)
    fees_description = models.TextField(blank=True)
    accreditations = models.TextField(blank=True)
    licenses = models.TextField(blank=True)
    # Eligibility: structured where matching needs it, free text for the rest.
    eligibility_description = models.TextField(blank=True)
    minimum_age = models.PositiveSmallIntegerField(null=True, blank=True)
    maximum_age = models.PositiveSmallIntegerField(null=True, blank=True)
    # Only for gender-specific programs (e.g. a women's house); empty means open to everyone.
    genders_served = models.JSONField(default=list, blank=True)
    court_ordered_accepted = models.BooleanField(null=True, blank=True)
    terms = models.ManyToManyField(
        TaxonomyTerm, through="ServiceAttribute", related_name="services", blank=True
    )
    # Capacity summary kept by directory.services.capacity_update, so "has capacity now" and the
    # badge are read from the service row itself.
    has_capacity = models.BooleanField(default=False)
    capacity_updated_at = models.DateTimeField(null=True, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    # Everything free-text search looks at, in one column (kept by directory.services).
    search_text = models.TextField(blank=True, editable=False)
    # What eligibility search checks membership in — the service's taxonomy terms and spoken
    # languages — as space-delimited keys (" t:12 t:40 lang lang:es ", see
    # directory.services.match_keys_compose), so each check is one LIKE on the row search reads
    # anyway instead of a join. Kept by directory.services with search_text.
    match_keys = models.TextField(blank=True, default="", editable=False)
    # Everything search's soft criteria read, in one value the database computes: services with
    # the same key fit any described person alike, so search scores the few distinct keys
    # instead of every service (`search._tiers`). `match_keys` has no "|" and goes before the
    # one part that may (the genders' JSON), so different rows never share a key by accident.
    eligibility_key = models.GeneratedField(
        expression=Concat(
            "status",
            Value("|"),
            Cast("minimum_age", models.TextField()),
            Value("|"),
            Cast("maximum_age", models.TextField()),
            Value("|"),
            Cast("court_ordered_accepted", models.TextField()),
            Value("|"),
            "match_keys",
            Value("|"),
            Cast("genders_served", models.TextField()),
            output_field=models.TextField(),
        ),
        output_field=models.TextField(),
        db_persist=True,
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            *_source_unique("service"),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="service_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(minimum_age__isnull=True)
                | Q(maximum_age__isnull=True)
                | Q(minimum_age__lte=models.F("maximum_age")),
                name="service_age_range_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["network", "status", "has_capacity"], name="service_search_filter"
            ),
            # Search with criteria counts the candidates per eligibility_key (an index-only scan
            # of this on PostgreSQL, as cheap as counting them), then reads the page's keys.
            models.Index(
                fields=["network", "status", "eligibility_key", "has_capacity", "id"],
                name="service_search_tiers",
            ),
            # The same for the public directory, which searches every network's active services.
            models.Index(
                fields=["eligibility_key", "has_capacity", "id"],
                name="service_public_tiers",
                condition=Q(status="active"),
            ),
            models.Index(fields=["agency", "last_verified_at"], name="service_agency_verified"),
            models.Index(fields=["organization"], name="service_organization"),
            # The directory's default order (freshest first, then name) for active services:
            # one network's directory, and the public one across networks.
            models.Index(
                F("network"),
                service_freshness().desc(),
                F("name"),
                F("id"),
                name="service_fresh_network",
                condition=Q(status="active"),
            ),
            models.Index(
                service_freshness().desc(),
                F("name"),
                F("id"),
                name="service_fresh_public",
                condition=Q(status="active"),
            ),
        ]

    def __str__(self):
        return self.name


class ServiceAttribute(models.Model):
    """HSDS `attribute` linking a taxonomy term to a service (needs, populations, payment...)."""

    hsds_id = models.UUIDField(default=uuid.uuid4, editable=False)
    # Both indexed by the two composite indexes below, each leading with one of them.
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="attributes", db_index=False
    )
    term = models.ForeignKey(
        TaxonomyTerm, on_delete=models.CASCADE, related_name="attributes", db_index=False
    )
    value = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "term"], name="service_term_unique")
        ]
        indexes = [models.Index(fields=["term", "service"], name="attribute_term_service")]

    def __str__(self):
        return f"{self.service_id} · {self.term_id}"


class Location(HsdsRecord):
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="locations"
    )
    location_type = models.CharField(
        max_length=10, choices=LocationType.choices, default=LocationType.PHYSICAL
    )
    name = models.CharField(max_length=300, blank=True)
    alternate_name = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    transportation = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            *_source_unique("location"),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="location_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="location_longitude_range",
            ),
        ]

    def __str__(self):
        return self.name or f"Location {self.hsds_id}"


class Address(HsdsRecord):
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="addresses")
    address_type = models.CharField(
        max_length=10,
        choices=[("physical", "Physical"), ("postal", "Postal"), ("virtual", "Virtual")],
        default="physical",
    )
    attention = models.CharField(max_length=200, blank=True)
    address_1 = models.CharField(max_length=300)
    address_2 = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=200)
    region = models.CharField(max_length=200, blank=True)
    state_province = models.CharField(max_length=100)
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2, default="US")

    class Meta:
        verbose_name_plural = "addresses"
        constraints = _source_unique("address")

    def __str__(self):
        return f"{self.address_1}, {self.city}"


class ServiceAtLocation(HsdsRecord):
    service = models.ForeignKey(  # indexed by sal_service_location_unique
        Service, on_delete=models.CASCADE, related_name="service_at_locations", db_index=False
    )
    location = models.ForeignKey(
        Location, on_delete=models.CASCADE, related_name="service_at_locations"
    )
    description = models.TextField(blank=True)
    # The location's point, copied here by the database (the triggers of `directory.points`,
    # on every write of either table) so a search by distance reads one table, not two.
    latitude = models.FloatField(null=True, blank=True, editable=False)
    longitude = models.FloatField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            *_source_unique("sal"),
            models.UniqueConstraint(
                fields=["service", "location"], name="sal_service_location_unique"
            ),
        ]
        indexes = [
            # The bounding-box prefilter of a search by distance.
            models.Index(fields=["latitude", "longitude"], name="sal_lat_lon"),
            # A service's points, read from the index alone.
            models.Index(fields=["service", "latitude", "longitude"], name="sal_service_point"),
        ]

    def __str__(self):
        return f"{self.service_id} at {self.location_id}"


class Contact(HsdsRecord):
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="contacts"
    )
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    department = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    # A partner person's further addresses (the CRM's "e-mail(s)"); `email` is the one used.
    other_emails = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        constraints = _source_unique("contact")
        indexes = [
            # Likely duplicates: the same address in a network, and people of one organization.
            models.Index(F("network"), Lower("email"), name="contact_network_email"),
            models.Index(fields=["organization", "name"], name="contact_organization_name"),
        ]

    def __str__(self):
        return self.name or self.email


class Phone(HsdsRecord):
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    number = models.CharField(max_length=50)
    extension = models.CharField(max_length=20, blank=True)
    type = models.CharField(max_length=20, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        constraints = _source_unique("phone")

    def __str__(self):
        return self.number


class Schedule(HsdsRecord):
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    freq = models.CharField(max_length=10, blank=True)  # RFC 5545: WEEKLY, MONTHLY
    byday = models.CharField(max_length=50, blank=True)  # e.g. "MO,TU,WE"
    opens_at = models.TimeField(null=True, blank=True)
    closes_at = models.TimeField(null=True, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        constraints = _source_unique("schedule")

    def __str__(self):
        return self.description or f"{self.byday} {self.opens_at}–{self.closes_at}"


class ServiceArea(HsdsRecord):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="service_areas")
    name = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    extent = models.TextField(blank=True)
    extent_type = models.CharField(max_length=20, blank=True)

    class Meta:
        constraints = _source_unique("service_area")

    def __str__(self):
        return self.name or self.extent[:60]


class Language(HsdsRecord):
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="languages"
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="languages"
    )
    phone = models.ForeignKey(
        Phone, null=True, blank=True, on_delete=models.CASCADE, related_name="languages"
    )
    name = models.CharField(max_length=100, blank=True)
    code = models.CharField(max_length=20, blank=True, db_index=True)  # ISO 639 (e.g. "es")
    note = models.TextField(blank=True)

    class Meta:
        constraints = _source_unique("language")

    def __str__(self):
        return self.name or self.code


class RequiredDocument(HsdsRecord):
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="required_documents"
    )
    document = models.CharField(max_length=300)
    uri = models.URLField(max_length=500, blank=True)

    class Meta:
        constraints = _source_unique("required_document")

    def __str__(self):
        return self.document


class ServiceCapacity(HsdsRecord):
    """HSDS 3.1 service_capacity: available and maximum units (beds, slots, appointments).

    A service counts each unit once, or several kinds of it under their own names (HSDS 3.1's
    `unit.name`): a shelter's "Men's beds" and "Women's beds" are two capacities in beds."""

    service = models.ForeignKey(  # indexed by capacity_service_unit_unique
        Service, on_delete=models.CASCADE, related_name="capacities", db_index=False
    )
    unit = models.CharField(max_length=20, choices=CapacityUnit.choices, default=CapacityUnit.BEDS)
    name = models.CharField(
        max_length=100,
        blank=True,
        help_text="The kind of bed or place, as the agency calls it (e.g. Men's beds); "
        "blank for the unit alone.",
    )
    available = models.PositiveIntegerField(default=0)
    maximum = models.PositiveIntegerField(null=True, blank=True)
    waitlist = models.BooleanField(default=False)
    description = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "service capacities"
        constraints = [
            *_source_unique("capacity"),
            models.UniqueConstraint(
                fields=["service", "unit", "name"], name="capacity_service_unit_unique"
            ),
            models.CheckConstraint(
                condition=Q(maximum__isnull=True) | Q(available__lte=models.F("maximum")),
                name="capacity_available_within_maximum",
            ),
        ]

    def __str__(self):
        return f"{self.available}/{self.maximum or '?'} {self.label}"

    @property
    def label(self) -> str:
        """What is counted, as pages and reasons name it: "Men's beds", else "beds"."""
        return self.name or self.get_unit_display()


class CapacityReading(models.Model):
    """One capacity update as it was made: the history behind capacity-over-time charts."""

    capacity = models.ForeignKey(  # indexed by reading_capacity_time
        ServiceCapacity, on_delete=models.CASCADE, related_name="readings", db_index=False
    )
    available = models.PositiveIntegerField()
    maximum = models.PositiveIntegerField(null=True, blank=True)
    waitlist = models.BooleanField(default=False)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-recorded_at"]
        indexes = [models.Index(fields=["capacity", "-recorded_at"], name="reading_capacity_time")]

    def __str__(self):
        return f"{self.available}/{self.maximum or '?'} at {self.recorded_at:%Y-%m-%d %H:%M}"


class PostalCode(models.Model):
    """Postal-code centroids loaded from a packaged table, so distance from a ZIP needs no
    geocoder at run time."""

    country = models.CharField(max_length=2, default="US")
    code = models.CharField(max_length=10)
    latitude = models.FloatField()
    longitude = models.FloatField()
    city = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=50, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["country", "code"], name="postal_code_unique")
        ]

    def __str__(self):
        return self.code
