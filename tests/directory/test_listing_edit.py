"""The agency that runs a listing keeps it true: services.listing_update and listing_create, the
edit and new-listing pages, the API's PATCH and POST and the admin site, each keeping search
text and match keys in step."""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from referloop.core.errors import DomainError
from referloop.core.models import AuditEvent
from referloop.core.services import api_token_create
from referloop.directory import services
from referloop.directory.models import (
    Language,
    Location,
    Organization,
    Service,
    ServiceAttribute,
    Taxonomy,
)
from referloop.directory.search import DirectoryQuery, directory_search
from tests.conftest import client_for
from tests.directory import factories


@pytest.fixture
def harbor(cast):
    organization = factories.organization(
        network=cast.network, agency=cast.agency_a, name="Harbor House"
    )
    return factories.service(
        organization=organization,
        name="Harbor House Bridge",
        needs=["sober-living"],
        populations=["adults"],
        languages=["en"],
        minimum_age=18,
    )


def _terms(service) -> set[tuple[str, str]]:
    return set(service.terms.values_list("taxonomy__name", "code"))


def _names(network, **asked) -> list[str]:
    page = directory_search(network=network, query=DirectoryQuery(**asked))
    return [result.service.name for result in page.results]


# --- services.listing_update -------------------------------------------------------------------


def test_an_edit_changes_the_listing_and_what_search_finds(cast, harbor):
    services.listing_update(
        service=harbor,
        changes={
            "name": "  Harbor House Recovery Residence ",
            "alert": "Intake paused until Monday",
            "maximum_age": 64,
            "genders_served": ["female"],
            "court_ordered_accepted": True,
        },
        terms={"needs": ["sober-living", "peer-support"], "populations": ["veterans"]},
        languages=["en", "ES"],
        actor=cast.coordinator,
    )
    harbor.refresh_from_db()
    assert harbor.name == "Harbor House Recovery Residence"  # trimmed
    assert (harbor.alert, harbor.maximum_age, harbor.genders_served) == (
        "Intake paused until Monday",
        64,
        ["female"],
    )
    assert harbor.last_verified_at is None  # not asked to verify
    audited = AuditEvent.objects.get(action="listing_update", object_id=str(harbor.pk))
    assert (audited.user, audited.agency) == (cast.coordinator, cast.agency_a)
    assert audited.detail == {
        # "name" changed (trimmed), "alert" and the rest were new; "languages" and "terms" set.
        "fields": ["alert", "court_ordered_accepted", "genders_served", "maximum_age", "name"],
        "parts": ["terms", "languages"],
        "verified": False,
    }
    assert {code for _, code in _terms(harbor)} == {"sober-living", "peer-support", "veterans"}
    assert sorted(harbor.languages.values_list("code", flat=True)) == ["en", "es"]

    # The search text, match keys and eligibility key follow: found by its new name, and a
    # veteran who speaks Spanish now fits every criterion asked.
    assert _names(cast.network, text="recovery residence") == [harbor.name]
    [result] = directory_search(
        network=cast.network,
        query=DirectoryQuery(population="veterans", language="es", age=30, gender="female"),
    ).results
    assert (result.failed, result.score) == ([], 100)


def test_terms_of_other_taxonomies_and_imported_languages_stay(cast, harbor):
    airs = Taxonomy.objects.create(name="AIRS/211")
    imported = airs.terms.create(code="RX-8450", name="Recovery homes")
    ServiceAttribute.objects.create(service=harbor, term=imported, value="from 211")
    Language.objects.filter(service=harbor, code="en").update(source_id="lang-1", note="all staff")
    Language.objects.create(network=cast.network, service=harbor, name="Cantonese")  # no code

    services.listing_update(
        service=harbor, changes={}, terms={"needs": ["housing"]}, languages=["en", "vi"]
    )
    assert _terms(harbor) == {
        ("AIRS/211", "RX-8450"),
        ("Referloop needs", "housing"),
        ("Referloop populations", "adults"),  # its vocabulary was not given: unchanged
    }
    assert ServiceAttribute.objects.get(service=harbor, term=imported).value == "from 211"
    english = Language.objects.get(service=harbor, code="en")
    assert (english.source_id, english.note) == ("lang-1", "all staff")
    assert set(harbor.languages.values_list("code", "name")) == {
        ("en", "English"),
        ("vi", "Vietnamese"),
        ("", "Cantonese"),
    }


