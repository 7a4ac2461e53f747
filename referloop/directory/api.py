"""The directory API: search with reasons, one service, its capacity history and update.

Everything is the token agency's network's directory; a service of another network is a 404
(with an `access_denied` audit row), never a 403 that would confirm it exists. Only staff of the
agency that runs a listing (or installation staff) update its capacity.
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from ninja import Query, Router, Schema
from ninja import Status as HttpStatus
from ninja.errors import HttpError
from pydantic import Field, StringConstraints

from referloop.core.access import api_require
from referloop.core.audit import audit_record
from referloop.core.idempotency import idempotent
from referloop.core.models import AuditEvent
from referloop.core.permissions import Perm
from referloop.core.schemas import (
    NO_NUL,
    Code,
    DomainErrorOut,
    ErrorOut,
    InputSchema,
    Text,
    ValidationErrorOut,
)
from referloop.core.scoping import get_for_user_or_404
from referloop.directory import selectors, services
from referloop.directory.models import CapacityUnit, Service
from referloop.directory.permissions import can_edit_listing
from referloop.directory.search import (
    DEFAULT_PER_PAGE,
    MAX_PAGE,
    MAX_PER_PAGE,
    MAX_WITHIN_MILES,
    DirectoryQuery,
    directory_search,
)

router = Router(tags=["directory"])

Language = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]


class SearchParams(Schema):
    q: str = Field("", max_length=200, pattern=NO_NUL, description="Search words (all must match)")
    need: str = Field("", max_length=100, pattern=NO_NUL, description="A 'Referloop needs' code")
    population: str = Field(
        "", max_length=100, pattern=NO_NUL, description="A 'Referloop populations' code"
    )
    insurance: str = Field(
        "", max_length=100, pattern=NO_NUL, description="A 'Referloop payment' code"
    )
    age: int | None = Field(None, ge=0, le=120, description="The person's age")
    gender: Literal["female", "male", "nonbinary"] | None = Field(
        None, description="Used only for gender-specific programs"
    )
    court_ordered: bool = Field(False, description="The person is court-ordered to treatment")
    language: str = Field(
        "", max_length=20, pattern=r"^([A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?)?$", description="ISO 639"
    )
    postal_code: str = Field(
        "", max_length=10, pattern=r"^(\d{5}(-\d{4})?)?$", description="US ZIP code"
    )
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    within_miles: float | None = Field(
        None, gt=0, le=MAX_WITHIN_MILES, allow_inf_nan=False, description="Default 25"
    )
    has_capacity: bool = Field(False, description="Only services with a bed/slot free now")
    include_inactive: bool = Field(False, description="Also inactive and closed services")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    per_page: int = Field(DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE)

    def to_query(self) -> DirectoryQuery:
        return DirectoryQuery(
            text=self.q,
            need=self.need,
            population=self.population,
            insurance=self.insurance,
            age=self.age,
            gender=self.gender,
            court_ordered=self.court_ordered,
            language=self.language,
            near_lat=self.lat,
            near_lon=self.lon,
            postal_code=self.postal_code,
            within_miles=self.within_miles,
            has_capacity=self.has_capacity,
            include_inactive=self.include_inactive,
            page=self.page,
            per_page=self.per_page,
        )


UNIT_NAME = "The kind of bed or place (e.g. Men's beds); empty for the unit alone"


class CapacityOut(Schema):
    unit: str
    name: str = Field(description=UNIT_NAME)
    available: int
    maximum: int | None
    waitlist: bool
    updated_at: datetime
    stale: bool


class CapacityReadingOut(Schema):
    recorded_at: datetime
    available: int
    maximum: int | None
    waitlist: bool


class CapacityHistoryOut(Schema):
    unit: str
    name: str = Field(description=UNIT_NAME)
    available: int = Field(description="Free now")
    maximum: int | None = Field(description="In all, now")
    in_force_at_since: CapacityReadingOut | None = Field(
        description="The last reading before `since`: the count when the span began"
    )
    readings: list[CapacityReadingOut] = Field(
        description="Each update within the span, oldest first"
    )


class CapacityHistoryListOut(Schema):
    since: datetime
    until: datetime
    units: list[CapacityHistoryOut]


class AddressOut(Schema):
    address_1: str
    address_2: str
    city: str
    state_province: str
    postal_code: str
    country: str


class LocationOut(Schema):
    id: int
    name: str
    latitude: float | None
    longitude: float | None
    addresses: list[AddressOut]


class OrganizationRef(Schema):
    id: int
    name: str


class SearchItemOut(Schema):
    id: int
    hsds_id: UUID
    name: str
    organization: OrganizationRef
    status: str
    distance_miles: float | None
    matched: list[str]
    failed: list[str]
    notes: list[str]
    score: int
    capacities: list[CapacityOut]
    location: LocationOut | None
    last_verified_at: datetime | None


class OriginOut(Schema):
    latitude: float
    longitude: float
    label: str
    within_miles: float


class SearchOut(Schema):
    count: int
    more: bool = Field(
        description="There are more results than `count`: a search near a point or ZIP code "
        "counts up to 1,000 (or to the page asked for)."
    )
    page: int
    per_page: int
    num_pages: int
    origin: OriginOut | None
    items: list[SearchItemOut]


class TermOut(Schema):
    taxonomy: str
    code: str
    name: str


class LanguageOut(Schema):
    code: str
    name: str


class PhoneOut(Schema):
    number: str
    extension: str
    type: str
    description: str


class ScheduleOut(Schema):
    byday: str
    opens_at: str | None
    closes_at: str | None
    description: str


class ContactOut(Schema):
    name: str
    title: str
    email: str
    phones: list[PhoneOut]


class OrganizationOut(Schema):
    id: int
    hsds_id: UUID
    name: str
    description: str
    email: str
    website: str
    phones: list[PhoneOut]


class ServiceOut(Schema):
    id: int
    hsds_id: UUID
    name: str
    alternate_name: str
    description: str
    status: str
    alert: str
    url: str
    email: str
    organization: OrganizationOut
    application_process: str
    fees_description: str
    wait_time: str
    eligibility_description: str
    minimum_age: int | None
    maximum_age: int | None
    genders_served: list[str]
    court_ordered_accepted: bool | None
    terms: list[TermOut]
    languages: list[LanguageOut]
    required_documents: list[str]
    locations: list[LocationOut]
    phones: list[PhoneOut]
    schedules: list[ScheduleOut]
    contacts: list[ContactOut]
    capacities: list[CapacityOut]
    has_capacity: bool
    last_verified_at: datetime | None
    listing_stale: bool
    can_edit: bool


class ListingPlaceIn(InputSchema):
    address_1: Text(300, required=True)
    address_2: Text(300) = ""
    city: Text(200, required=True)
    state_province: Text(100, required=True)
    postal_code: str = Field(
        pattern=r"^[0-9]{5}(-[0-9]{4})?$", description="US ZIP (or ZIP+4): places it on the map"
    )


class ListingIn(InputSchema):
    """Only the fields given change (a PATCH); a list given replaces the listing's list."""

    name: Text(300, required=True) = None
    alternate_name: str = Field(None, max_length=300, pattern=NO_NUL)
    description: str = Field(None, max_length=10_000, pattern=NO_NUL)
    status: Literal["active", "inactive", "defunct", "temporarily closed"] = None
    alert: str = Field(None, max_length=2000, pattern=NO_NUL, description="Shown above all else")
    url: str = Field(None, max_length=500, pattern=NO_NUL)
    email: str = Field(None, max_length=254, pattern=NO_NUL)
    application_process: str = Field(None, max_length=5000, pattern=NO_NUL)
    wait_time: str = Field(None, max_length=300, pattern=NO_NUL)
    fees_description: str = Field(None, max_length=5000, pattern=NO_NUL)
    eligibility_description: str = Field(None, max_length=5000, pattern=NO_NUL)
    minimum_age: int | None = Field(None, ge=0, le=120)
    maximum_age: int | None = Field(None, ge=0, le=120)
    genders_served: list[Literal["female", "male", "nonbinary"]] = Field(
        None, description="Empty: the program serves every gender"
    )
    court_ordered_accepted: bool | None = Field(None, description="null: not stated")
    needs: list[Code] = Field(None, max_length=100, description="'Referloop needs' codes")
    populations: list[Code] = Field(
        None, max_length=100, description="'Referloop populations' codes"
    )
    payment: list[Code] = Field(None, max_length=100, description="'Referloop payment' codes")
    languages: list[Language] = Field(
        None, max_length=100, description="ISO 639 codes, e.g. en, es, es-mx"
    )
    place: ListingPlaceIn = Field(
        None, description="The address of its one location; a new ZIP code moves it on the map"
    )
    phone: str = Field(None, max_length=50, pattern=NO_NUL, description='"" removes it')
    verified: bool = Field(False, description="Also mark the listing verified today")


