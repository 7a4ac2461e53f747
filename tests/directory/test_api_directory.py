"""The directory API: search with reasons, one service, capacity updates — scoping, permissions,
errors, the audit rows and the query count of the list."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referloop.core.models import AuditEvent
from referloop.core.permissions import Role
from referloop.core.services import api_token_create
from referloop.directory.models import CapacityReading, ServiceCapacity
from tests.directory import factories

SEARCH = "/api/v1/directory/services"
SPRINGFIELD = (39.8017, -89.6436)


def token(user, agency) -> str:
    return api_token_create(user=user, agency=agency)[1]


def get(path, raw=None, **params):
    headers = {"Authorization": f"Bearer {raw}"} if raw else {}
    return Client().get(path, params, headers=headers)


def post(path, raw=None, body=None):
    headers = {"Authorization": f"Bearer {raw}"} if raw else {}
    return Client().post(
        path,
        json.dumps({} if body is None else body),
        content_type="application/json",
        headers=headers,
    )


@pytest.fixture
def world(cast):
    """Agency A runs "Harbor House"; agency B (same network) runs "Bravo Detox"; agency C's
    network has "Charlie Shelter"."""
    org_a = factories.organization(network=cast.network, agency=cast.agency_a, name="Alpha Org")
    org_b = factories.organization(network=cast.network, agency=cast.agency_b, name="Bravo Org")
    org_c = factories.organization(
        network=cast.other_network, agency=cast.agency_c, name="Charlie Org"
    )
    harbor = factories.service(
        organization=org_a,
        name="Harbor House",
        needs=["sober-living"],
        minimum_age=18,
        genders_served=["female"],
        at=SPRINGFIELD,
        languages=["es"],
    )
    detox = factories.service(
        organization=org_b, name="Bravo Detox", needs=["detox"], at=(39.68, -89.70)
    )
    shelter = factories.service(organization=org_c, name="Charlie Shelter", needs=["shelter"])
    factories.capacity(service=harbor, available=3, maximum=10)
    factories.capacity(
        service=detox, available=0, maximum=16, at=timezone.now() - timedelta(days=10)
    )
    return {"harbor": harbor, "detox": detox, "shelter": shelter}


@pytest.fixture
def coordinator_token(cast):
    return token(cast.coordinator, cast.agency_a)


# --- search ------------------------------------------------------------------------------------


def test_search_needs_a_token(cast):
    assert get(SEARCH).status_code == 401


def test_search_lists_the_network_with_reasons_and_capacity(cast, world, coordinator_token):
    response = get(SEARCH, coordinator_token, age=17, gender="female", language="es")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and body["page"] == 1 and body["num_pages"] == 1
    assert body["per_page"] == 20 and body["origin"] is None
    names = [item["name"] for item in body["items"]]
    assert names == ["Bravo Detox", "Harbor House"]  # Harbor fails the age
    harbor = body["items"][1]
    assert harbor["failed"] == ["✗ age 17 below minimum 18"]
    assert {"✓ women's program", "✓ Spanish", "✓ 3 beds available"} <= set(harbor["matched"])
    assert harbor["organization"]["name"] == "Alpha Org"
    (capacity,) = harbor["capacities"]
    assert capacity["unit"] == "beds" and capacity["available"] == 3
    assert capacity["maximum"] == 10 and capacity["stale"] is False
    assert capacity["updated_at"]
    assert harbor["location"]["addresses"][0]["city"] == "Springfield"
    detox = body["items"][0]
    assert detox["capacities"][0]["stale"] is True  # 10 days > the default 7
    assert "? languages not listed: Spanish unknown" in detox["notes"]


def test_search_near_a_point_gives_distances(cast, world, coordinator_token):
    body = get(
        SEARCH, coordinator_token, lat=SPRINGFIELD[0], lon=SPRINGFIELD[1], within_miles=5
    ).json()
    assert [item["name"] for item in body["items"]] == ["Harbor House"]
    assert body["items"][0]["distance_miles"] == 0.0
    assert body["origin"]["within_miles"] == 5


def test_search_pages(cast, world, coordinator_token):
    body = get(SEARCH, coordinator_token, per_page=1, page=2).json()
    assert body["count"] == 2 and body["num_pages"] == 2 and body["page"] == 2
    # Same fit: the fresher capacity count (Harbor's, just now) ranks first.
    assert [item["name"] for item in body["items"]] == ["Bravo Detox"]


@pytest.mark.parametrize(
    "params",
    [
        {"age": "old"},
        {"age": 121},
        {"gender": "other"},
        {"lat": 91, "lon": 0},
        {"lat": "nan", "lon": 0},
        {"within_miles": 0},
        {"per_page": 101},
        {"page": 0},
        {"q": "detox\x00"},
        {"q": "x" * 201},
        {"postal_code": "6270"},
        {"language": "español"},
        {"has_capacity": "maybe"},
    ],
)
def test_search_rejects_bad_parameters_with_422(cast, coordinator_token, params):
    response = get(SEARCH, coordinator_token, **params)
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    assert detail and detail[0]["loc"][-1] in params


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"need": "no-such-need"}, "need"),
        ({"insurance": "gold-plated"}, "insurance"),
        ({"postal_code": "00000"}, "postal_code"),
        ({"lat": 10}, "lat"),
        ({"postal_code": "62701", "lat": 1, "lon": 1}, "postal_code"),
    ],
)
def test_search_input_it_cannot_use_is_400_naming_the_field(cast, coordinator_token, params, field):
    response = get(SEARCH, coordinator_token, **params)
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == field and body["detail"]


def test_hostile_text_is_fine(cast, world, coordinator_token):
    for text in ['"', "AND OR", "*", "NEAR(", "women's", "'; --"]:
        assert get(SEARCH, coordinator_token, q=text).status_code == 200


def test_the_list_costs_the_same_queries_for_5_or_40_services(cast, coordinator_token):
    org = factories.organization(network=cast.network, agency=cast.agency_a)

    def build(count):
        for number in range(count):
            made = factories.service(
                organization=org,
                name=f"Program {number:02}",
                needs=["detox"],
                at=(SPRINGFIELD[0], SPRINGFIELD[1] + number * 0.001),
                languages=["es"],
            )
            factories.capacity(service=made, available=number % 2, maximum=3)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = get(
                SEARCH,
                coordinator_token,
                need="detox",
                age=30,
                language="es",
                lat=SPRINGFIELD[0],
                lon=SPRINGFIELD[1],
                per_page=100,
            )
        assert response.status_code == 200
        return len(captured), response.json()["count"]

    build(5)
    queries()  # the token's first use writes its last_used_at; count from the second
    few, small = queries()
    build(35)
    many, large = queries()
    assert (small, large) == (5, 40)
    assert few == many


# --- detail ------------------------------------------------------------------------------------


def test_detail_of_a_service_of_the_network(cast, world, coordinator_token):
    response = get(f"{SEARCH}/{world['detox'].pk}", coordinator_token)

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Bravo Detox"
    assert body["organization"]["name"] == "Bravo Org"
    assert body["terms"] == [
        {"taxonomy": "Referloop needs", "code": "detox", "name": "Detox / withdrawal management"}
    ]
    assert body["capacities"][0]["stale"] is True
    assert body["can_edit"] is False  # agency B runs it
    assert body["listing_stale"] is False
    assert get(f"{SEARCH}/{world['harbor'].pk}", coordinator_token).json()["can_edit"] is True


def test_detail_of_another_network_is_404_with_an_audit_row(cast, world, coordinator_token):
    response = get(f"{SEARCH}/{world['shelter'].pk}", coordinator_token)

    assert response.status_code == 404
    event = AuditEvent.objects.get(action="access_denied")
    assert event.user == cast.coordinator and event.agency == cast.agency_a
    assert event.object_type == "directory.service"
    assert event.object_id == str(world["shelter"].pk)
    assert event.outcome == AuditEvent.Outcome.DENIED


def test_detail_needs_a_token(cast, world):
    assert get(f"{SEARCH}/{world['harbor'].pk}").status_code == 401


# --- capacity ----------------------------------------------------------------------------------


def capacity_url(service) -> str:
    return f"{SEARCH}/{service.pk}/capacity"


def test_staff_of_the_running_agency_update_capacity(cast, world, coordinator_token):
    harbor = world["harbor"]
    response = post(
        capacity_url(harbor),
        coordinator_token,
        {"unit": "beds", "available": 5, "maximum": 10, "waitlist": True},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["unit"], body["available"], body["maximum"], body["waitlist"]) == (
        "beds",
        5,
        10,
        True,
    )
    assert body["stale"] is False
    capacity = ServiceCapacity.objects.get(service=harbor, unit="beds")
    assert capacity.available == 5 and capacity.updated_by == cast.coordinator
    assert CapacityReading.objects.filter(capacity=capacity).count() == 2  # history kept
    harbor.refresh_from_db()
    assert harbor.has_capacity is True


@pytest.mark.parametrize(
    "body",
    [
        {"available": 11, "maximum": 10},
        {"available": 11},  # above the maximum the unit keeps (10)
    ],
)
def test_more_available_than_the_maximum_is_400(cast, world, coordinator_token, body):
    response = post(capacity_url(world["harbor"]), coordinator_token, body)
    assert response.status_code == 400
    assert response.json()["field"] == "available"
    assert ServiceCapacity.objects.get(service=world["harbor"]).available == 3  # unchanged


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"available": -1}, "available"),
        ({"available": 1, "maximum": -3}, "maximum"),
        ({"available": 100_001}, "available"),
        ({"available": 1, "unit": "rooms"}, "unit"),
    ],
)
def test_numbers_and_units_the_schema_refuses_are_422_naming_the_field(
    cast, world, coordinator_token, body, field
):
    """The schema states the bounds (0 to 100,000) and the units, so they are its 422s."""
    response = post(capacity_url(world["harbor"]), coordinator_token, body)
    assert response.status_code == 422
    assert field in response.json()["detail"][0]["loc"]
    assert ServiceCapacity.objects.get(service=world["harbor"]).available == 3  # unchanged


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"available": "many"},
        {"available": 1, "waitlist": "?"},
        {"available": True},  # JSON true is not the number 1
        {"available": "5"},
        {"available": 1, "maximum": False},
        {"available": 1, "waitlist": 1},
        {"available": 1, "maximun": 12},  # a misspelt field is refused, not skipped
        [1, 2],
        "5",
    ],
)
def test_malformed_bodies_are_422(cast, world, coordinator_token, body):
    assert post(capacity_url(world["harbor"]), coordinator_token, body).status_code == 422
    capacity = ServiceCapacity.objects.get(service=world["harbor"])
    assert (capacity.available, capacity.maximum) == (3, 10)


def test_a_figure_left_out_keeps_the_units_own(cast, world, coordinator_token):
    url = capacity_url(world["harbor"])
    post(url, coordinator_token, {"available": 2, "maximum": 10, "waitlist": True})
    body = post(url, coordinator_token, {"available": 4}).json()
    assert (body["available"], body["maximum"], body["waitlist"]) == (4, 10, True)
    body = post(url, coordinator_token, {"available": 12, "maximum": None}).json()
    assert (body["available"], body["maximum"]) == (12, None)  # a null maximum clears it


def test_an_auditor_may_not_update_capacity(cast, world):
    raw = token(cast.auditor, cast.agency_a)
    response = post(capacity_url(world["harbor"]), raw, {"available": 1})

    assert response.status_code == 403
    assert "agency that runs this listing" in response.json()["detail"]
    event = AuditEvent.objects.get(action="permission_denied")
    assert event.user == cast.auditor and event.object_id == str(world["harbor"].pk)


def test_another_agencys_listing_is_403_and_another_networks_404(cast, world, coordinator_token):
    response = post(capacity_url(world["detox"]), coordinator_token, {"available": 1})
    assert response.status_code == 403
    assert ServiceCapacity.objects.get(service=world["detox"]).available == 0

    response = post(capacity_url(world["shelter"]), coordinator_token, {"available": 1})
    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="access_denied").count() == 1


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.INTAKE, Role.PROGRAM_LEAD])
def test_every_role_that_may_write_updates_capacity(cast, world, role):
    raw = token(cast.members_a[role], cast.agency_a)
    assert post(capacity_url(world["harbor"]), raw, {"available": 0}).status_code == 200


def test_capacity_needs_a_token(cast, world):
    assert post(capacity_url(world["harbor"]), None, {"available": 1}).status_code == 401


# --- the description ---------------------------------------------------------------------------


def test_openapi_documents_the_directory_and_its_errors(cast):
    spec = Client().get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    search = paths["/api/v1/directory/services"]["get"]
    assert {"200", "400", "401", "422"} <= set(search["responses"])
    assert {param["name"] for param in search["parameters"]} >= {
        "q",
        "need",
        "age",
        "gender",
        "population",
        "insurance",
        "court_ordered",
        "language",
        "postal_code",
        "lat",
        "lon",
        "within_miles",
        "has_capacity",
        "page",
        "per_page",
    }
    detail = paths["/api/v1/directory/services/{service_id}"]["get"]
    assert {"200", "401", "404"} <= set(detail["responses"])
    update = paths["/api/v1/directory/services/{service_id}/capacity"]["post"]
    assert {"200", "400", "401", "403", "404", "422"} <= set(update["responses"])
