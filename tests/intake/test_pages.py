"""The intake pages: the screening with its live decision panel, saving (and Refer from the
panel), the information-and-referral record, assign / choose / close, the warm handoff page
(consent captured there), the rules page (checked on save, nothing changed when refused), the
rotation, the list in a fixed number of queries, and the API."""

import csv
import io
from datetime import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from referloop.core.models import AuditEvent
from referloop.core.permissions import Role
from referloop.core.services import api_token_create
from referloop.intake import rules as triage
from referloop.intake import selectors, services
from referloop.intake.admin import TriageRuleAdminForm
from referloop.intake.forms import when_text
from referloop.intake.models import Inquiry, IntakeShift, Status, TriageRule
from referloop.referrals.models import Referral
from tests.conftest import client_for
from tests.intake.conftest import screening

pytestmark = pytest.mark.django_db

ANSWERS = {
    "channel": "phone",
    "caller": "self",
    "first_name": "Avery",
    "last_name": "Quinn",
    "phone": "555-0100",
    "need": "counseling",
    "service_format": "individual",
    "age_group": "adult",
    "age": "34",
    "severity": "moderate",
    "suicidal_risk": "no",
    "homicidal_risk": "no",
    "domestic_violence": "no",
    "substance_use": "no",
    "legal_involvement": "no",
}


def _inquiry(cast, **changes) -> Inquiry:
    return services.inquiry_create(
        agency=cast.agency_a, actor=cast.coordinator, data=screening(**changes)
    )


def test_the_panel_shows_the_contraindication_as_answers_change(cast, county):
    page = client_for(cast.coordinator)
    form = page.get("/intake/new/")
    assert form.status_code == 200
    assert 'hx-post="/intake/decide/"' in form.text
    partial = page.post("/intake/decide/", {**ANSWERS, "domestic_violence": "no"})
    assert "Decision: Serve in house" in partial.text
    partial = page.post(
        "/intake/decide/", {**ANSWERS, "domestic_violence": "yes", "service_format": "couples"}
    )
    assert "Couples therapy is contraindicated" in partial.text
    assert "Individual domestic-violence-specific services — for each party" in partial.text
    assert "Individual domestic violence counseling" in partial.text
    assert "Couples and marriage counseling" not in partial.text
    assert not Inquiry.objects.exists()  # deciding saves nothing


def test_the_panel_says_what_is_missing(cast, county):
    partial = client_for(cast.coordinator).post("/intake/decide/", {"first_name": "Avery"})
    assert partial.status_code == 200
    assert "Choose the service requested" in partial.text


def test_imminent_risk_puts_the_crisis_banner_first(cast, county):
    partial = client_for(cast.coordinator).post(
        "/intake/decide/", {**ANSWERS, "suicidal_risk": "yes"}
    )
    text = partial.text
    assert text.index("Crisis pathway first") < text.index("Decision:")
    assert "988" in text and "911" in text


def test_saving_records_the_inquiry_and_opens_its_record(cast, county):
    response = client_for(cast.coordinator).post(
        "/intake/new/", {**ANSWERS, "domestic_violence": "yes", "service_format": "couples"}
    )
    inquiry = Inquiry.objects.get()
    assert response.status_code == 302 and response.url == f"/intake/{inquiry.pk}/"
    record = client_for(cast.coordinator).get(response.url)
    assert record.status_code == 200
    assert "Couples therapy is contraindicated" in record.text
    assert "Individual domestic-violence-specific services — for each party" in record.text
    assert f"/intake/{inquiry.pk}/options/{inquiry.options.get().pk}/refer/" in record.text
    assert AuditEvent.objects.filter(action="view", object_id=str(inquiry.pk)).exists()


def test_refer_from_the_panel_saves_and_goes_to_the_handoff(cast, county):
    response = client_for(cast.coordinator).post(
        "/intake/new/",
        {
            **ANSWERS,
            "domestic_violence": "yes",
            "service_format": "couples",
            "refer_service": str(county.dv.pk),
        },
    )
    option = Inquiry.objects.get().options.get()
    assert response.url == f"/intake/{option.inquiry_id}/options/{option.pk}/refer/"