class ListingCreateIn(ListingIn):
    name: Text(300, required=True)


class CapacityIn(InputSchema):
    unit: CapacityUnit = CapacityUnit.BEDS
    available: int = Field(
        ge=0, le=services.COUNT_LIMIT, description="How many are free now (0 if none)"
    )
    maximum: int | None = Field(
        None,
        ge=0,
        le=services.COUNT_LIMIT,
        description="How many there are in all; left out, the unit keeps its own",
    )
    waitlist: bool = Field(
        False, description="The waitlist is open; left out, the unit keeps its own"
    )


# --- shaping -----------------------------------------------------------------------------------


def _capacity(capacity, stale_days: int) -> dict:
    return {
        "unit": capacity.unit,
        "name": capacity.name,
        "available": capacity.available,
        "maximum": capacity.maximum,
        "waitlist": capacity.waitlist,
        "updated_at": capacity.updated_at,
        "stale": selectors.capacity_is_stale(updated_at=capacity.updated_at, days=stale_days),
    }


def _location(location, addresses) -> dict:
    return {
        "id": location.pk,
        "name": location.name,
        "latitude": location.latitude,
        "longitude": location.longitude,
        "addresses": list(addresses),
    }


def _phone(phone) -> dict:
    return {
        "number": phone.number,
        "extension": phone.extension,
        "type": phone.type,
        "description": phone.description,
    }