def test_verifying_while_editing_marks_the_listing_checked(cast, harbor):
    services.listing_update(service=harbor, changes={"wait_time": "2 weeks"}, verified=True)
    harbor.refresh_from_db()
    assert harbor.last_verified_at is not None
    assert harbor.organization.last_verified_at == harbor.last_verified_at


@pytest.mark.parametrize(
    ("arguments", "field", "says"),
    [
        ({"changes": {"name": "  "}}, "name", "needs a name"),
        ({"changes": {"status": "open"}}, "status", "use one of"),
        ({"changes": {"maximum_age": 17}}, "maximum_age", "17 is below the minimum age (18)"),
        ({"changes": {"minimum_age": 130}}, "minimum_age", "from 0 to 120"),
        ({"changes": {"genders_served": ["women"]}}, "genders_served", "not women"),
        ({"changes": {"email": "intake at harbor"}}, "email", "not an e-mail address"),
        ({"changes": {"url": "javascript:alert(1)"}}, "url", "not a web address"),
        ({"terms": {"needs": ["sober-living", "beds"]}}, "needs", "'beds' is not a code"),
        ({"languages": ["english"]}, "languages", "'english' is not a language code"),
    ],
)
def test_a_broken_rule_names_its_field_and_changes_nothing(cast, harbor, arguments, field, says):
    before = Service.objects.values().get(pk=harbor.pk)
    terms_before = _terms(harbor)
    with pytest.raises(DomainError) as refused:
        services.listing_update(
            service=harbor, **{"changes": {"alert": "changed"}, **arguments}, verified=True
        )
    assert refused.value.field == field
    assert says in refused.value.message
    assert Service.objects.values().get(pk=harbor.pk) == before
    assert _terms(harbor) == terms_before


def test_only_listing_fields_may_be_changed(harbor):
    with pytest.raises(TypeError):
        services.listing_update(service=harbor, changes={"agency_id": 99})


# --- the edit page -----------------------------------------------------------------------------


def test_the_edit_page_starts_from_what_the_listing_says(cast, harbor):
    page = client_for(cast.coordinator).get(f"/services/{harbor.pk}/edit/").content.decode()
    assert 'value="Harbor House Bridge"' in page
    assert 'name="needs" value="sober-living" id="id_needs_' in page
    checked = re.findall(r'<input [^>]*value="([^"]*)"[^>]*checked', page)
    assert checked == ["sober-living", "en", "adults"]  # and "verified today", which has no value
    assert re.search(r'<input [^>]*name="verified"[^>]*checked', page)
    detail = client_for(cast.coordinator).get(f"/services/{harbor.pk}/").content.decode()
    assert f'href="/services/{harbor.pk}/edit/" data-shortcut="e">Edit listing' in detail
    assert "came from a directory import" not in page
    Service.objects.filter(pk=harbor.pk).update(source_id="svc-1")
    imported = client_for(cast.coordinator).get(f"/services/{harbor.pk}/edit/").content.decode()
    assert "importing that directory again puts back what it says" in imported


def test_saving_the_edit_page_updates_and_verifies_the_listing(cast, harbor):
    client = client_for(cast.coordinator)
    response = client.post(
        f"/services/{harbor.pk}/edit/",
        {
            "name": "Harbor House Bridge",
            "status": "temporarily closed",
            "alert": "Closed for repairs until March 10",
            "needs": ["sober-living", "reentry"],
            "populations": ["adults"],
            "payment": ["medicaid"],
            "minimum_age": "18",
            "court_ordered_accepted": "no",
            "languages": ["en", "es"],
            "url": "harbor.example.org",
            "verified": "on",
        },
    )
    assert response.status_code == 302
    assert response.url == f"/services/{harbor.pk}/"
    harbor.refresh_from_db()
    assert (harbor.status, harbor.court_ordered_accepted) == ("temporarily closed", False)
    assert harbor.url == "https://harbor.example.org"
    assert harbor.last_verified_at is not None
    assert ("Referloop payment", "medicaid") in _terms(harbor)
    page = client.get(response.url).content.decode()
    assert "is saved and verified as of today" in page
    assert "Closed for repairs until March 10" in page