def test_a_missing_answer_is_shown_next_to_its_question_and_nothing_is_saved(cast, county):
    response = client_for(cast.coordinator).post("/intake/new/", {**ANSWERS, "homicidal_risk": ""})
    assert response.status_code == 400
    assert "Answer yes or no: Is the person imminently homicidal?" in response.text
    assert not Inquiry.objects.exists()


def test_a_contradiction_is_refused_on_the_page(cast, county):
    response = client_for(cast.coordinator).post(
        "/intake/new/", {**ANSWERS, "age_group": "child", "age": "34"}
    )
    assert response.status_code == 400
    assert "Age 34 does not fit the age group child" in response.text


def test_the_auditor_reads_but_cannot_screen(cast, county):
    inquiry = _inquiry(cast)
    auditor = client_for(cast.auditor)
    assert auditor.get(f"/intake/{inquiry.pk}/").status_code == 200
    assert auditor.get("/intake/new/").status_code == 403
    assert auditor.post("/intake/decide/", ANSWERS).status_code == 403


def test_another_agency_never_sees_an_inquiry(cast, county):
    inquiry = _inquiry(cast)
    option_url = f"/intake/{inquiry.pk}/options/0/refer/"
    for user in (cast.admin_b, cast.admin_c):
        page = client_for(user)
        assert page.get(f"/intake/{inquiry.pk}/").status_code == 404
        assert page.get(option_url).status_code == 404
        assert "Avery" not in page.get("/intake/").text


def test_assigning_an_unowned_inquiry(cast, county):
    inquiry = _inquiry(cast)
    assert inquiry.owner is None
    response = client_for(cast.coordinator).post(
        f"/intake/{inquiry.pk}/owner/", {"owner": cast.coordinator.pk, "version": inquiry.version}
    )
    assert response.status_code == 302
    inquiry.refresh_from_db()
    assert inquiry.owner == cast.coordinator
    stale = client_for(cast.coordinator).post(
        f"/intake/{inquiry.pk}/owner/", {"owner": cast.admin_a.pk, "version": 1}
    )
    assert stale.status_code == 400 and "reload" in stale.text


def test_choosing_an_option_and_closing_with_the_persons_choice(cast, county):
    inquiry = _inquiry(cast, domestic_violence=True, service_format="couples")
    option = inquiry.options.get()
    page = client_for(cast.coordinator)
    page.post(f"/intake/{inquiry.pk}/options/{option.pk}/choose/", {"chosen": "yes"})
    option.refresh_from_db()
    assert option.chosen_at is not None
    assert "Chosen ✓ (undo)" in page.get(f"/intake/{inquiry.pk}/").text
    refused = page.post(
        f"/intake/{inquiry.pk}/close/", {"status": "closed", "choice_note": "", "version": 1}
    )
    assert refused.status_code == 400
    closed = page.post(
        f"/intake/{inquiry.pk}/close/",
        {"status": "closed", "choice_note": "Will call Safe Harbor herself.", "version": 1},
    )
    assert closed.status_code == 302
    inquiry.refresh_from_db()
    assert (
        inquiry.status == Status.CLOSED and inquiry.choice_note == "Will call Safe Harbor herself."
    )


def _handoff_post(option, **changes):
    values = {
        "client": "new",
        "last_name": "Quinn",
        "consent": "",
        "consent-organization": option.organization_id,
        "consent-organization_name": option.organization_name,
        "consent-categories": ["contact", "reason"],
        "consent-purpose": "Referral for services and follow-up",
        "consent-signed_on": "2026-03-02",
        "consent-signed_by_name": "Avery Quinn",
        "consent-signer": "client",
        "consent-no_expiry": "on",
        "contact_email": "referrals@safeharbor.example.org",
        "reason": "Safety planning, individual services.",
    }
    return {**values, **changes}


