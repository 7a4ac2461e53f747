"""The stays pages and API: recording a referral to us, the decision, the move-in, the stay's
edits and discharge, an owed update (consent needed, sent, skipped), the templates, the
residents list in a fixed number of queries, and the public "refer someone to us" form."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from referloop.clients.models import Category
from referloop.core.models import OutboundEmail
from referloop.core.services import api_token_create
from referloop.stays import services
from referloop.stays.models import (
    Application,
    InboundReferral,
    Origin,
    Stay,
    UpdateKind,
    UpdateOwed,
    UpdateState,
    UpdateTemplate,
)
from tests.conftest import client_for
from tests.partners import factories as partner_factories
from tests.referrals import factories as referral_factories

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SOURCE_EMAIL = "jordan.ellis@probation.example.gov"


@pytest.fixture
def frozen():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def source(cast, frozen):
    relationship = partner_factories.relationship(agency=cast.agency_a, actor=cast.coordinator)
    person = partner_factories.person(
        relationship=relationship, actor=cast.coordinator, email=SOURCE_EMAIL
    )
    return relationship, person


@pytest.fixture
def dana(cast, frozen):
    return referral_factories.client(agency=cast.agency_a, actor=cast.coordinator)


def _inbound(cast, source, client):
    relationship, person = source
    return services.inbound_create(
        agency=cast.agency_a,
        actor=cast.coordinator,
        data=services.InboundData(
            client=client, source_organization=relationship.organization, source_contact=person
        ),
    )


def api(cast, user=None):
    raw = api_token_create(user=user or cast.coordinator, agency=cast.agency_a)[1]
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_recording_a_referral_to_us_finds_the_client_then_the_source(cast, source, dana):
    relationship, person = source
    web = client_for(cast.coordinator)
    found = web.get("/stays/inbound/new/?q=rivers").content.decode()
    assert f'href="?client={dana.pk}"' in found
    form = web.get(f"/stays/inbound/new/?client={dana.pk}")
    assert "County Probation" in form.content.decode() and "Jordan Ellis" in form.content.decode()
    future = web.post(
        f"/stays/inbound/new/?client={dana.pk}",
        {"source_organization": relationship.organization_id, "referred_on": "2026-03-09"},
    )
    assert future.status_code == 400 and "not a future date" in future.content.decode()
    assert not InboundReferral.objects.exists()
    made = web.post(
        f"/stays/inbound/new/?client={dana.pk}",
        {
            "source_organization": relationship.organization_id,
            "source_contact": person.pk,
            "referred_on": "2026-03-02",
            "note": "Leaving county jail",
        },
    )
    inbound = InboundReferral.objects.get()
    assert made["Location"] == f"/stays/inbound/{inbound.pk}/"
    assert (inbound.client, inbound.source_contact, inbound.origin) == (dana, person, Origin.STAFF)
    page = web.get(made["Location"]).content.decode()
    assert "The source at a glance" in page and "Leaving county jail" in page
    listed = web.get("/stays/inbound/?status=referred").content.decode()
    assert inbound.tracking_id in listed
    assert inbound.tracking_id not in web.get("/stays/inbound/?status=denied").content.decode()


def test_decide_move_in_edit_and_discharge_from_the_page(cast, source, dana, frozen):
    inbound = _inbound(cast, source, dana)
    web = client_for(cast.coordinator)
    url = f"/stays/inbound/{inbound.pk}/"
    no_reason = web.post(f"{url}application/", {"status": "denied", "version": inbound.version})
    assert no_reason.status_code == 400 and "Say why" in no_reason.content.decode()
    applied = web.post(f"{url}application/", {"status": "applied", "version": inbound.version})
    assert applied.status_code == 302
    bad = web.post(f"{url}move-in/", {"move_in_on": "2026-03-02", "sobriety_on": "2026-04-01"})
    assert bad.status_code == 400 and "cannot be in the future" in bad.content.decode()
    assert not Stay.objects.exists()
    moved = web.post(
        f"{url}move-in/", {"move_in_on": "2026-03-02", "sobriety_on": "2026-02-01", "house": "Elm"}
    )
    assert moved.status_code == 302
    stay = Stay.objects.get()
    page = web.get(url).content.decode()
    assert "Elm" in page and "29" in page  # days sober
    assert "Check-in after move-in (+7 days)" in page
    saved = web.post(
        f"/stays/{stay.pk}/edit/",
        {"sobriety_on": "2026-02-01", "house": "Oak", "version": stay.version},
    )
    assert saved.status_code == 302
    stay.refresh_from_db()
    assert (stay.house, stay.tell_source_of_discharge) == ("Oak", False)
    early = web.post(
        f"/stays/{stay.pk}/discharge/", {"discharge_on": "2026-02-01", "reason": "left"}
    )
    assert early.status_code == 400 and "before the move-in" in early.content.decode()
    frozen.move_to(START + timedelta(days=3))
    web = client_for(cast.coordinator)  # a new session: the old one timed out meanwhile
    done = web.post(
        f"/stays/{stay.pk}/discharge/", {"discharge_on": "2026-03-05", "reason": "terminated"}
    )
    assert done["Location"] == url
    termination = UpdateOwed.objects.get(inbound=inbound, kind=UpdateKind.TERMINATION)
    assert termination.is_urgent
    assert client_for(cast.auditor).post(f"{url}move-in/", {}).status_code == 403


def test_the_update_page_says_consent_needed_then_sends(cast, source, dana, frozen):
    inbound = _inbound(cast, source, dana)
    services.stay_move_in(
        agency=cast.agency_a, actor=cast.coordinator, inbound=inbound, move_in_on=date(2026, 3, 2)
    )
    frozen.move_to(START + timedelta(days=7))
    update = UpdateOwed.objects.get(inbound=inbound, days=7)
    web = client_for(cast.coordinator)
    page = web.get(f"/stays/updates/{update.pk}/").content.decode()
    assert "Consent needed." in page and "Record a consent" in page
    assert f"/clients/{dana.pk}/consents/new/?organization={inbound.source_organization_id}" in page
    assert f'value="{SOURCE_EMAIL}"' in page and "Update on Dana R." in page
    refused = web.post(
        f"/stays/updates/{update.pk}/send/",
        {"to": SOURCE_EMAIL, "subject": "Update", "body": "Doing well"},
    )
    assert refused.status_code == 400 and "Consent needed" in refused.content.decode()
    assert not OutboundEmail.objects.filter(kind="stay_update").exists()

    referral_factories.consent(
        client=dana,
        organization=inbound.source_organization,
        categories=[Category.IDENTITY, Category.HOUSING],
    )
    page = web.get(f"/stays/updates/{update.pk}/").content.decode()
    assert "Covered by consent" in page
    sent = web.post(
        f"/stays/updates/{update.pk}/send/",
        {"to": SOURCE_EMAIL, "subject": "Update", "body": "Doing well"},
    )
    assert sent.status_code == 302
    update.refresh_from_db()
    assert update.state == UpdateState.SENT and update.message == "Doing well"
    shown = web.get(f"/stays/updates/{update.pk}/").content.decode()
    assert "Doing well" in shown and "Send the update" not in shown

    fourteen = UpdateOwed.objects.get(inbound=inbound, days=14)
    no_reason = web.post(f"/stays/updates/{fourteen.pk}/skip/", {"reason": ""})
    assert no_reason.status_code == 400
    skipped = web.post(f"/stays/updates/{fourteen.pk}/skip/", {"reason": "Called instead"})
    assert skipped.status_code == 302
    fourteen.refresh_from_db()
    assert fourteen.state == UpdateState.SKIPPED
    assert client_for(cast.auditor).post(f"/stays/updates/{fourteen.pk}/skip/").status_code == 403


def test_the_residents_list_and_the_referrals_list_take_fixed_queries(cast, source, frozen):
    web = client_for(cast.coordinator)

    def residents(count, offset):
        for index in range(offset, offset + count):
            person = referral_factories.client(
                agency=cast.agency_a, actor=cast.coordinator, first_name=f"P{index}"
            )
            inbound = _inbound(cast, source, person)
            services.stay_move_in(
                agency=cast.agency_a,
                actor=cast.coordinator,
                inbound=inbound,
                move_in_on=date(2026, 3, 2),
                sobriety_on=date(2026, 2, 1),
            )

    residents(2, 0)
    web.get("/stays/")
    urls = ["/stays/", "/stays/inbound/"]
    few = [_queries(web, url) for url in urls]
    residents(12, 2)
    many = [_queries(web, url) for url in urls]
    assert many == few and max(few) <= 14, (few, many)
    page = web.get("/stays/").content.decode()
    assert page.count("data-row") == 14 and "30 days on Mar 3" in page


def test_templates_are_edited_by_those_who_configure_the_agency(cast, frozen):
    admin = client_for(cast.admin_a)
    page = admin.get("/stays/templates/").content.decode()
    assert "built-in wording" in page and "{client}" in page
    bad = admin.post(
        "/stays/templates/", {"kind": "milestone", "subject": "{client}", "body": "{oops}"}
    )
    assert bad.status_code == 400 and "Unknown placeholder {oops}" in bad.content.decode()
    saved = admin.post(
        "/stays/templates/",
        {"kind": "milestone", "subject": "{client}: {milestone}", "body": "Hi {source}"},
    )
    assert saved.status_code == 302
    assert UpdateTemplate.objects.get(agency=cast.agency_a).body == "Hi {source}"
    assert client_for(cast.coordinator).get("/stays/templates/").status_code == 403


def test_the_api_reads_and_replaces_the_wording_of_updates(cast, frozen):
    admin = api(cast, cast.admin_a)
    path = "/api/v1/stays/templates"

    before = admin.get(path).json()
    saved = admin.put(
        f"{path}/milestone",
        {"subject": "{client}: {milestone}", "body": "Hi {source}"},
        content_type="application/json",
    )
    bad = admin.put(
        f"{path}/milestone",
        {"subject": "{client}", "body": "{oops}"},
        content_type="application/json",
    )
    unknown = admin.put(
        f"{path}/birthday", {"subject": "x", "body": "y"}, content_type="application/json"
    )
    by_coordinator = api(cast).put(
        f"{path}/milestone", {"subject": "x", "body": "y"}, content_type="application/json"
    )

    assert [item["kind"] for item in before["items"]] == [kind.value for kind in UpdateKind]
    assert not any(item["custom"] for item in before["items"])
    assert "client" in before["placeholders"]
    assert saved.json() == {
        "kind": "milestone",
        "kind_label": "Sobriety milestone",
        "subject": "{client}: {milestone}",
        "body": "Hi {source}",
        "custom": True,
    }
    assert (bad.status_code, bad.json()["field"]) == (400, "body")
    assert unknown.status_code == 422
    assert by_coordinator.status_code == 403
    after = {item["kind"]: item for item in api(cast).get(path).json()["items"]}
    assert after["milestone"]["custom"] and not after["check_in"]["custom"]


# --- the public form ----------------------------------------------------------------------------


FORM = {
    "source_name": "Jordan Ellis",
    "source_organization_name": "County Probation",
    "source_email": "Jordan.Ellis@probation.example.gov",
    "source_phone": "(312) 555-0100",
    "person_name": "Sam Doe",
    "person_contact": "Mornings at 312-555-0199",
    "note": "Needs a bed by Friday",
}


def test_the_public_form_makes_a_draft_staff_take_in(cast, source, dana, frozen):
    relationship, person = source
    public = Client()
    assert public.get("/refer/alpha/").status_code == 200
    thanks = public.post("/refer/alpha/", FORM)
    inbound = InboundReferral.objects.get()
    assert thanks.status_code == 200 and inbound.tracking_id in thanks.content.decode()
    assert (inbound.status, inbound.origin, inbound.person_name) == (
        Application.NEW,
        Origin.FORM,
        "Sam Doe",
    )
    # The e-mail matched the directory's person, and through them the organization.
    assert (inbound.source_contact, inbound.source_organization) == (
        person,
        relationship.organization,
    )
    assert inbound.source_phone == "+13125550100"

    web = client_for(cast.coordinator)
    page = web.get(f"/stays/inbound/{inbound.pk}/?q=rivers").content.decode()
    assert "Take in this referral" in page and f'value="{dana.pk}"' in page
    taken = web.post(
        f"/stays/inbound/{inbound.pk}/review/",
        {
            "client": dana.pk,
            "source_organization": relationship.organization_id,
            "source_contact": person.pk,
        },
    )
    assert taken.status_code == 302
    inbound.refresh_from_db()
    assert (inbound.status, inbound.client) == (Application.REFERRED, dana)


def test_the_api_takes_in_a_referral_from_the_public_form(cast, source, dana, frozen):
    relationship, _ = source
    Client().post("/refer/alpha/", FORM)
    inbound = InboundReferral.objects.get()
    path = f"/api/v1/stays/inbound/{inbound.pk}/review"
    body = {"client": dana.pk, "source_organization": relationship.organization_id}

    stranger = api(cast).post(
        path,
        {**body, "client": referral_factories.client(agency=cast.agency_b).pk},
        content_type="application/json",
    )
    taken = api(cast).post(path, body, content_type="application/json")
    again = api(cast).post(path, body, content_type="application/json")

    assert (stranger.status_code, stranger.json()["field"]) == (400, "client")
    assert taken.status_code == 200
    assert (taken.json()["status"], taken.json()["client_id"]) == ("referred", dana.pk)
    assert (again.status_code, again.json()["field"]) == (400, "status")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"source_email": "not an address"}, "e-mail"),
        ({"person_name": ""}, "required"),
        ({"source_phone": "call me"}, "phone"),
    ],
)
def test_bad_form_input_is_refused_and_nothing_is_made(cast, frozen, change, message):
    response = Client().post("/refer/alpha/", {**FORM, **change})
    assert response.status_code == 400 and message in response.content.decode().lower()
    assert not InboundReferral.objects.exists()


def test_the_form_is_rate_limited_and_ignores_bots(cast, frozen, settings):
    settings.REFERRAL_FORM_PER_IP = 2
    public = Client()
    bot = public.post("/refer/alpha/", {**FORM, "website": "http://spam.example"})
    assert bot.status_code == 200 and not InboundReferral.objects.exists()
    for _ in range(2):
        assert public.post("/refer/alpha/", FORM).status_code == 200
    assert public.post("/refer/alpha/", FORM).status_code == 429
    assert InboundReferral.objects.count() == 2
    assert Client().get("/refer/no-such-agency/").status_code == 404


# --- the API ------------------------------------------------------------------------------------


def test_the_api_records_decides_moves_in_and_sends_within_consent(cast, source, dana, frozen):
    relationship, person = source
    token = api(cast)
    created = token.post(
        "/api/v1/stays/inbound",
        {
            "client": dana.pk,
            "source_organization": relationship.organization_id,
            "source_contact": person.pk,
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    inbound = created.json()
    assert inbound["status"] == "referred" and "first_name" not in inbound
    base = f"/api/v1/stays/inbound/{inbound['id']}"
    future = token.post(
        f"{base}/move-in", {"move_in_on": "2026-04-01"}, content_type="application/json"
    )
    assert future.status_code == 400 and future.json()["field"] == "move_in_on"
    stay = token.post(
        f"{base}/move-in",
        {"move_in_on": "2026-03-02", "sobriety_on": "2026-02-01"},
        content_type="application/json",
    )
    assert stay.status_code == 201 and stay.json()["next_milestone_on"] == "2026-03-03"
    owed = token.get("/api/v1/stays/updates").json()["items"]
    assert [(u["kind"], u["days"]) for u in owed][:2] == [("milestone", 30), ("check_in", 7)]
    detail = token.get(f"/api/v1/stays/updates/{owed[0]['id']}").json()
    assert detail["consent_allows"] is False and detail["draft_to"] == SOURCE_EMAIL
    refused = token.post(
        f"/api/v1/stays/updates/{owed[0]['id']}/send", {}, content_type="application/json"
    )
    assert refused.status_code == 409 and refused.json()["code"] == "consent"
    skipped = token.post(
        f"/api/v1/stays/updates/{owed[0]['id']}/skip",
        {"reason": "No Part 2 consent"},
        content_type="application/json",
    )
    assert skipped.status_code == 200 and skipped.json()["state"] == "skipped"
    referral_factories.consent(
        client=dana,
        organization=relationship.organization,
        categories=[Category.IDENTITY, Category.HOUSING],
    )
    frozen.move_to(START + timedelta(days=7))
    sent = token.post(
        f"/api/v1/stays/updates/{owed[1]['id']}/send", {}, content_type="application/json"
    )
    assert sent.status_code == 200 and sent.json()["state"] == "sent"
    assert (
        OutboundEmail.objects.get(kind="stay_update").subject
        == "Update on Dana R.: 7 days at Alpha Recovery"
    )
    stays = token.get("/api/v1/stays/stays").json()["items"]
    patched = token.patch(
        f"/api/v1/stays/stays/{stays[0]['id']}",
        {"version": stays[0]["version"], "house": "Elm"},
        content_type="application/json",
    )
    assert patched.status_code == 200 and patched.json()["house"] == "Elm"
    discharged = token.post(
        f"/api/v1/stays/stays/{stays[0]['id']}/discharge",
        {"discharge_on": "2026-03-09", "reason": "completed"},
        content_type="application/json",
    )
    assert discharged.status_code == 200 and discharged.json()["discharge_on"] == "2026-03-09"
    assert token.get("/api/v1/stays/inbound?status=approved").json()["count"] == 1
    read_only = api(cast, cast.auditor).post(
        f"{base}/application", {"status": "withdrawn"}, content_type="application/json"
    )
    assert read_only.status_code == 403


def test_a_move_in_without_a_referral_has_its_own_stay_page(cast, dana, frozen):
    web = client_for(cast.coordinator)
    found = web.get("/stays/move-in/?q=rivers").content.decode()
    assert f'href="?client={dana.pk}"' in found
    bad = web.post(f"/stays/move-in/?client={dana.pk}", {"move_in_on": "2026-03-09"})
    assert bad.status_code == 400 and "not a future date" in bad.content.decode()
    made = web.post(
        f"/stays/move-in/?client={dana.pk}", {"move_in_on": "2026-03-01", "house": "Elm"}
    )
    stay = Stay.objects.get()
    assert made["Location"] == f"/stays/{stay.pk}/" and stay.inbound is None
    assert not UpdateOwed.objects.exists()  # nobody referred them: nobody is owed news
    page = web.get(made["Location"]).content.decode()
    assert "no partner is owed updates" in page and "(1 day)" in page
    assert f'href="/stays/{stay.pk}/"' in web.get("/stays/").content.decode()
    wrong = web.post(
        f"/stays/{stay.pk}/edit/",
        {"sobriety_on": "2026-04-01", "house": "Elm", "version": stay.version},
    )
    assert wrong.status_code == 400 and "cannot be in the future" in wrong.content.decode()
    early = web.post(
        f"/stays/{stay.pk}/discharge/", {"discharge_on": "2026-02-01", "reason": "left"}
    )
    assert early.status_code == 400 and "before the move-in" in early.content.decode()
    done = web.post(
        f"/stays/{stay.pk}/discharge/", {"discharge_on": "2026-03-02", "reason": "left"}
    )
    assert done["Location"] == f"/stays/{stay.pk}/"
    stay.refresh_from_db()
    assert stay.discharge_reason == "left"
    assert "Record the discharge" not in web.get(f"/stays/{stay.pk}/").content.decode()


def test_a_stay_from_a_referral_opens_on_the_referrals_page(cast, source, dana):
    inbound = _inbound(cast, source, dana)
    stay = services.stay_move_in(
        agency=cast.agency_a, actor=cast.coordinator, inbound=inbound, move_in_on=date(2026, 3, 2)
    )
    response = client_for(cast.coordinator).get(f"/stays/{stay.pk}/")
    assert response["Location"] == f"/stays/inbound/{inbound.pk}/"


def test_the_client_page_lists_referrals_to_us_and_stays_and_starts_either(cast, source, dana):
    inbound = _inbound(cast, source, dana)
    stay = services.stay_move_in(
        agency=cast.agency_a, actor=cast.coordinator, inbound=inbound, move_in_on=START.date()
    )
    page = client_for(cast.coordinator).get(f"/clients/{dana.pk}/").text
    assert f'href="/stays/inbound/{inbound.pk}/"' in page
    assert f'href="/stays/{stay.pk}/"' in page
    assert f'href="/stays/inbound/new/?client={dana.pk}"' in page
    assert f'href="/stays/move-in/?client={dana.pk}"' in page
    auditor = client_for(cast.auditor).get(f"/clients/{dana.pk}/").text
    assert "Record a move-in" not in auditor
