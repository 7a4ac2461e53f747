"""The agency that runs a listing keeps it true: services.listing_update, the edit page, the API's
PATCH and the admin site, each keeping search text and match keys in step."""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from referloop.core.errors import DomainError
from referloop.core.models import AuditEvent
from referloop.core.services import api_token_create
from referloop.directory import services
from referloop.directory.models import Language, Service, ServiceAttribute, Taxonomy
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