def test_the_handoff_page_captures_consent_and_sends_the_referral(cast, county):
    inquiry = _inquiry(cast, domestic_violence=True, service_format="couples")
    option = inquiry.options.get()
    url = f"/intake/{inquiry.pk}/options/{option.pk}/refer/"
    page = client_for(cast.coordinator)
    form = page.get(url)
    assert form.status_code == 200
    assert "No consent in force covers Safe Harbor" in form.text
    missing = page.post(url, _handoff_post(option, **{"consent-signed_by_name": ""}))
    assert missing.status_code == 400 and not Referral.objects.exists()
    sent = page.post(url, _handoff_post(option))
    assert sent.status_code == 302 and sent.url == f"/intake/{inquiry.pk}/"
    referral = Referral.objects.get()
    assert referral.status == "requested"
    record = page.get(sent.url)
    assert referral.tracking_id in record.text
    again = page.get(url)
    assert again.status_code == 302 and again.url == f"/referrals/{referral.pk}/"
    client_page = page.get(f"/clients/{referral.client_id}/").text
    assert f'href="/intake/{inquiry.pk}/"' in client_page  # the inquiry that led to the record
    assert referral.tracking_id in client_page


def test_the_rules_page_checks_the_set_and_changes_nothing_when_refused(cast, county):
    admin = client_for(cast.admin_a)
    page = admin.get("/intake/rules/")
    assert page.status_code == 200
    assert "Domestic violence: yes · Service format requested: couples" in page.text
    rules = selectors.agency_rules(agency=cast.agency_a)
    data = {
        "action": "rules",
        "rule-TOTAL_FORMS": str(len(rules) + 1),
        "rule-INITIAL_FORMS": str(len(rules)),
        "rule-MIN_NUM_FORMS": "0",
        "rule-MAX_NUM_FORMS": "100",
    }
    for index, rule in enumerate(rules):
        data.update(
            {
                f"rule-{index}-name": rule["name"],
                f"rule-{index}-when": when_text(rule["when"]),
                f"rule-{index}-action": rule["action"],
                f"rule-{index}-parameter": rule["parameter"],
                f"rule-{index}-explanation": rule["explanation"],
                f"rule-{index}-is_active": "on",
            }
        )
    last = len(rules) - 1
    refused = admin.post("/intake/rules/", {**data, f"rule-{last}-DELETE": "on"})
    assert refused.status_code == 400
    assert "leave some screenings undecided" in refused.text
    assert not TriageRule.objects.exists()  # the shipped defaults still decide
    typo = admin.post("/intake/rules/", {**data, "rule-1-when": "domestic_violence=maybe"})
    assert typo.status_code == 400 and "domestic_violence is yes or no" in typo.text
    saved = admin.post(
        "/intake/rules/",
        {
            **data,
            f"rule-{len(rules)}-name": "Severe cases: also refer out",
            f"rule-{len(rules)}-when": "severity=severe",
            f"rule-{len(rules)}-action": "refer_out",
            f"rule-{len(rules)}-explanation": "Severe cases go to a higher level of care.",
            f"rule-{len(rules)}-is_active": "on",
        },
    )
    assert saved.status_code == 302
    assert TriageRule.objects.for_agency(cast.agency_a).count() == len(rules) + 1
    assert _inquiry(cast, severity="severe").outcome == "refer_out"
    assert client_for(cast.coordinator).post("/intake/rules/", data).status_code == 403


def test_the_profile_and_reset(cast, county):
    admin = client_for(cast.admin_a)
    response = admin.post(
        "/intake/rules/",
        {
            "action": "profile",
            "formats": ["individual"],
            "age_groups": ["adult"],
            "max_severity": "moderate",
            "accepting_new": "on",
        },
    )
    assert response.status_code == 302
    assert _inquiry(cast, service_format="family").outcome == "refer_out"
    assert admin.post("/intake/rules/", {"action": "reset"}).status_code == 302
    assert TriageRule.objects.for_agency(cast.agency_a).count() == len(triage.DEFAULT_RULES)


