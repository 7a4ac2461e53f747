"""Writes to the directory: a listing's own edits, capacity updates, verification, search text and
match keys, default vocabularies."""

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.directory.models import (
    Address,
    CapacityReading,
    CapacityUnit,
    Language,
    Location,
    Organization,
    Phone,
    Service,
    ServiceAtLocation,
    ServiceAttribute,
    ServiceCapacity,
    Status,
    Taxonomy,
    TaxonomyTerm,
)
from referloop.directory.postal import US_ZIP
from referloop.directory.search import GENDERS, LANGUAGE_CODE, LANGUAGE_NAMES
from referloop.directory.selectors import location_shared, postal_code_point
from referloop.directory.vocabulary import NEEDS, PAYMENT, POPULATIONS, VOCABULARIES

# The vocabularies whose terms search scores, so whose terms are in `Service.match_keys` (the
# need is a hard filter, read from the attributes' index). Fewer keys, fewer distinct
# `eligibility_key`s for search to score.
MATCHED_VOCABULARIES = (POPULATIONS, PAYMENT)


def vocabulary_ensure() -> None:
    """Creates Referloop's default taxonomies and terms where missing (idempotent)."""
    for name, (description, terms) in VOCABULARIES.items():
        taxonomy, _ = Taxonomy.objects.get_or_create(
            name=name, defaults={"description": description}
        )
        existing = set(taxonomy.terms.values_list("code", flat=True))
        TaxonomyTerm.objects.bulk_create(
            [
                TaxonomyTerm(taxonomy=taxonomy, code=code, name=label, description=label)
                for code, label in terms
                if code not in existing
            ]
        )


def search_text_compose(*, service: Service, organization_name: str, term_names: list[str]) -> str:
    parts = [
        service.name,
        service.alternate_name,
        organization_name,
        *term_names,
        service.description,
    ]
    return "\n".join(part for part in parts if part)


def search_text_refresh(*, service_ids) -> int:
    """Recomputes `Service.search_text` (the one column both full-text indexes read) in bulk."""
    services = list(
        Service.objects.filter(pk__in=list(service_ids))
        .select_related("organization")
        .prefetch_related("terms")
        .only("pk", "name", "alternate_name", "description", "organization__name", "search_text")
    )
    for service in services:
        service.search_text = search_text_compose(
            service=service,
            organization_name=service.organization.name,
            term_names=[term.name for term in service.terms.all()],
        )
    Service.objects.bulk_update(services, ["search_text"], batch_size=1000)
    return len(services)


def match_keys_compose(*, term_ids, language_codes) -> str:
    """`Service.match_keys` for a service with these taxonomy terms (of MATCHED_VOCABULARIES)
    and languages (codes, "" for a language listed by name only):
    " t:<term id> ... lang lang:<code> ... ", sorted.

    "lang" says the service lists languages at all (so a language it lacks is a misfit, not an
    unknown); codes keep only lower-case letters, digits and hyphens ("es_MX" → "es-mx"), so
    `search` can find "es" as "% lang:es %" or "% lang:es-%", both engines' LIKE agree, and the
    keys never hold the "|" that separates the parts of `Service.eligibility_key`."""
    keys = {f"t:{pk}" for pk in term_ids}
    codes = list(language_codes)
    if codes:
        keys.add("lang")
    for code in codes:
        code = re.sub(r"[^a-z0-9-]+", "", str(code).lower().replace("_", "-"))
        if code:
            keys.add(f"lang:{code}")
    return f" {' '.join(sorted(keys))} " if keys else ""