def test_a_mistake_on_the_edit_page_is_shown_by_its_field_and_saves_nothing(cast, harbor):
    response = client_for(cast.coordinator).post(
        f"/services/{harbor.pk}/edit/",
        {
            "name": "Harbor House Bridge",
            "status": "active",
            "minimum_age": "21",
            "maximum_age": "18",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_maximum_age_error">Maximum age: 18 is below the minimum age (21).' in page
    # The summary at the top names the field once, whether or not the message does.
    assert '">Maximum age: 18 is below the minimum age (21).</a>' in page
    assert "Maximum age: Maximum age" not in page
    harbor.refresh_from_db()
    assert (harbor.minimum_age, harbor.maximum_age) == (18, None)


def test_only_the_agency_that_runs_a_listing_edits_it(cast, harbor):
    # Agency B shares the network's directory: it reads the listing, and may not change it.
    assert client_for(cast.admin_b).get(f"/services/{harbor.pk}/edit/").status_code == 403
    response = client_for(cast.admin_b).post(
        f"/services/{harbor.pk}/edit/", {"name": "Taken over", "status": "defunct"}
    )
    assert response.status_code == 403
    harbor.refresh_from_db()
    assert (harbor.name, harbor.status) == ("Harbor House Bridge", "active")
    detail = client_for(cast.admin_b).get(f"/services/{harbor.pk}/").content.decode()
    assert "Edit listing" not in detail


# --- the API -----------------------------------------------------------------------------------


def _patch(user, agency, service, body):
    raw = api_token_create(user=user, agency=agency)[1]
    return Client().patch(
        f"/api/v1/directory/services/{service.pk}",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )


def test_the_api_changes_only_the_fields_given(cast, harbor):
    response = _patch(
        cast.coordinator,
        cast.agency_a,
        harbor,
        {"alert": "Waitlist only", "maximum_age": None, "languages": ["es"], "verified": True},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["alert"], body["name"], body["minimum_age"]) == ("Waitlist only", harbor.name, 18)
    assert [language["code"] for language in body["languages"]] == ["es"]
    assert {term["code"] for term in body["terms"]} == {"sober-living", "adults"}
    assert body["listing_stale"] is False


def test_the_api_refuses_bad_input_with_its_field(cast, harbor):
    response = _patch(cast.coordinator, cast.agency_a, harbor, {"needs": ["beds"]})
    assert response.status_code == 400
    assert response.json()["field"] == "needs"
    assert _patch(cast.coordinator, cast.agency_a, harbor, {"status": "open"}).status_code == 422
    assert _patch(cast.coordinator, cast.agency_a, harbor, {"name": ""}).status_code == 422
    harbor.refresh_from_db()
    assert _terms(harbor) == {
        ("Referloop needs", "sober-living"),
        ("Referloop populations", "adults"),
    }


def test_the_api_lets_only_the_running_agency_edit(cast, harbor):
    response = _patch(cast.admin_b, cast.agency_b, harbor, {"status": "defunct"})
    assert response.status_code == 403
    assert AuditEvent.objects.filter(
        action="permission_denied", object_id=str(harbor.pk), outcome=AuditEvent.Outcome.DENIED
    ).exists()
    other = factories.service(
        organization=factories.organization(network=cast.other_network, agency=cast.agency_c)
    )
    assert _patch(cast.coordinator, cast.agency_a, other, {"alert": "x"}).status_code == 404
    harbor.refresh_from_db()
    assert harbor.status == "active"


# --- the admin site ----------------------------------------------------------------------------


def test_an_admin_edit_keeps_the_search_text_and_leaves_counts_to_their_page(cast, harbor):
    beds = factories.capacity(service=harbor, available=2, maximum=6)
    staff = get_user_model().objects.create_superuser(
        email="root@referloop.example.org", password="x" * 16
    )
    client = client_for(staff)
    form = client.get(f"/admin/directory/service/{harbor.pk}/change/").content.decode()
    assert 'name="capacities-0-available"' not in form  # shown, not editable
    data = {
        field: getattr(harbor, field) or ""
        for field in ("name", "description", "status", "source_id")
    }
    data.update(
        name="Harbor Lighthouse",
        organization=harbor.organization_id,
        network=harbor.network_id,
        agency=harbor.agency_id,
        genders_served="[]",
        created_at_0="2026-01-01",
        created_at_1="00:00:00",
        updated_at_0="2026-01-01",
        updated_at_1="00:00:00",
        **{
            "capacities-TOTAL_FORMS": 1,
            "capacities-INITIAL_FORMS": 1,
            "capacities-0-id": beds.pk,
            "capacities-0-service": harbor.pk,
            "capacities-0-available": 5,  # a forged field: ignored
        },
    )
    response = client.post(f"/admin/directory/service/{harbor.pk}/change/", data)
    assert response.status_code == 302, re.findall(
        r"(?:errorlist|errornote)[^>]*>(.*?)</(?:ul|p)", response.content.decode(), re.S
    )
    assert _names(cast.network, text="lighthouse") == ["Harbor Lighthouse"]
    beds.refresh_from_db()
    assert beds.available == 2


# --- a new listing -----------------------------------------------------------------------------


@pytest.fixture
def zip_62701(db):
    return factories.postal_code("62701", 39.8017, -89.6436, city="Springfield", state="IL")


def _place(**overrides) -> services.ListingPlace:
    fields = {
        "address_1": "12 Elm St",
        "city": "Springfield",
        "state_province": "IL",
        "postal_code": "62701",
    }
    return services.ListingPlace(**{**fields, **overrides})


def test_a_new_listing_is_the_agencys_on_the_map_and_checked(cast, zip_62701):
    assert not Organization.objects.filter(agency=cast.agency_a).exists()
    made = services.listing_create(
        agency=cast.agency_a,
        changes={"name": "Alpha Women's Residence", "genders_served": ["female"]},
        place=_place(),
        phone="217-555-0100",
        terms={"needs": ["sober-living"], "payment": ["medicaid"]},
        languages=["es"],
        actor=cast.coordinator,
    )
    assert (made.agency, made.network, made.organization.name) == (
        cast.agency_a,
        cast.network,
        cast.agency_a.name,  # the agency's directory organization, made the first time
    )
    assert made.last_verified_at is not None
    location = Location.objects.get(service_at_locations__service=made)
    assert (location.latitude, location.longitude) == (39.8017, -89.6436)
    assert location.addresses.get().address_1 == "12 Elm St"
    assert made.phones.get().number == "217-555-0100"
    assert _names(cast.network, postal_code="62701", need="sober-living") == [made.name]

    audited = AuditEvent.objects.get(action="listing_create", object_id=str(made.pk))
    assert audited.user == cast.coordinator
    assert audited.detail == {
        "fields": ["genders_served", "name"],
        "parts": ["terms", "languages", "place", "phone"],
        "verified": True,
    }
    assert not AuditEvent.objects.filter(action="listing_update").exists()

    second = services.listing_create(agency=cast.agency_a, changes={"name": "Alpha Outpatient"})
    assert second.organization == made.organization
    assert not second.service_at_locations.exists()


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"changes": {"name": ""}}, "name"),
        ({"place": _place(postal_code="99999")}, "postal_code"),
        ({"place": _place(postal_code="Springfield")}, "postal_code"),
        ({"place": _place(city=" ")}, "city"),
        ({"terms": {"needs": ["beds"]}}, "needs"),
        ({"changes": {"name": "X", "minimum_age": 30, "maximum_age": 20}}, "maximum_age"),
    ],
)
def test_a_new_listing_that_breaks_a_rule_makes_nothing(cast, zip_62701, arguments, field):
    counts = (Organization.objects.count(), Service.objects.count(), Location.objects.count())
    with pytest.raises(DomainError) as refused:
        services.listing_create(agency=cast.agency_a, **{"changes": {"name": "X"}, **arguments})
    assert refused.value.field == field
    after = (Organization.objects.count(), Service.objects.count(), Location.objects.count())
    assert after == counts