def _search_item(result, stale_days: int) -> dict:
    service = result.service
    return {
        "id": service.pk,
        "hsds_id": service.hsds_id,
        "name": service.name,
        "organization": {"id": service.organization_id, "name": service.organization.name},
        "status": service.status,
        "distance_miles": result.distance_miles,
        "matched": result.matched,
        "failed": result.failed,
        "notes": result.notes,
        "score": result.score,
        "capacities": [_capacity(c, stale_days) for c in result.capacities],
        "location": (
            _location(result.location, result.addresses) if result.location is not None else None
        ),
        "last_verified_at": service.last_verified_at,
    }


def _service(service, *, stale_days: int, listing_days: int, can_edit: bool) -> dict:
    organization = service.organization
    since = service.last_verified_at or service.created_at
    return {
        **{
            name: getattr(service, name)
            for name in (
                "hsds_id",
                "name",
                "alternate_name",
                "description",
                "status",
                "alert",
                "url",
                "email",
                "application_process",
                "fees_description",
                "wait_time",
                "eligibility_description",
                "minimum_age",
                "maximum_age",
                "court_ordered_accepted",
                "has_capacity",
                "last_verified_at",
            )
        },
        "id": service.pk,
        "genders_served": [str(value) for value in service.genders_served or []],
        "organization": {
            "id": organization.pk,
            "hsds_id": organization.hsds_id,
            "name": organization.name,
            "description": organization.description,
            "email": organization.email,
            "website": organization.website,
            "phones": [_phone(phone) for phone in organization.phones.all()],
        },
        "terms": [
            {"taxonomy": term.taxonomy.name, "code": term.code, "name": term.name}
            for term in service.terms.all()
        ],
        "languages": [{"code": lang.code, "name": lang.name} for lang in service.languages.all()],
        "required_documents": [doc.document for doc in service.required_documents.all()],
        "locations": [
            _location(sal.location, sal.location.addresses.all())
            for sal in service.service_at_locations.all()
        ],
        "phones": [_phone(phone) for phone in service.phones.all()],
        "schedules": [
            {
                "byday": schedule.byday,
                "opens_at": schedule.opens_at.isoformat() if schedule.opens_at else None,
                "closes_at": schedule.closes_at.isoformat() if schedule.closes_at else None,
                "description": schedule.description,
            }
            for schedule in service.schedules.all()
        ],
        "contacts": [
            {
                "name": contact.name,
                "title": contact.title,
                "email": contact.email,
                "phones": [_phone(phone) for phone in contact.phones.all()],
            }
            for contact in service.contacts.all()
        ],
        "capacities": [_capacity(c, stale_days) for c in service.capacities.all()],
        "listing_stale": selectors.capacity_is_stale(updated_at=since, days=listing_days),
        "can_edit": can_edit,
    }