def test_the_rotation_page_saves_shifts_and_names_who_is_on(cast):
    admin = client_for(cast.admin_a)
    assert admin.get("/intake/rotation/").status_code == 200
    data = {
        "shift-TOTAL_FORMS": "2",
        "shift-INITIAL_FORMS": "0",
        "shift-MIN_NUM_FORMS": "0",
        "shift-MAX_NUM_FORMS": "200",
        "shift-0-user": cast.coordinator.pk,
        "shift-0-weekday": "1",
        "shift-0-starts_at": "09:00",
        "shift-0-ends_at": "17:00",
    }
    assert admin.post("/intake/rotation/", data).status_code == 302
    shift = IntakeShift.objects.get()
    assert (shift.user, shift.weekday, shift.starts_at) == (cast.coordinator, 1, time(9))
    bad = admin.post("/intake/rotation/", {**data, "shift-0-ends_at": "08:00"})
    assert bad.status_code == 400 and "end after it starts" in bad.text
    assert IntakeShift.objects.get().ends_at == time(17)


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_list_and_the_record_take_a_fixed_number_of_queries(cast, county):
    page = client_for(cast.coordinator)
    inquiry = _inquiry(cast, domestic_violence=True, service_format="couples")
    _queries(page, "/intake/")  # the first request of a session reads it and the user once
    few, record = _queries(page, "/intake/"), _queries(page, f"/intake/{inquiry.pk}/")
    for _ in range(5):
        _inquiry(cast, domestic_violence=True, service_format="couples")
    assert _queries(page, "/intake/") == few
    assert _queries(page, f"/intake/{inquiry.pk}/") == record


def test_list_filters_stay_in_the_url(cast, county):
    _inquiry(cast)
    _inquiry(cast, suicidal_risk=True)
    page = client_for(cast.coordinator)
    crisis = page.get("/intake/?outcome=crisis")
    assert (
        crisis.text.count('href="/intake/')
        - page.get("/intake/?outcome=in_house").text.count('href="/intake/')
        == 0
    )
    assert "urgent" in crisis.text
    assert "No inquiries match these filters" in page.get("/intake/?status=referred").text


# --- API ----------------------------------------------------------------------------------------


def api(user):
    raw = api_token_create(user=user, agency=user.memberships.first().agency)[1]
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


API_ANSWERS = {
    "first_name": "Avery",
    "need": "counseling",
    "service_format": "couples",
    "age_group": "adult",
    "severity": "moderate",
    "suicidal_risk": False,
    "homicidal_risk": False,
    "domestic_violence": True,
    "substance_use": False,
    "legal_involvement": False,
}


def test_the_api_screens_decides_and_lists(cast, county):
    client = api(cast.coordinator)
    decided = client.post("/api/v1/intake/decide", API_ANSWERS, content_type="application/json")
    assert decided.status_code == 200
    body = decided.json()
    assert body["outcome"] == "refer_out" and body["contraindicated"] == ["couples"]
    assert not Inquiry.objects.exists()
    created = client.post("/api/v1/intake/inquiries", API_ANSWERS, content_type="application/json")
    assert created.status_code == 201
    record = created.json()
    assert record["outcome"] == "refer_out"
    assert record["options"][0]["service_name"] == "Individual domestic violence counseling"
    assert record["fired"][0]["name"] == "Domestic violence: no couples therapy"
    listed = client.get("/api/v1/intake/inquiries").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == record["id"]
    one = client.get(f"/api/v1/intake/inquiries/{record['id']}")
    assert one.status_code == 200
    assert api(cast.admin_b).get(f"/api/v1/intake/inquiries/{record['id']}").status_code == 404


def test_the_api_records_the_persons_choice_of_an_option(cast, county):
    client = api(cast.coordinator)
    record = client.post("/api/v1/intake/inquiries", API_ANSWERS, content_type="application/json")
    inquiry_id, option = record.json()["id"], record.json()["options"][0]
    path = f"/api/v1/intake/inquiries/{inquiry_id}/options/{option['id']}/choice"

    chosen = client.post(path, {"chosen": True}, content_type="application/json")
    again = client.post(path, {"chosen": True}, content_type="application/json")
    dropped = client.post(path, {"chosen": False}, content_type="application/json")

    assert chosen.status_code == 200 and chosen.json()["chosen_at"]
    assert again.json()["chosen_at"] == chosen.json()["chosen_at"]  # chosen once, when first
    assert dropped.status_code == 200 and dropped.json()["chosen_at"] is None
    other = client.post("/api/v1/intake/inquiries", API_ANSWERS, content_type="application/json")
    elsewhere = f"/api/v1/intake/inquiries/{other.json()['id']}/options/{option['id']}/choice"
    missing = client.post(elsewhere, {"chosen": True}, content_type="application/json")
    assert missing.status_code == 404
    bravo = api(cast.admin_b).post(path, {"chosen": True}, content_type="application/json")
    assert bravo.status_code == 404


