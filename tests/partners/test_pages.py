"""The partner pages and API routes: the list (filters, sorts, its CSV/XLSX export, a fixed
number of queries), the partner page, the board, editing, the stage move, the quick log in place
(the partner page, a referral) and the relationships/contacts API, with bad input refused."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from referloop.core.models import AuditEvent
from referloop.core.services import api_token_create
from referloop.partners import services
from referloop.partners.models import Interaction, Relationship, Stage, Tier
from tests.conftest import client_for
from tests.directory import factories as directory
from tests.partners import factories
from tests.referrals import factories as referral_factories

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def frozen():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def api(cast, user=None):
    raw = api_token_create(user=user or cast.coordinator, agency=cast.agency_a)[1]
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
    assert response.status_code == 200, url
    return len(captured)


def _three(cast):
    """Three partners: a lasting primary one owned by the coordinator, a silent regular one, a
    new prospect."""
    lasting = factories.relationship(
        agency=cast.agency_a,
        name="County Probation",
        stage=Stage.LASTING,
        tier=Tier.PRIMARY,
        owner=cast.coordinator,
        last_contact_at=START - timedelta(days=3),
    )
    silent = factories.relationship(
        agency=cast.agency_a,
        name="Drug Court",
        stage=Stage.RAPPORT,
        tier=Tier.REGULAR,
        last_contact_at=START - timedelta(days=120),
        next_due_at=START - timedelta(days=106),
    )
    prospect = factories.relationship(agency=cast.agency_a, name="Eastside Therapy")
    return lasting, silent, prospect


def _names(page) -> list[str]:
    return [row.relationship.organization.name for row in page.context["rows"]]


def test_the_list_filters_and_sorts(cast, frozen):
    _three(cast)
    factories.relationship(agency=cast.agency_b, name="Bravo's own partner")
    web = client_for(cast.coordinator)

    everyone = web.get("/partners/")
    assert sorted(_names(everyone)) == ["County Probation", "Drug Court", "Eastside Therapy"]
    assert "Bravo&#x27;s own partner" not in everyone.content.decode()
    assert _names(web.get("/partners/?stage=lasting")) == ["County Probation"]
    assert _names(web.get("/partners/?tier=regular")) == ["Drug Court"]
    assert _names(web.get(f"/partners/?owner={cast.coordinator.pk}")) == ["County Probation"]
    assert _names(web.get("/partners/?at_risk=1")) == ["Drug Court"]
    assert _names(web.get("/partners/?due=1")) == ["Drug Court"]
    assert _names(web.get("/partners/?q=east")) == ["Eastside Therapy"]
    assert _names(web.get("/partners/?sort=-last_contact"))[0] == "County Probation"
    assert _names(web.get("/partners/?sort=name")) == [
        "County Probation",
        "Drug Court",
        "Eastside Therapy",
    ]
    # Unknown filter values fall back to no filter rather than an error page.
    assert len(_names(web.get("/partners/?stage=nonsense&sort=nonsense&owner=x"))) == 3
    empty = web.get("/partners/?q=nobody-by-this-name").content.decode()
    assert "No partner matches these filters" in empty


def test_the_list_exports_what_it_shows_as_csv_and_xlsx(cast, frozen):
    _three(cast)
    web = client_for(cast.coordinator)
    page = web.get("/partners/?tier=regular&sort=name").content.decode()
    assert 'href="?tier=regular&amp;sort=name&amp;format=csv"' in page
    assert 'href="?tier=regular&amp;sort=name&amp;format=xlsx"' in page

    response = web.get("/partners/?tier=regular&sort=name&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="partners-2026-03-02.csv"'
    assert response["Cache-Control"] == "no-store"
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    (row,) = list(csv.DictReader(io.StringIO(body)))
    assert (row["partner"], row["stage"], row["tier"]) == (
        "Drug Court",
        "Establish rapport",
        "Regular",
    )
    assert row["last_contact"] == "2025-11-02" and row["received_12_months"] == "0"
    assert "silent" in row["health"].lower() or "days" in row["health"]

    sheet = web.get("/partners/?format=xlsx&sort=name")
    rows = list(load_workbook(io.BytesIO(sheet.content), read_only=True).active.values)
    assert rows[0][0] == "partner" and [r[0] for r in rows[1:]] == [
        "County Probation",
        "Drug Court",
        "Eastside Therapy",
    ]
    assert rows[1][3] == "no" and rows[1][2] == "Primary"
    exports = AuditEvent.objects.filter(action="export", object_type="partners.relationship")
    assert [event.detail["format"] for event in exports.order_by("pk")] == ["csv", "xlsx"]


def test_the_list_its_export_and_the_api_lists_take_fixed_queries(cast, frozen):
    web = client_for(cast.coordinator)
    token = api(cast)
    urls = ["/partners/", "/partners/?format=csv", "/partners/board/"]
    api_urls = ["/api/v1/partners/relationships", "/api/v1/partners/contacts"]

    def build(count: int, offset: int):
        for index in range(offset, offset + count):
            relationship = factories.relationship(
                agency=cast.agency_a, name=f"Partner {index}", owner=cast.coordinator
            )
            factories.person(
                relationship=relationship,
                actor=cast.coordinator,
                name=f"Person {index}",
                email=f"person{index}@example.org",
            )

    build(2, 0)
    web.get("/partners/")  # the session's first request does its own bookkeeping
    token.get(api_urls[0])
    few = [_queries(web, url) for url in urls] + [_queries(token, url) for url in api_urls]
    build(18, 2)
    many = [_queries(web, url) for url in urls] + [_queries(token, url) for url in api_urls]
    assert many == few, dict(zip(urls + api_urls, zip(few, many, strict=True), strict=True))
    assert max(few) <= 15, few


def test_the_partner_page_shows_people_positions_timeline_reciprocity_and_next_due(cast, frozen):
    bravo = directory.organization(network=cast.network, agency=cast.agency_b, name="Bravo")
    relationship = factories.relationship(agency=cast.agency_a, name="Bravo")
    person = factories.person(
        relationship=relationship, actor=cast.coordinator, name="Ana Intake", title="Admissions"
    )
    referral_factories.sample_referral(
        agency=cast.agency_b, actor=cast.admin_b, partner_agency=cast.agency_a, name="Alpha Home"
    )
    services.interaction_log(
        relationship=relationship,
        actor=cast.coordinator,
        kind="call",
        people=[person.pk],
        summary="Talked about the new detox beds",
        next_step="Send the brochure",
    )
    assert bravo.pk == relationship.organization_id
    html = client_for(cast.coordinator).get(f"/partners/{relationship.pk}/").content.decode()
    assert "Ana Intake" in html and "Admissions at Bravo" in html  # person and position
    assert "Talked about the new detox beds" in html and "Next: Send the brochure" in html
    assert "Referral received from them" in html
    assert "<strong>1</strong> referral received from them" in html
    assert 'id="next-due"' in html and "Mar 16, 2026" in html  # 14 days after the call
    viewed = AuditEvent.objects.filter(action="view", object_type="partners.relationship")
    assert viewed.filter(object_id=str(relationship.pk)).exists()


def test_the_board_moves_a_stage_and_not_a_fit_needs_a_reason(cast, frozen):
    lasting, silent, prospect = _three(cast)
    web = client_for(cast.coordinator)
    board = web.get("/partners/board/").content.decode()
    assert board.index("Eastside Therapy") < board.index("Drug Court") < board.index("County")

    moved = web.post(f"/partners/{prospect.pk}/stage/", {"stage": "rapport", "next": "board"})
    assert moved.status_code == 302 and moved["Location"] == "/partners/board/"
    prospect.refresh_from_db()
    assert prospect.stage == Stage.RAPPORT

    refused = web.post(f"/partners/{silent.pk}/stage/", {"stage": "not_a_fit"})
    assert refused.status_code == 400
    assert "reason" in refused.content.decode().lower()
    silent.refresh_from_db()
    assert silent.stage == Stage.RAPPORT
    done = web.post(
        f"/partners/{silent.pk}/stage/", {"stage": "not_a_fit", "reason": "Adolescents only"}
    )
    assert done.status_code == 302
    silent.refresh_from_db()
    assert (silent.stage, silent.stage_reason, silent.next_due_at) == (
        Stage.NOT_A_FIT,
        "Adolescents only",
        None,
    )
    assert client_for(cast.auditor).post(f"/partners/{lasting.pk}/stage/", {}).status_code == 403


def test_editing_saves_and_refuses_payment_for_referrals_on_the_field(cast, frozen):
    relationship = factories.relationship(agency=cast.agency_a)
    web = client_for(cast.coordinator)
    assert web.get(f"/partners/{relationship.pk}/edit/").status_code == 200
    saved = web.post(
        f"/partners/{relationship.pk}/edit/",
        {
            "owner": cast.coordinator.pk,
            "tier": "regular",
            "considers": "Beds the same week",
            "mutual_benefits": "We host their officers' trainings",
        },
    )
    assert saved.status_code == 302
    relationship.refresh_from_db()
    assert (relationship.tier, relationship.owner_id) == (Tier.REGULAR, cast.coordinator.pk)
    refused = web.post(
        f"/partners/{relationship.pk}/edit/",
        {"tier": "primary", "mutual_benefits": "$100 for every client placed with us"},
    )
    assert refused.status_code == 400
    assert "EKRA" in refused.content.decode()
    relationship.refresh_from_db()
    assert relationship.tier == Tier.REGULAR
    assert relationship.mutual_benefits == "We host their officers' trainings"


def test_adding_a_partner_searches_the_directory(cast, frozen):
    directory.organization(network=cast.network, name="Westside Sober Living")
    directory.organization(network=cast.other_network, name="Westside Elsewhere")
    web = client_for(cast.coordinator)
    found = web.get("/partners/add/?q=westside")
    assert [org.name for org in found.context["found"]] == ["Westside Sober Living"]
    added = web.post("/partners/add/", {"organization": found.context["found"][0].pk})
    relationship = Relationship.objects.get(agency=cast.agency_a)
    assert added["Location"] == f"/partners/{relationship.pk}/"
    elsewhere = web.post("/partners/add/", {"organization": "999999"}, follow=True)
    assert Relationship.objects.filter(agency=cast.agency_a).count() == 1
    assert elsewhere.status_code == 200 and list(elsewhere.context["messages"])


def test_the_quick_log_works_in_place_and_keeps_errors_in_place(cast, frozen):
    relationship = factories.relationship(agency=cast.agency_a)
    web = client_for(cast.coordinator)
    form = web.get(f"/partners/{relationship.pk}/log/", **HTMX)
    assert form.status_code == 200 and 'name="summary"' in form.content.decode()
    assert web.get(f"/partners/{relationship.pk}/log/")["Location"].endswith("#log")

    logged = web.post(
        f"/partners/{relationship.pk}/log/",
        {"kind": "call", "occurred_on": "2026-03-02", "summary": "Checked in"},
        **HTMX,
    )
    assert logged.status_code == 200 and "Logged" in logged.content.decode()
    relationship.refresh_from_db()
    assert relationship.last_contact_at == START

    future = web.post(
        f"/partners/{relationship.pk}/log/",
        {"kind": "call", "occurred_on": "2026-03-09"},
        **HTMX,
    )
    assert future.status_code == 200  # htmx swaps only 2xx: the errors show in place
    assert "not a future date" in future.content.decode()
    page = web.post(f"/partners/{relationship.pk}/log/", {"kind": "fax", "occurred_on": "x"})
    assert page.status_code == 400
    assert Interaction.objects.filter(relationship=relationship).count() == 1


def test_a_referral_page_logs_a_contact_with_its_partner(cast, frozen):
    referral = referral_factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator)
    web = client_for(cast.coordinator)
    html = web.get(f"/referrals/{referral.pk}/").content.decode()
    assert "Relationship with Harbor House" in html
    url = f"/partners/referral/{referral.pk}/log/"
    assert f'hx-get="{url}"' in html
    assert web.get(url, **HTMX).status_code == 200
    logged = web.post(
        url,
        {
            "kind": "email",
            "occurred_on": "2026-03-02",
            "summary": "Sent the packet",
            "referral": referral.pk,
        },
        **HTMX,
    )
    assert logged.status_code == 200
    interaction = Interaction.objects.get(agency=cast.agency_a)
    assert interaction.referral_id == referral.pk
    assert interaction.relationship.organization.name == "Harbor House"
    # Now the relationship exists, the section links the partner page.
    relationship = interaction.relationship
    html = web.get(f"/referrals/{referral.pk}/").content.decode()
    assert f'href="/partners/{relationship.pk}/"' in html

    draft = referral_factories.sample_referral(
        agency=cast.agency_a, actor=cast.coordinator, sent=False, name="Second Home"
    )
    assert "Relationship with" not in web.get(f"/referrals/{draft.pk}/").content.decode()
    assert web.get(f"/partners/referral/{draft.pk}/log/", **HTMX).status_code == 404


def test_a_received_referral_logs_with_the_sender_and_only_where_it_is_listed(cast, frozen):
    received = referral_factories.sample_referral(
        agency=cast.agency_b, actor=cast.admin_b, partner_agency=cast.agency_a, name="Alpha Home"
    )
    web = client_for(cast.coordinator)
    # Bravo has no listing in the directory: nothing to log against, and no link that 404s.
    assert "Relationship with" not in web.get(f"/referrals/{received.pk}/").content.decode()
    directory.organization(network=cast.network, agency=cast.agency_b, name="Bravo Treatment")
    html = web.get(f"/referrals/{received.pk}/").content.decode()
    assert "Relationship with Bravo Treatment" in html
    assert web.get(f"/partners/referral/{received.pk}/log/", **HTMX).status_code == 200


# --- the API ------------------------------------------------------------------------------------


def test_the_relationships_api_creates_patches_moves_and_logs(cast, frozen):
    organization = directory.organization(network=cast.network, name="County Probation")
    token = api(cast)
    created = token.post(
        "/api/v1/partners/relationships",
        {"organization": organization.pk},
        content_type="application/json",
    )
    assert created.status_code == 201
    body = created.json()
    again = token.post(
        "/api/v1/partners/relationships",
        {"organization": organization.pk},
        content_type="application/json",
    )
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    url = f"/api/v1/partners/relationships/{body['id']}"

    patched = token.patch(
        url, {"version": body["version"], "tier": "primary"}, content_type="application/json"
    )
    assert patched.status_code == 200 and patched.json()["tier"] == "primary"
    stale = token.patch(
        url, {"version": body["version"], "tier": "regular"}, content_type="application/json"
    )
    assert stale.status_code == 409
    stranger = token.patch(
        url,
        {"version": patched.json()["version"], "owner": cast.admin_b.pk},
        content_type="application/json",
    )
    assert stranger.status_code == 400 and stranger.json()["field"] == "owner"
    paid = token.patch(
        url,
        {"version": patched.json()["version"], "mutual_benefits": "a $50 gift card per referral"},
        content_type="application/json",
    )
    assert paid.status_code == 400 and paid.json()["code"] == "remuneration"

    no_reason = token.post(f"{url}/stage", {"stage": "not_a_fit"}, content_type="application/json")
    assert no_reason.status_code == 400 and no_reason.json()["field"] == "reason"
    staged = token.post(
        f"{url}/stage", {"stage": "mutual_benefits"}, content_type="application/json"
    )
    assert staged.status_code == 200 and staged.json()["stage"] == "mutual_benefits"

    logged = token.post(
        f"{url}/interactions",
        {"kind": "visit", "summary": "Dropped by their office"},
        content_type="application/json",
    )
    assert logged.status_code == 201 and logged.json()["kind"] == "visit"
    listed = token.get(f"{url}/interactions").json()
    assert [item["summary"] for item in listed["items"]] == ["Dropped by their office"]
    detail = token.get(url).json()
    assert detail["last_face_to_face_at"] is not None and detail["next_due_at"] is not None
    months = token.get(f"{url}/reciprocity").json()
    assert len(months) == 12 and months[-1] == {"month": "2026-03", "received": 0, "sent": 0}
    future = token.post(
        f"{url}/interactions",
        {"kind": "call", "occurred_at": "2026-04-01T10:00:00"},
        content_type="application/json",
    )
    assert future.status_code == 400 and future.json()["field"] == "occurred_at"
    unknown = token.post(
        f"{url}/interactions", {"kind": "carrier pigeon"}, content_type="application/json"
    )
    assert unknown.status_code == 422
    assert Interaction.objects.filter(agency=cast.agency_a).count() == 1

    filtered = token.get("/api/v1/partners/relationships?stage=mutual_benefits").json()
    assert [item["organization"]["name"] for item in filtered["items"]] == ["County Probation"]
    assert token.get("/api/v1/partners/relationships?stage=lasting").json()["items"] == []
    assert token.get("/api/v1/partners/relationships?sort=bogus").status_code == 422


def test_the_contacts_api_adds_moves_and_refuses_bad_input(cast, frozen):
    county = directory.organization(network=cast.network, name="County Probation")
    court = directory.organization(network=cast.network, name="Drug Court")
    token = api(cast)
    created = token.post(
        "/api/v1/partners/contacts",
        {
            "organization": county.pk,
            "name": "Jordan Ellis",
            "title": "Probation officer",
            "email": "Jordan.Ellis@County.example.org",
            "phones": ["(312) 555-0100"],
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    person = created.json()
    assert person["email"] == "Jordan.Ellis@county.example.org"
    assert person["phones"] == ["+13125550100"]
    bad = token.post(
        "/api/v1/partners/contacts",
        {"organization": county.pk, "name": "X", "phones": ["call me"]},
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["field"] == "phones"

    moved = token.post(
        f"/api/v1/partners/contacts/{person['id']}/move",
        {"organization": court.pk, "title": "Court liaison"},
        content_type="application/json",
    )
    assert moved.status_code == 200
    positions = moved.json()["positions"]
    assert {(p["organization"]["name"], p["ended_on"]) for p in positions} == {
        ("County Probation", "2026-03-02"),
        ("Drug Court", None),
    }
    overlap = token.post(
        f"/api/v1/partners/contacts/{person['id']}/move",
        {"organization": county.pk, "on": "2026-02-01"},
        content_type="application/json",
    )
    assert overlap.status_code == 400 and overlap.json()["field"] == "on"
    assert len(token.get(f"/api/v1/partners/contacts/{person['id']}").json()["positions"]) == 2
    listed = token.get("/api/v1/partners/contacts").json()["items"]
    assert [item["name"] for item in listed] == ["Jordan Ellis"]
