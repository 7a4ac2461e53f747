"""Small builders for directory test data, for anyone's tests (search, import/export, pages).

    org = organization(network=cast.network, agency=cast.agency_a, name="Harbor House")
    detox = service(organization=org, name="Detox", needs=["detox"], payment=["medicaid"],
                    minimum_age=18, at=(39.80, -89.65), languages=["es"])
    capacity(service=detox, available=3, maximum=16)

Every builder takes keyword arguments only, fills the rest with plain defaults, and keeps the
denormalized columns right (Service.agency/network from its organization, search_text,
match_keys, has_capacity), the way the directory services and the importer do.
"""

import random
from datetime import datetime

from django.utils import timezone
from faker import Faker

from referloop.core.models import Agency, Network
from referloop.demo.directory import directory_build
from referloop.directory import services as directory_services
from referloop.directory.models import (
    Address,
    Location,
    Organization,
    PostalCode,
    Service,
    ServiceAtLocation,
    ServiceCapacity,
    Status,
    TaxonomyTerm,
)
from referloop.directory.search import LANGUAGE_NAMES
from referloop.directory.vocabulary import NEEDS, PAYMENT, POPULATIONS


def terms(vocabulary: str, codes) -> list[TaxonomyTerm]:
    """The default vocabulary's terms for `codes` (created first if a flush removed them)."""
    codes = list(codes)
    if not codes:
        return []
    found = {
        term.code: term
        for term in TaxonomyTerm.objects.filter(taxonomy__name=vocabulary, code__in=codes)
    }
    if len(found) < len(set(codes)):
        directory_services.vocabulary_ensure()
        found = {
            term.code: term
            for term in TaxonomyTerm.objects.filter(taxonomy__name=vocabulary, code__in=codes)
        }
    missing = set(codes) - set(found)
    assert not missing, f"no such {vocabulary} terms: {sorted(missing)}"
    return [found[code] for code in codes]


def organization(
    *,
    network: Network,
    agency: Agency | None = None,
    name: str = "Riverbend Recovery",
    **fields,
) -> Organization:
    return Organization.objects.create(network=network, agency=agency, name=name, **fields)


def location(
    *,
    organization: Organization,
    latitude: float | None,
    longitude: float | None,
    name: str = "",
    address_1: str = "100 Main St",
    city: str = "Springfield",
    state_province: str = "IL",
    postal_code: str = "62701",
    with_address: bool = True,
) -> Location:
    place = Location.objects.create(
        network_id=organization.network_id,
        organization=organization,
        name=name or f"{organization.name} site",
        latitude=latitude,
        longitude=longitude,
    )
    if with_address:
        Address.objects.create(
            network_id=organization.network_id,
            location=place,
            address_1=address_1,
            city=city,
            state_province=state_province,
            postal_code=postal_code,
        )
    return place


def service(
    *,
    organization: Organization,
    name: str = "Outpatient counseling",
    description: str = "",
    status: str = Status.ACTIVE,
    needs=(),
    populations=(),
    payment=(),
    languages=(),
    at: tuple[float, float] | None = None,
    locations=(),
    last_verified_at: datetime | None = None,
    created_at: datetime | None = None,
    **fields,
) -> Service:
    """A service of `organization` with its terms (codes of the default vocabularies), its
    languages (ISO codes), and a location `at` (lat, lon) and/or existing `locations`."""
    created = Service.objects.create(
        network_id=organization.network_id,
        organization=organization,
        agency_id=organization.agency_id,
        name=name,
        description=description,
        status=status,
        last_verified_at=last_verified_at,
        created_at=created_at or timezone.now(),
        **fields,
    )
    chosen = [*terms(NEEDS, needs), *terms(POPULATIONS, populations), *terms(PAYMENT, payment)]
    if chosen:
        directory_services.service_terms_set(service=created, terms=chosen)
    else:
        directory_services.search_text_refresh(service_ids=[created.pk])
    if languages:
        directory_services.service_languages_set(
            service=created,
            languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in languages],
        )
    places = list(locations)
    if at is not None:
        places.append(location(organization=organization, latitude=at[0], longitude=at[1]))
    for place in places:
        ServiceAtLocation.objects.create(
            network_id=organization.network_id, service=created, location=place
        )
    created.refresh_from_db()
    return created


def capacity(
    *,
    service: Service,
    available: int,
    maximum: int | None = None,
    unit: str = "beds",
    waitlist: bool = False,
    at: datetime | None = None,
    actor=None,
) -> ServiceCapacity:
    """Through directory.services.capacity_update, so has_capacity and the history follow."""
    made = directory_services.capacity_update(
        service=service,
        unit=unit,
        available=available,
        maximum=maximum,
        waitlist=waitlist,
        actor=actor,
        at=at,
    )
    service.refresh_from_db()
    return made


def postal_code(code: str, latitude: float, longitude: float, **fields) -> PostalCode:
    """Makes sure a ZIP centroid row exists (tests that flush tables lose the migrated ones)."""
    row, _ = PostalCode.objects.update_or_create(
        country="US",
        code=code,
        defaults={"latitude": latitude, "longitude": longitude, **fields},
    )
    return row


def demo_directory(*, network: Network, services: int, seed: int) -> None:
    """The demo's generated listings (no agency programs) in `network`, the same for a seed."""
    directory_build(
        network=network,
        agencies=[],
        services_target=services,
        fake=Faker(),
        rng=random.Random(seed),  # noqa: S311 (demo data)
    )