def test_the_api_refuses_bad_screenings_naming_the_field(cast, county):
    client = api(cast.coordinator)
    missing = client.post(
        "/api/v1/intake/inquiries",
        {**API_ANSWERS, "suicidal_risk": None},
        content_type="application/json",
    )
    assert missing.status_code == 400
    assert missing.json()["field"] == "suicidal_risk"
    unknown = client.post(
        "/api/v1/intake/inquiries",
        {**API_ANSWERS, "gender": "female"},
        content_type="application/json",
    )
    assert unknown.status_code in (400, 422)
    assert not Inquiry.objects.exists()


def test_the_api_reads_and_replaces_the_rules(cast):
    admin = api(cast.admin_a)
    rules = admin.get("/api/v1/intake/rules").json()
    assert len(rules["items"]) == len(triage.DEFAULT_RULES)
    refused = admin.put(
        "/api/v1/intake/rules",
        {"items": rules["items"][:-1]},
        content_type="application/json",
    )
    assert refused.status_code == 400 and "undecided" in refused.json()["detail"]
    saved = admin.put("/api/v1/intake/rules", rules, content_type="application/json")
    assert saved.status_code == 200
    coordinator = api(cast.coordinator)
    assert (
        coordinator.put("/api/v1/intake/rules", rules, content_type="application/json").status_code
        == 403
    )


def test_the_api_rotation(cast):
    admin = api(cast.admin_a)
    shifts = {
        "items": [
            {
                "user_id": cast.members_a[Role.INTAKE].pk,
                "weekday": 2,
                "starts_at": "08:00",
                "ends_at": "12:00",
            }
        ]
    }
    saved = admin.put("/api/v1/intake/rotation", shifts, content_type="application/json")
    assert saved.status_code == 200
    assert admin.get("/api/v1/intake/rotation").json()["items"][0]["weekday"] == 2


def test_the_installation_admin_checks_a_rule_within_its_agencys_set(cast):
    rows = services.rules_reset(agency=cast.agency_a, actor=cast.admin_a)
    catch_all = rows[-1]
    stored = {**catch_all.as_rule(), "agency": cast.agency_a.pk, "position": catch_all.position}
    switched_off = TriageRuleAdminForm(
        data={**stored, "when": "{}", "is_active": False},
        instance=TriageRule.objects.get(pk=catch_all.pk),
    )
    assert not switched_off.is_valid()
    assert "undecided" in str(switched_off.errors)
    reworded = TriageRuleAdminForm(
        data={**stored, "when": "{}", "explanation": "We are the right provider for {need}."},
        instance=TriageRule.objects.get(pk=catch_all.pk),
    )
    assert reworded.is_valid(), reworded.errors
    reworded.save()
    assert TriageRule.objects.get(pk=catch_all.pk).explanation.endswith("for {need}.")


def test_the_inquiries_export_holds_the_decisions_and_no_one_s_name(cast, county):
    _inquiry(cast, domestic_violence=True, service_format="couples")
    _inquiry(cast)
    page = client_for(cast.coordinator)
    response = page.get("/intake/?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:3] == ["Inquiry", "Received", "Channel"]
    assert sorted(row[7] for row in rows[1:]) == ["Refer out", "Serve in house"]
    assert "Domestic violence: no couples therapy" in body
    assert "Avery" not in body and "Quinn" not in body and "555-0100" not in body
    assert "format=xlsx" in page.get("/intake/").text
    assert page.get("/intake/?format=xlsx")["Content-Type"].startswith(
        "application/vnd.openxmlformats"
    )
