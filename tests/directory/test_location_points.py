"""Each service-at-location keeps its location's point (`directory.points`' triggers), whoever
writes either table: the ORM, a bulk insert, a queryset update, an import. Searches by distance
read that copy, so a copy that drifted would put a service in the wrong place."""

import pytest
from django.db import connection

from referloop.directory import points, services
from referloop.directory.models import Location, ServiceAtLocation
from referloop.directory.search import DirectoryQuery, directory_search
from tests.directory import factories
from tests.directory.hsds_support import capacity_service, import_ok, make_network, write_json


def _points(service) -> list[tuple]:
    return list(
        ServiceAtLocation.objects.filter(service=service)
        .order_by("pk")
        .values_list("latitude", "longitude")
    )


def _near(network, postal_code: str, miles: int) -> list[str]:
    query = DirectoryQuery(postal_code=postal_code, within_miles=miles)
    return [
        result.service.name for result in directory_search(network=network, query=query).results
    ]


def test_a_link_takes_its_locations_point_however_it_is_written(cast):
    organization = factories.organization(network=cast.network)
    here = factories.location(organization=organization, latitude=39.8, longitude=-89.65)
    there = factories.location(organization=organization, latitude=40.69, longitude=-89.59)
    nowhere = factories.location(organization=organization, latitude=None, longitude=None)
    made = factories.service(organization=organization, name="Made", locations=[here])
    assert _points(made) == [(39.8, -89.65)]
    bulk = factories.service(organization=organization, name="Bulk")
    ServiceAtLocation.objects.bulk_create(
        [
            ServiceAtLocation(network=cast.network, service=bulk, location=place)
            for place in (there, nowhere)
        ]
    )
    assert _points(bulk) == [(40.69, -89.59), (None, None)]
    # Pointed at another location, a link takes that one's point.
    link = ServiceAtLocation.objects.get(service=made)
    link.location = there
    link.save()
    assert _points(made) == [(40.69, -89.59)]


def test_a_moved_location_moves_its_links_and_a_written_point_cannot_drift(cast):
    organization = factories.organization(network=cast.network)
    place = factories.location(organization=organization, latitude=39.8, longitude=-89.65)
    first = factories.service(organization=organization, name="First", locations=[place])
    second = factories.service(organization=organization, name="Second", locations=[place])
    place.latitude, place.longitude = 40.0, -89.0
    place.save()
    assert _points(first) == _points(second) == [(40.0, -89.0)]
    Location.objects.filter(pk=place.pk).update(latitude=None, longitude=None)
    assert _points(first) == _points(second) == [(None, None)]
    Location.objects.filter(pk=place.pk).update(latitude=41.0, longitude=-88.0)
    ServiceAtLocation.objects.filter(service=first).update(latitude=0.0, longitude=0.0)
    assert _points(first) == [(41.0, -88.0)]


def test_a_link_written_before_its_location_gets_the_point_when_it_comes(cast):
    # Foreign keys are checked at commit, so rows may come in either order within a transaction.
    organization = factories.organization(network=cast.network)
    service = factories.service(organization=organization, name="Early")
    later_pk = (Location.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 100
    ServiceAtLocation.objects.create(network=cast.network, service=service, location_id=later_pk)
    assert _points(service) == [(None, None)]
    Location.objects.create(
        pk=later_pk, network=cast.network, organization=organization, latitude=39.8, longitude=-89.6
    )
    assert _points(service) == [(39.8, -89.6)]


def test_a_listing_moved_to_a_new_zip_is_found_there_and_not_where_it_was(cast):
    factories.postal_code("62701", 39.8000, -89.6495)
    factories.postal_code("61602", 40.6936, -89.5890)
    organization = factories.organization(network=cast.network, agency=cast.agency_a)
    moving = factories.service(organization=organization, name="Moving", at=(39.80, -89.65))
    assert _near(cast.network, "62701", 5) == ["Moving"]
    place = services.ListingPlace(
        address_1="1 Main St", city="Peoria", state_province="IL", postal_code="61602"
    )
    services.listing_update(service=moving, changes={}, place=place)
    assert _points(moving) == [(40.6936, -89.5890)]
    assert _near(cast.network, "62701", 5) == []
    assert _near(cast.network, "61602", 5) == ["Moving"]


def test_an_import_gives_links_their_points_and_a_reimport_moves_them(db, tmp_path):
    network = make_network()
    document = [capacity_service(1)]
    import_ok(write_json(tmp_path, document), network)
    link = ServiceAtLocation.objects.get(network=network)
    assert (link.latitude, link.longitude) == (39.78, -89.65)
    location = document[0]["service_at_locations"][0]["location"]
    location["latitude"], location["longitude"] = 41.88, -87.63
    import_ok(write_json(tmp_path, document, name="moved.json"), network)
    link.refresh_from_db()
    assert (link.latitude, link.longitude) == (41.88, -87.63)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite drops triggers on a rebuild")
def test_sqlite_point_triggers_come_back_after_a_table_rebuild(cast):
    organization = factories.organization(network=cast.network)
    place = factories.location(organization=organization, latitude=39.8, longitude=-89.65)
    service = factories.service(organization=organization, name="Kept", locations=[place])
    with connection.cursor() as cursor:
        for name in points.SQLITE_TRIGGER_NAMES:
            cursor.execute(f"DROP TRIGGER {name}")
    Location.objects.filter(pk=place.pk).update(latitude=40.0, longitude=-89.0)
    assert _points(service) == [(39.8, -89.65)]  # what a rebuilt table would leave

    assert points.sqlite_points_ensure(connection) is True
    assert points.sqlite_points_ensure(connection) is False
    assert _points(service) == [(40.0, -89.0)]
    Location.objects.filter(pk=place.pk).update(latitude=41.0, longitude=-88.0)
    assert _points(service) == [(41.0, -88.0)]