def test_the_new_listing_page_adds_a_listing(cast, zip_62701):
    client = client_for(cast.coordinator)
    directory = client.get("/services/").content.decode()
    assert 'href="/services/new/">Add a listing' in directory
    assert client.get("/services/new/").status_code == 200

    refused = client.post(
        "/services/new/",
        {
            "name": "Alpha Detox",
            "status": "active",
            "address_1": "1 Main St",
            "city": "Springfield",
            "state_province": "IL",
            "postal_code": "99999",
        },
    )
    assert refused.status_code == 400
    assert "ZIP code: 99999 is not in the ZIP code table." in refused.content.decode()
    assert not Service.objects.filter(name="Alpha Detox").exists()

    response = client.post(
        "/services/new/",
        {
            "name": "Alpha Detox",
            "status": "active",
            "needs": ["detox"],
            "address_1": "1 Main St",
            "city": "Springfield",
            "state_province": "IL",
            "postal_code": "62701",
        },
    )
    made = Service.objects.get(name="Alpha Detox")
    assert response.status_code == 302 and response.url == f"/services/{made.pk}/"
    page = client.get(response.url).content.decode()
    assert "is listed in the network" in page and "1 Main St, Springfield, IL 62701" in page


def test_a_read_only_member_may_not_add_a_listing(cast):
    client = client_for(cast.auditor)
    assert "Add a listing" not in client.get("/services/").content.decode()
    assert client.get("/services/new/").status_code == 403
    assert client.post("/services/new/", {"name": "Nope", "status": "active"}).status_code == 403
    assert not Service.objects.filter(name="Nope").exists()