# --- endpoints ---------------------------------------------------------------------------------


@router.get(
    "/services",
    response={
        200: SearchOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="Search the network's directory",
)
def directory_search_list(request, params: Query[SearchParams]):
    """Services of the token agency's network that fit the described person, best fit first:
    fewer failed criteria, fewer unknowns, then distance, freshness and name. Each item says
    what `matched`, what `failed` and what is only a note (unknown, waitlist, stale count).

    400: an input the search cannot use (unknown need code, ZIP code not in the table), with
    the parameter in `field`. 422: a parameter of the wrong type or out of range."""
    api_require(request, Perm.VIEW)
    stale_days = request.agency.policies.capacity_stale_days
    page = directory_search(
        network=request.agency.network,
        query=params.to_query(),
        capacity_stale_days=stale_days,
    )
    origin = page.origin
    return {
        "count": page.total,
        "more": page.more,
        "page": page.page,
        "per_page": page.query.per_page,
        "num_pages": page.num_pages,
        "origin": (
            {
                "latitude": origin.latitude,
                "longitude": origin.longitude,
                "label": origin.label,
                "within_miles": origin.within_miles,
            }
            if origin is not None
            else None
        ),
        "items": [_search_item(result, stale_days) for result in page.results],
    }


def _visible_service(request, service_id: int) -> Service:
    return get_for_user_or_404(
        Service.objects.only("pk", "agency_id", "network_id", "name"), request, pk=service_id
    )


def _may_edit(request, service) -> bool:
    return can_edit_listing(
        user=request.user, membership=request.membership, agency_id=service.agency_id
    )


@router.get(
    "/services/{int:service_id}",
    response={200: ServiceOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="One service of the network's directory",
)
def directory_service(request, service_id: int):
    api_require(request, Perm.VIEW)
    service = selectors.service_detail(pk=_visible_service(request, service_id).pk)
    policies = request.agency.policies
    return _service(
        service,
        stale_days=policies.capacity_stale_days,
        listing_days=policies.listing_verify_days,
        can_edit=_may_edit(request, service),
    )


@router.patch(
    "/services/{int:service_id}",
    response={
        200: ServiceOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="Edit a listing the token agency runs",
)
def directory_service_update(request, service_id: int, payload: ListingIn):
    """Changes what a listing says: only the fields given. Only staff of the agency that runs
    the listing may do this (403 otherwise). Bed and slot counts have their own route.

    400 with `field`: an empty name, a maximum age below the minimum, an unknown need,
    population or payment code, a malformed language code."""
    service = _visible_service(request, service_id)
    if not _may_edit(request, service):
        _refused(request, service)
        raise HttpError(403, "Only staff of the agency that runs this listing may edit it.")
    given = payload.model_dump(exclude_unset=True)
    verified = given.pop("verified", False)
    services.listing_update(
        service=selectors.service_detail(pk=service.pk),
        verified=verified,
        actor=request.user,
        **_listing_input(given),
    )
    return directory_service(request, service_id)


def _listing_input(given: dict) -> dict:
    """A listing's fields as services.listing_update (and _create) take them: the listing's own
    fields, then its terms, languages, place and phone apart."""
    terms = {field: given.pop(field) for field in services.LISTING_VOCABULARIES if field in given}
    place = given.pop("place", None)
    return {
        "terms": terms,
        "languages": given.pop("languages", None),
        "place": services.ListingPlace(**place) if place else None,
        "phone": given.pop("phone", None),
        "changes": given,
    }


@router.post(
    "/services",
    response={
        201: ServiceOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="List a new program of the token agency",
)
@idempotent
def directory_service_create(request, payload: ListingCreateIn):
    """A new listing in the network's directory, run by the token agency (under its directory
    organization, made the first time), checked as of today. A `place` (street address and
    US ZIP code) puts it on the map for searches by distance.

    400 with `field`: a ZIP code not in the table, a maximum age below the minimum, an unknown
    need, population or payment code, a malformed language code."""
    api_require(request, Perm.WRITE)
    given = payload.model_dump(exclude_unset=True, exclude={"verified"})
    given["name"] = payload.name
    service = services.listing_create(
        agency=request.agency, actor=request.user, **_listing_input(given)
    )
    return HttpStatus(201, directory_service(request, service.pk))


def _refused(request, service) -> None:
    audit_record(
        action="permission_denied",
        request=request,
        obj=service,
        outcome=AuditEvent.Outcome.DENIED,
        detail={"path": request.path[:300], "method": request.method},
    )


def _reading(reading) -> dict | None:
    if reading is None:
        return None
    return {
        "recorded_at": reading.recorded_at,
        "available": reading.available,
        "maximum": reading.maximum,
        "waitlist": reading.waitlist,
    }


@router.get(
    "/services/{int:service_id}/capacity/history",
    response={
        200: CapacityHistoryListOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="A service's capacity over time",
)
def directory_capacity_history(
    request,
    service_id: int,
    days: int = Query(
        selectors.CAPACITY_HISTORY_DEFAULT, ge=1, le=3650, description="The span, in days up to now"
    ),
):
    """Each unit's updates over the last `days` days (default 90), oldest first, with the count
    in force when the span began: what a chart of free beds/slots over time needs."""
    api_require(request, Perm.VIEW)
    service = _visible_service(request, service_id)
    span = selectors.capacity_history(
        capacities=service.capacities.order_by("unit", "name"), days=days
    )
    return {
        "since": span.since,
        "until": span.until,
        "units": [
            {
                "unit": history.capacity.unit,
                "name": history.capacity.name,
                "available": history.capacity.available,
                "maximum": history.capacity.maximum,
                "in_force_at_since": _reading(history.before),
                "readings": [_reading(reading) for reading in history.readings],
            }
            for history in span.units
        ],
    }


@router.post(
    "/services/{int:service_id}/capacity",
    response={
        200: CapacityOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="Update a service's capacity",
)
def directory_capacity_update(request, service_id: int, payload: CapacityIn):
    """Records how many beds/slots/appointments are free now (and of how many); the history is
    kept. Only staff of the agency that runs the listing may do this (403 otherwise).

    400 with `field`: a negative number, available more than the maximum, an unknown unit."""
    service = _visible_service(request, service_id)
    if not _may_edit(request, service):
        _refused(request, service)
        raise HttpError(
            403, "Only staff of the agency that runs this listing may update its capacity."
        )
    given = payload.model_dump(exclude_unset=True)
    capacity = services.capacity_update(
        service=service,
        unit=payload.unit,
        available=payload.available,
        maximum=given.get("maximum", services.UNCHANGED),
        waitlist=given.get("waitlist", services.UNCHANGED),
        actor=request.user,
    )
    return _capacity(capacity, request.agency.policies.capacity_stale_days)