def match_keys_refresh(*, service_ids) -> None:
    """Recomputes `Service.match_keys` from the services' attributes and languages, in bulk."""
    ids = list(service_ids)
    term_ids, codes = defaultdict(list), defaultdict(list)
    attributes = ServiceAttribute.objects.filter(
        service_id__in=ids, term__taxonomy__name__in=MATCHED_VOCABULARIES
    )
    for service_id, term_id in attributes.values_list("service_id", "term_id"):
        term_ids[service_id].append(term_id)
    for service_id, code in Language.objects.filter(service_id__in=ids).values_list(
        "service_id", "code"
    ):
        codes[service_id].append(code)
    services = [
        Service(
            pk=pk, match_keys=match_keys_compose(term_ids=term_ids[pk], language_codes=codes[pk])
        )
        for pk in ids
    ]
    Service.objects.bulk_update(services, ["match_keys"], batch_size=1000)


COUNT_LIMIT = 100_000  # beds, slots or appointments of one unit: more is a typing error


def _capacity_numbers(available, maximum) -> tuple[int, int | None]:
    for field, value in (("available", available), ("maximum", maximum)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise DomainError("Enter a whole number.", field=field)
        if value is not None and value < 0:
            raise DomainError("Cannot be negative.", field=field)
        if value is not None and value > COUNT_LIMIT:
            raise DomainError(f"At most {COUNT_LIMIT:,}.", field=field)
    if available is None:
        raise DomainError("Enter how many are available now (0 if none).", field="available")
    if maximum is not None and available > maximum:
        raise DomainError(
            f"Available ({available}) cannot be more than the maximum ({maximum}).",
            field="available",
        )
    return available, maximum


# A capacity figure the caller did not give: the unit keeps the one it has.
UNCHANGED = object()


@transaction.atomic
def capacity_update(
    *,
    service: Service,
    unit: str,
    available: int,
    maximum=UNCHANGED,
    waitlist=UNCHANGED,
    actor=None,
    at=None,
) -> ServiceCapacity:
    """Records the current capacity of one unit of a service and keeps its history. A maximum
    or waitlist flag left UNCHANGED keeps the unit's own (none and no waitlist for a new unit),
    and `available` is checked against the maximum that results. This is the unit alone: the
    kinds a feed names ("Men's beds") are kept by the feed (`capacity_readings_record`)."""
    if unit not in CapacityUnit.values:
        raise DomainError(
            f"Unknown unit '{unit}'; use one of: {', '.join(CapacityUnit.values)}.", field="unit"
        )
    capacity = (
        ServiceCapacity.objects.select_for_update()
        .filter(service=service, unit=unit, name="")
        .first()
    )
    if capacity is None:
        capacity = ServiceCapacity(service=service, unit=unit, network_id=service.network_id)
    if maximum is UNCHANGED:
        maximum = capacity.maximum
    if waitlist is UNCHANGED:
        waitlist = capacity.waitlist
    available, maximum = _capacity_numbers(available, maximum)
    now = at or timezone.now()
    capacity.available, capacity.maximum, capacity.waitlist = available, maximum, bool(waitlist)
    capacity.updated_at, capacity.updated_by = now, actor
    capacity.save()
    CapacityReading.objects.create(
        capacity=capacity,
        available=available,
        maximum=maximum,
        waitlist=bool(waitlist),
        recorded_at=now,
        recorded_by=actor,
    )
    service_capacity_summary_refresh(service_ids=[service.pk])
    return capacity


@dataclass(frozen=True, slots=True)
class UnitReading:
    """A count taken elsewhere (a feed), at its own time: `name` is the unit's kind as the
    service calls it ("" for the unit alone)."""

    service_id: int
    unit: str
    name: str
    recorded_at: datetime
    available: int
    maximum: int | None


@dataclass(slots=True)
class RecordedReadings:
    created: int = 0
    corrected: int = 0  # a reading of the same unit and time, with other numbers
    unchanged: int = 0
    units_added: int = 0
    current_moved: int = 0  # units whose current count is now a newer one of these
    current_kept: int = 0  # units whose current count is as recent as these, or more: kept


READING_BATCH = 1000


@transaction.atomic
def capacity_readings_record(*, network, readings: list[UnitReading]) -> RecordedReadings:
    """Records counts taken elsewhere at their own times and keeps their history: each is a
    reading of its unit (one the unit already has at that time is matched, and corrected when
    its numbers differ), units a service does not count yet are added, and each unit's current
    count becomes its latest reading — never an older one. The unit's waitlist flag is kept.

    A few statements whatever the number of readings. The caller has checked the numbers
    (available within the maximum) and that the services are its to count."""
    recorded = RecordedReadings()
    if not readings:
        return recorded
    latest: dict[tuple, UnitReading] = {}
    for reading in readings:
        key = (reading.service_id, reading.unit, reading.name)
        if key not in latest or reading.recorded_at >= latest[key].recorded_at:
            latest[key] = reading
    service_ids = {reading.service_id for reading in readings}
    # Locked, so an update made on a service page meanwhile is not overwritten with older counts.
    units = {
        (capacity.service_id, capacity.unit, capacity.name): capacity
        for capacity in ServiceCapacity.objects.select_for_update().filter(
            service_id__in=service_ids
        )
    }
    added = [
        ServiceCapacity(
            network=network,
            service_id=key[0],
            unit=key[1],
            name=key[2],
            available=reading.available,
            maximum=reading.maximum,
            updated_at=reading.recorded_at,
        )
        for key, reading in latest.items()
        if key not in units
    ]
    ServiceCapacity.objects.bulk_create(added, batch_size=READING_BATCH)
    recorded.units_added = len(added)
    moved = []
    for capacity in units.values():
        reading = latest.get((capacity.service_id, capacity.unit, capacity.name))
        if reading is None:
            continue
        numbers = (reading.available, reading.maximum)
        if reading.recorded_at > capacity.updated_at or (
            reading.recorded_at == capacity.updated_at
            and numbers != (capacity.available, capacity.maximum)
        ):
            capacity.available, capacity.maximum = numbers
            capacity.updated_at, capacity.updated_by = reading.recorded_at, None
            moved.append(capacity)
        else:
            recorded.current_kept += 1
    ServiceCapacity.objects.bulk_update(
        moved, ["available", "maximum", "updated_at", "updated_by"], batch_size=READING_BATCH
    )
    recorded.current_moved = len(moved)
    units.update({(c.service_id, c.unit, c.name): c for c in added})
    _readings_write(readings, units, recorded)
    service_capacity_summary_refresh(service_ids={c.service_id for c in [*added, *moved]})
    return recorded


def _readings_write(readings, units: dict, recorded: RecordedReadings) -> None:
    """The readings: new ones inserted, those the units have at the same time matched."""
    pairs = [
        (reading, units[(reading.service_id, reading.unit, reading.name)]) for reading in readings
    ]
    times = [reading.recorded_at for reading in readings]
    existing = {
        (row.capacity_id, row.recorded_at): row
        for row in CapacityReading.objects.filter(
            capacity_id__in={capacity.pk for _, capacity in pairs},
            recorded_at__gte=min(times),
            recorded_at__lte=max(times),
        )
    }
    new, corrected = [], []
    for reading, capacity in pairs:
        row = existing.get((capacity.pk, reading.recorded_at))
        if row is None:
            new.append(
                CapacityReading(
                    capacity=capacity,
                    available=reading.available,
                    maximum=reading.maximum,
                    waitlist=capacity.waitlist,
                    recorded_at=reading.recorded_at,
                )
            )
        elif (row.available, row.maximum) != (reading.available, reading.maximum):
            row.available, row.maximum = reading.available, reading.maximum
            corrected.append(row)
        else:
            recorded.unchanged += 1
    CapacityReading.objects.bulk_create(new, batch_size=READING_BATCH)
    CapacityReading.objects.bulk_update(
        corrected, ["available", "maximum"], batch_size=READING_BATCH
    )
    recorded.created, recorded.corrected = len(new), len(corrected)


def service_capacity_summary_refresh(*, service_ids) -> None:
    """Sets each service's `has_capacity` (any unit with a place free) and
    `capacity_updated_at` (its latest count) in one statement."""
    units = ServiceCapacity.objects.filter(service=OuterRef("pk"))
    latest = units.order_by("-updated_at").values("updated_at")[:1]
    Service.objects.filter(pk__in=list(service_ids)).update(
        has_capacity=Exists(units.filter(available__gt=0)), capacity_updated_at=Subquery(latest)
    )


@transaction.atomic
def listing_verify(*, service: Service, actor=None) -> Service:
    """Marks a service (and its organization) as checked and correct today."""
    now = timezone.now()
    Service.objects.filter(pk=service.pk).update(last_verified_at=now, updated_at=now)
    Organization.objects.filter(pk=service.organization_id).update(last_verified_at=now)
    service.last_verified_at = now
    return service


# What the agency that runs a listing edits of it, besides its terms and languages. Capacity has
# its own two-second update; ids, links and the organization come from the directory's source.
LISTING_FIELDS = (
    "name",
    "alternate_name",
    "description",
    "status",
    "alert",
    "url",
    "email",
    "application_process",
    "wait_time",
    "fees_description",
    "eligibility_description",
    "minimum_age",
    "maximum_age",
    "genders_served",
    "court_ordered_accepted",
)


def _listing_checked(service: Service, changes: dict, languages) -> None:
    """The rules a listing keeps whatever the form or API call: DomainError with the field."""
    name = changes.get("name", service.name)
    if not (name or "").strip():
        raise DomainError("Name: a listing needs a name.", field="name")
    if changes.get("status", service.status) not in Status.values:
        raise DomainError(f"Status: use one of: {', '.join(Status.values)}.", field="status")
    low = changes.get("minimum_age", service.minimum_age)
    high = changes.get("maximum_age", service.maximum_age)
    for field, age in (("minimum_age", low), ("maximum_age", high)):
        if age is not None and not 0 <= age <= 120:
            raise DomainError(f"{_label(field)}: a whole number from 0 to 120.", field=field)
    if low is not None and high is not None and low > high:
        raise DomainError(
            f"Maximum age: {high} is below the minimum age ({low}).", field="maximum_age"
        )
    unknown = set(changes.get("genders_served", [])) - set(GENDERS)
    if unknown:
        raise DomainError(
            f"Genders served: use {', '.join(GENDERS)} (not {', '.join(sorted(unknown))}).",
            field="genders_served",
        )
    for field, label, check, what in (
        ("email", "E-mail", validate_email, "an e-mail address"),
        ("url", "Website", URLValidator(schemes=["http", "https"]), "a web address (https://…)"),
    ):
        value = (changes.get(field) or "").strip()
        try:
            if value:
                check(value)
        except ValidationError:
            raise DomainError(f"{label}: '{value}' is not {what}.", field=field) from None
    bad = [code for code in languages or [] if not LANGUAGE_CODE.match(code)]
    if bad:
        raise DomainError(
            f"Languages: '{bad[0]}' is not a language code such as en, es or es-mx.",
            field="languages",
        )


def _label(field: str) -> str:
    return field.replace("_", " ").capitalize()


# The listing's terms by the name a form or API call gives each of Referloop's vocabularies.
LISTING_VOCABULARIES = {"needs": NEEDS, "populations": POPULATIONS, "payment": PAYMENT}


def _vocabulary_terms(terms: dict[str, list[str]]) -> dict[str, list[TaxonomyTerm]]:
    """Each vocabulary's chosen terms, by their codes: DomainError for a code it lacks."""
    unknown = set(terms) - set(LISTING_VOCABULARIES)
    if unknown:
        raise TypeError(f"listing_update knows no vocabulary {', '.join(sorted(unknown))}")
    found = defaultdict(dict)
    wanted = [LISTING_VOCABULARIES[field] for field in terms]
    for term in TaxonomyTerm.objects.filter(taxonomy__name__in=wanted).select_related("taxonomy"):
        found[term.taxonomy.name][term.code] = term
    chosen = {}
    for field, codes in terms.items():
        known = found[LISTING_VOCABULARIES[field]]
        missing = [code for code in codes if code not in known]
        if missing:
            raise DomainError(
                f"{_label(field)}: '{missing[0]}' is not a code of {LISTING_VOCABULARIES[field]}; "
                f"use one of: {', '.join(sorted(known))}.",
                field=field,
            )
        chosen[field] = [known[code] for code in dict.fromkeys(codes)]
    return chosen


@dataclass(frozen=True, slots=True)
class ListingPlace:
    """Where a new listing is: a street address; its ZIP code's centroid places it on the map
    (no geocoder), so searches by distance find it."""

    address_1: str
    city: str
    state_province: str
    postal_code: str
    address_2: str = ""


def _place_checked(place: ListingPlace):
    """The place's ZIP centroid, once its parts are sound: DomainError with the field."""
    for field, label in (
        ("address_1", "Street address"),
        ("city", "City"),
        ("state_province", "State"),
    ):
        if not getattr(place, field).strip():
            raise DomainError(f"{label}: needed for a place on the map.", field=field)
    if not US_ZIP.match(place.postal_code.strip()):
        raise DomainError("ZIP code: 5 digits (or ZIP+4), e.g. 62701.", field="postal_code")
    point = postal_code_point(code=place.postal_code)
    if point is None:
        raise DomainError(
            f"ZIP code: {place.postal_code.strip()} is not in the ZIP code table.",
            field="postal_code",
        )
    return point


@transaction.atomic
def listing_update(
    *,
    service: Service,
    changes: dict,
    terms: dict[str, list[str]] | None = None,
    languages: list[str] | None = None,
    place: ListingPlace | None = None,
    phone: str | None = None,
    verified: bool = False,
    actor=None,
) -> Service:
    """Changes what a listing says (see _listing_write), with an audit row naming what changed."""
    changed = _listing_write(
        service=service,
        changes=changes,
        terms=terms,
        languages=languages,
        place=place,
        phone=phone,
        verified=verified,
        actor=actor,
    )
    _listing_audited(
        "listing_update",
        service,
        actor=actor,
        fields=changed,
        parts=_parts_given(terms, languages, place, phone),
        verified=verified,
    )
    return service


def _parts_given(terms, languages, place, phone) -> list[str]:
    # No vocabulary given is no terms given: the terms were not set.
    given = {"terms": terms or None, "languages": languages, "place": place, "phone": phone}
    return [part for part, value in given.items() if value is not None]


def _listing_audited(action: str, service, *, actor, fields, parts, verified: bool) -> None:
    """Who edited a listing: the fields whose value changed and the parts set (by their names;
    the listing shows the values)."""
    audit_record(
        action=action,
        user=actor,
        agency=service.agency,
        obj=service,
        detail={"fields": sorted(fields), "parts": parts, "verified": verified},
    )


def _listing_write(
    *,
    service: Service,
    changes: dict,
    terms: dict[str, list[str]] | None,
    languages: list[str] | None,
    place: ListingPlace | None,
    phone: str | None,
    verified: bool,
    actor,
) -> list[str]:
    """Changes what a listing says, and returns the names of the LISTING_FIELDS whose value
    changed: `changes` of LISTING_FIELDS; `terms` ({"needs": [codes],
    "populations": ..., "payment": ...}) become its terms of those of Referloop's vocabularies
    (the others, and imported taxonomies' terms, stay as they are); `languages` (ISO codes,
    when given) become the languages it is offered in; `place` becomes the address of its one
    location (see _place_write); `phone` its phone number ("" removes it). `verified` also
    marks it checked today, as whoever edits a listing has just read it whole.

    Keeps its search text and match keys in step. Raises DomainError (with the field) when a
    rule is broken — no name, an unknown status, gender or term, ages out of order, a malformed
    language code, a ZIP code not in the table, a place for a listing at several locations —
    and the caller's transaction undoes whatever was written."""
    unknown = set(changes) - set(LISTING_FIELDS)
    if unknown:
        raise TypeError(f"listing_update cannot change {', '.join(sorted(unknown))}")
    languages = [code.strip().lower() for code in languages] if languages is not None else None
    _listing_checked(service, changes, languages)
    if phone is not None and len(phone.strip()) > 50:
        raise DomainError("Phone: at most 50 characters.", field="phone")
    point = _place_checked(place) if place is not None else None
    chosen_terms = _vocabulary_terms(terms or {})
    now = timezone.now()
    changed = []
    if changes.get("genders_served"):  # each once, in the order given
        changes = {**changes, "genders_served": list(dict.fromkeys(changes["genders_served"]))}
    for field, value in changes.items():
        value = value.strip() if isinstance(value, str) else value
        if getattr(service, field) != value:
            changed.append(field)
        setattr(service, field, value)
    service.updated_at = now
    service.save(update_fields=[*changes, "updated_at"])
    for field, vocabulary_terms in chosen_terms.items():
        own = ServiceAttribute.objects.filter(
            service=service, term__taxonomy__name=LISTING_VOCABULARIES[field]
        )
        chosen = {term.pk for term in vocabulary_terms}
        own.exclude(term_id__in=chosen).delete()
        present = set(own.values_list("term_id", flat=True))
        ServiceAttribute.objects.bulk_create(
            [ServiceAttribute(service=service, term_id=pk) for pk in sorted(chosen - present)]
        )
    if languages is not None:
        # Rows of languages kept stay as they are (an imported row keeps its source id and note),
        # as do those an import named without a code, which no code can choose or drop.
        listed = Language.objects.filter(service=service).exclude(code="")
        listed.exclude(code__in=languages).delete()
        present = set(Language.objects.filter(service=service).values_list("code", flat=True))
        Language.objects.bulk_create(
            [
                Language(
                    network_id=service.network_id,
                    service=service,
                    code=code,
                    name=LANGUAGE_NAMES.get(code, code),
                )
                for code in dict.fromkeys(languages)  # once each, in the order given
                if code not in present
            ]
        )
    if place is not None:
        _place_write(service, place, point)
    if phone is not None:
        _phone_write(service, phone.strip())
    search_text_refresh(service_ids=[service.pk])
    match_keys_refresh(service_ids=[service.pk])
    if verified:
        listing_verify(service=service, actor=actor)
    service.refresh_from_db()
    return changed


def service_terms_set(*, service: Service, terms) -> None:
    """Replaces the service's taxonomy terms and refreshes its search text and match keys."""
    ServiceAttribute.objects.filter(service=service).delete()
    ServiceAttribute.objects.bulk_create(
        [ServiceAttribute(service=service, term=term) for term in terms]
    )
    search_text_refresh(service_ids=[service.pk])
    match_keys_refresh(service_ids=[service.pk])


def service_languages_set(*, service: Service, languages) -> None:
    """Replaces the languages the service itself is offered in (`languages`: (code, name)
    pairs) and refreshes its match keys."""
    Language.objects.filter(service=service).delete()
    Language.objects.bulk_create(
        [
            Language(network_id=service.network_id, service=service, code=code, name=name)
            for code, name in languages
        ]
    )
    match_keys_refresh(service_ids=[service.pk])


def _place_write(service: Service, place: ListingPlace, point) -> None:
    """The service's one location gets `place` as its physical address; one is made (under the
    service's organization) when it has none, or when the location is a site other listings
    share: those stay where they are, and this listing moves to a location of its own. The map
    point moves to the ZIP code's centroid only when the ZIP code changes or there was none: a
    point imported from a geocoded source is more precise than a centroid."""
    links = list(ServiceAtLocation.objects.filter(service=service).select_related("location")[:2])
    if len(links) > 1:
        raise DomainError(
            "Street address: this listing is at several locations; change them where the "
            "directory is imported from.",
            field="address_1",
        )
    parts = {
        "address_1": place.address_1.strip(),
        "address_2": place.address_2.strip(),
        "city": place.city.strip(),
        "state_province": place.state_province.strip(),
        "postal_code": place.postal_code.strip(),
    }
    if not links:
        ServiceAtLocation.objects.create(
            network_id=service.network_id,
            service=service,
            location=_location_made(service, parts, point),
        )
        return
    link = links[0]
    location = link.location
    address = location.addresses.filter(address_type="physical").order_by("pk").first()
    unchanged = address is not None and all(
        getattr(address, field) == value for field, value in parts.items()
    )
    moved = address is None or address.postal_code.strip()[:5] != parts["postal_code"][:5]
    # Its own point where it has one and the ZIP code stays: a geocoded point beats a centroid.
    where = point if moved or location.latitude is None else location
    if not unchanged and location_shared(location, but=service):
        link.location = _location_made(service, parts, where)
        link.save(update_fields=["location"])
        return
    if where is point:
        location.latitude, location.longitude = point.latitude, point.longitude
        location.save(update_fields=["latitude", "longitude"])
    if address is None:
        Address.objects.create(network_id=service.network_id, location=location, **parts)
    else:
        for field, value in parts.items():
            setattr(address, field, value)
        address.save(update_fields=list(parts))


def _location_made(service: Service, parts: dict, point) -> Location:
    """A new location of the service's organization, named after the service, at `point`
    (anything with a latitude and longitude), with `parts` as its physical address."""
    location = Location.objects.create(
        network_id=service.network_id,
        organization_id=service.organization_id,
        name=service.name,
        latitude=point.latitude,
        longitude=point.longitude,
    )
    Address.objects.create(network_id=service.network_id, location=location, **parts)
    return location


def _phone_write(service: Service, number: str) -> None:
    """The service's own first phone becomes `number`; "" removes it."""
    phone = Phone.objects.filter(service=service).order_by("pk").first()
    if not number:
        if phone is not None:
            phone.delete()
    elif phone is None:
        Phone.objects.create(network_id=service.network_id, service=service, number=number)
    elif phone.number != number:
        phone.number = number
        phone.save(update_fields=["number"])


@transaction.atomic
def listing_create(
    *,
    agency,
    changes: dict,
    place: ListingPlace | None = None,
    phone: str | None = None,
    terms: dict[str, list[str]] | None = None,
    languages: list[str] | None = None,
    actor=None,
) -> Service:
    """A new listing in the agency's network directory, run by the agency: under the directory
    organization linked to it (one named after the agency is made the first time), checked as
    of today. The rest is as for listing_update, whose rules it keeps. Raises DomainError (with
    the field) and makes nothing when a rule is broken (what was written before the check is
    rolled back)."""
    if not (changes.get("name") or "").strip():
        raise DomainError("Name: a listing needs a name.", field="name")
    network_id = agency.network_id
    organization = (
        Organization.objects.filter(agency=agency, network_id=network_id).order_by("pk").first()
    )
    if organization is None:
        organization = Organization.objects.create(
            network_id=network_id, agency=agency, name=agency.name
        )
    service = Service.objects.create(
        network_id=network_id,
        organization=organization,
        agency=agency,
        name=changes["name"].strip(),
        created_at=timezone.now(),
    )
    _listing_write(
        service=service,
        changes=changes,
        place=place,
        phone=phone,
        terms=terms,
        languages=languages,
        verified=True,
        actor=actor,
    )
    _listing_audited(
        "listing_create",
        service,
        actor=actor,
        fields=list(changes),
        parts=_parts_given(terms, languages, place, phone),
        verified=True,
    )
    return service