def _create(user, agency, body):
    raw = api_token_create(user=user, agency=agency)[1]
    return Client().post(
        "/api/v1/directory/services",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )


def test_the_api_lists_a_new_program(cast, zip_62701):
    body = {
        "name": "Alpha Peer Center",
        "needs": ["peer-support"],
        "place": {
            "address_1": "5 Oak Ave",
            "city": "Springfield",
            "state_province": "IL",
            "postal_code": "62701",
        },
        "phone": "217-555-0111",
    }
    response = _create(cast.coordinator, cast.agency_a, body)
    assert response.status_code == 201
    made = response.json()
    assert (made["name"], made["can_edit"], made["listing_stale"]) == (body["name"], True, False)
    assert made["locations"][0]["latitude"] == 39.8017

    bad_zip = _create(
        cast.coordinator,
        cast.agency_a,
        {**body, "place": {**body["place"], "postal_code": "99999"}},
    )
    assert (bad_zip.status_code, bad_zip.json()["field"]) == (400, "postal_code")
    assert _create(cast.coordinator, cast.agency_a, {"needs": ["detox"]}).status_code == 422
    assert _create(cast.auditor, cast.agency_a, body).status_code == 403
    assert Service.objects.filter(name=body["name"]).count() == 1


# --- where it is, and its phone ----------------------------------------------------------------


@pytest.fixture
def placed(cast, zip_62701):
    """A listing at one geocoded location (100 Main St, 62701), with a phone."""
    factories.postal_code("62702", 39.78, -89.66)
    organization = factories.organization(network=cast.network, agency=cast.agency_a)
    made = factories.service(organization=organization, name="Placed", at=(39.81234, -89.64321))
    services.listing_update(service=made, changes={}, phone="217-555-0100")
    return made


def _where(service) -> tuple:
    location = Location.objects.get(service_at_locations__service=service)
    address = location.addresses.get()
    return (address.address_1, address.postal_code, location.latitude, location.longitude)


def test_a_new_street_keeps_the_precise_point_and_a_new_zip_moves_it(placed):
    services.listing_update(service=placed, changes={}, place=_place(address_1="200 Main St"))
    assert _where(placed) == ("200 Main St", "62701", 39.81234, -89.64321)
    services.listing_update(
        service=placed, changes={}, place=_place(address_1="9 New Rd", postal_code="62702")
    )
    assert _where(placed) == ("9 New Rd", "62702", 39.78, -89.66)
    assert Location.objects.filter(service_at_locations__service=placed).count() == 1


def test_a_phone_is_set_changed_and_removed(placed):
    assert list(placed.phones.values_list("number", flat=True)) == ["217-555-0100"]
    services.listing_update(service=placed, changes={}, phone="217-555-0199")
    assert list(placed.phones.values_list("number", flat=True)) == ["217-555-0199"]
    services.listing_update(service=placed, changes={}, phone="")
    assert not placed.phones.exists()


def test_the_edit_page_edits_the_address_of_a_listing_at_one_place(cast, placed):
    client = client_for(cast.coordinator)
    page = client.get(f"/services/{placed.pk}/edit/").content.decode()
    assert 'value="100 Main St"' in page and 'value="217-555-0100"' in page
    response = client.post(
        f"/services/{placed.pk}/edit/",
        {
            "name": "Placed",
            "status": "active",
            "address_1": "100 Main St",
            "city": "Springfield",
            "state_province": "IL",
            "postal_code": "62702",
            "phone": "217-555-0123",
        },
    )
    assert response.status_code == 302
    assert _where(placed)[1:] == ("62702", 39.78, -89.66)
    assert placed.phones.get().number == "217-555-0123"


def test_a_listing_at_several_places_keeps_its_addresses(cast, placed):
    second = factories.location(organization=placed.organization, latitude=39.7, longitude=-89.7)
    placed.service_at_locations.create(network=cast.network, location=second)
    page = client_for(cast.coordinator).get(f"/services/{placed.pk}/edit/").content.decode()
    assert 'name="address_1"' not in page and "is at several locations" in page
    with pytest.raises(DomainError) as refused:
        services.listing_update(service=placed, changes={"alert": "x"}, place=_place())
    assert refused.value.field == "address_1"
    placed.refresh_from_db()
    assert placed.alert == ""


def test_the_api_moves_a_listing_and_changes_its_phone(cast, placed):
    place = {"address_1": "9 New Rd", "city": "Springfield", "state_province": "IL"}
    response = _patch(
        cast.coordinator,
        cast.agency_a,
        placed,
        {"place": {**place, "postal_code": "62702"}, "phone": "217-555-0142"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["locations"][0]["latitude"] == 39.78
    assert body["phones"][0]["number"] == "217-555-0142"
    refused = _patch(
        cast.coordinator, cast.agency_a, placed, {"place": {**place, "postal_code": "99999"}}
    )
    assert (refused.status_code, refused.json()["field"]) == (400, "postal_code")
    assert _where(placed)[0] == "9 New Rd"


def test_a_new_address_moves_only_this_listing_from_a_shared_site(cast, placed):
    site = Location.objects.get(service_at_locations__service=placed)
    neighbour = factories.service(
        organization=placed.organization, name="Neighbour", locations=[site]
    )
    form = client_for(cast.coordinator).get(f"/services/{placed.pk}/edit/").content.decode()
    assert "Other listings are at this address too" in form

    services.listing_update(service=placed, changes={}, place=_place(address_1="100 Main St"))
    assert Location.objects.get(service_at_locations__service=placed) == site  # the same address

    # Across the street, in the same ZIP code: its own location, keeping the site's precise point.
    services.listing_update(service=placed, changes={}, place=_place(address_1="102 Main St"))
    assert _where(placed) == ("102 Main St", "62701", 39.81234, -89.64321)
    assert _where(neighbour) == ("100 Main St", "62701", 39.81234, -89.64321)  # stays put
    moved_to = Location.objects.get(service_at_locations__service=placed)
    assert moved_to != site and moved_to.organization_id == placed.organization_id
    # Its location is its own now: the next new address is written in place.
    services.listing_update(
        service=placed, changes={}, place=_place(address_1="9 New Rd", postal_code="62702")
    )
    assert _where(placed) == ("9 New Rd", "62702", 39.78, -89.66)
    assert Location.objects.get(service_at_locations__service=placed) == moved_to


def test_the_audit_names_only_the_parts_given_and_genders_are_kept_once(cast, harbor):
    response = _patch(
        cast.coordinator,
        cast.agency_a,
        harbor,
        {"alternate_name": "HHB", "genders_served": ["female", "female"]},
    )
    assert response.status_code == 200
    assert response.json()["genders_served"] == ["female"]
    audit = AuditEvent.objects.filter(action="listing_update").latest("pk")
    assert audit.detail["fields"] == ["alternate_name", "genders_served"]
    assert audit.detail["parts"] == []


@pytest.mark.parametrize(
    "body",
    [[1], [], "x", 123, {"name": "Harbor", "maximun_age": 30}, {"minimum_age": True}],
    ids=["list", "empty list", "string", "number", "unknown field", "true as a number"],
)
def test_the_api_refuses_a_body_it_cannot_read_and_changes_nothing(cast, harbor, body):
    before = (harbor.updated_at, AuditEvent.objects.filter(action="listing_update").count())
    assert _patch(cast.coordinator, cast.agency_a, harbor, body).status_code == 422
    harbor.refresh_from_db()
    assert (harbor.updated_at, AuditEvent.objects.filter(action="listing_update").count()) == (
        before
    )
    assert harbor.minimum_age == 18
