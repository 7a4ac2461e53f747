"""FHIR R4 exchange: a hospital's referral comes in as a transaction Bundle and is polled back
to its outcome; our referrals go out as Bundles (consent checked, ledgered) and are moved by
Task updates; bad input is an OperationOutcome and changes nothing; every resource we write
validates against the FHIR R4 JSON Schema; the SDOH CC example chain imports and our export of
it re-imports unchanged."""

import io
import json
import tempfile
from datetime import timedelta

import jsonschema
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referloop.clients.models import Disclosure
from referloop.clients.services import consent_revoke
from referloop.core.services import api_token_create
from referloop.core.timeutils import agency_today
from referloop.fhir import resources, selectors
from referloop.fhir.importer import bundle_import
from referloop.fhir.models import ReceivedReferral
from referloop.referrals.models import Referral, Status
from referloop.stays.models import Application, DischargeReason, InboundReferral, Origin
from referloop.stays.services import application_record, stay_discharge, stay_move_in
from tests.conftest import client_for
from tests.fhir.bundles import R4_SCHEMA, hospital_bundle, sdohcc_chain, transaction
from tests.referrals import factories

pytestmark = pytest.mark.django_db
FHIR = "application/fhir+json"
SCHEMA = json.loads(R4_SCHEMA.read_text(encoding="utf-8"))


def schema_errors(resource: dict) -> list[str]:
    """What the FHIR R4 JSON Schema says is wrong with `resource` (validated as its own type,
    so the messages name the element)."""
    schema = {**SCHEMA, "oneOf": [{"$ref": f"#/definitions/{resource['resourceType']}"}]}
    validator = jsonschema.Draft6Validator(schema)
    return [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message[:200]}"
        for error in validator.iter_errors(resource)
    ]


def api_for(user, agency) -> Client:
    raw = api_token_create(user=user, agency=agency)[1]
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _post(api, bundle):
    return api.post("/fhir", json.dumps(bundle), content_type=FHIR)


def _issues(response) -> list[tuple[str, str]]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return [(i.get("expression", [""])[0], i.get("diagnostics", "")) for i in body["issue"]]


# --- a hospital refers someone to us, and polls for the outcome -------------------------------


def test_a_hospital_refers_polls_and_sees_us_accept_and_complete(cast):
    hospital = api_for(cast.coordinator, cast.agency_a)  # the integration's token, from us
    posted = _post(hospital, hospital_bundle(owner="Organization/agency-alpha"))
    assert posted.status_code == 201 and posted["Content-Type"] == FHIR
    entries = posted.json()["entry"]
    task_url = entries[1]["response"]["location"]
    assert task_url.startswith("Task/inbound-")

    inbound = InboundReferral.objects.get()
    assert inbound.origin == Origin.FHIR and inbound.agency == cast.agency_a
    assert (inbound.client.first_name, inbound.client.last_name) == ("Jordan", "Lee")
    assert inbound.client.date_of_birth == "1988-07-14"
    assert inbound.source_organization.name == "Mercy General Hospital"
    assert "recovery residence" in inbound.note
    consent = ReceivedReferral.objects.get().consent
    assert consent.recipient_organization == inbound.source_organization
    assert consent.expires_on.isoformat() == "2027-03-02"

    def poll(since):
        query = {"_lastUpdated": f"gt{since.isoformat()}"} if since else {}
        bundle = hospital.get("/fhir/Task", query).json()
        assert bundle["type"] == "searchset"
        return {e["resource"]["id"]: e["resource"] for e in bundle.get("entry", [])}

    seen = poll(None)
    task = seen[task_url.split("/")[1]]
    assert task["status"] == "requested" and task["owner"]["display"] == "Alpha Recovery"
    assert {"system": "urn:mercy:task", "value": "T-2026-0042"} in task["identifier"]
    assert schema_errors(task) == []
    since = timezone.now()

    application_record(inbound=inbound, actor=cast.coordinator, status=Application.APPROVED)
    accepted = poll(since)[task["id"]]
    assert accepted["status"] == "accepted" and accepted["meta"]["versionId"] == "2"
    since = timezone.now()
    assert poll(since) == {}  # nothing new since

    stay = stay_move_in(
        agency=cast.agency_a,
        actor=cast.coordinator,
        inbound=inbound,
        move_in_on=agency_today(cast.agency_a),
    )
    assert poll(since)[task["id"]]["status"] == "in-progress"
    since = timezone.now()
    stay_discharge(
        stay=stay,
        actor=cast.coordinator,
        discharge_on=agency_today(cast.agency_a),
        reason=DischargeReason.COMPLETED,
    )
    done = hospital.get(f"/fhir/{task_url}").json()
    assert (
        done["status"] == "completed" and done["businessStatus"]["text"] == "Completed the program"
    )
    assert poll(since)[task["id"]]["status"] == "completed"
    assert schema_errors(done) == []
    # Every newer version the hospital read is a disclosure in the client's ledger.
    ledger = Disclosure.objects.filter(client=inbound.client)
    assert ledger.count() == 4 and {d.recipient_name for d in ledger} == {"Mercy General Hospital"}

    request = hospital.get(f"/fhir/ServiceRequest/{task['id']}").json()
    assert request["subject"]["reference"] == f"Patient/client-{inbound.client_id}"
    assert {"system": "urn:mercy:referral", "value": "R-2026-0042"} in request["identifier"]
    assert schema_errors(request) == []


def test_the_same_bundle_twice_is_one_referral(cast):
    hospital = api_for(cast.coordinator, cast.agency_a)
    assert _post(hospital, hospital_bundle()).status_code == 201
    again = _post(hospital, hospital_bundle())
    assert again.status_code == 200
    assert again.json()["entry"][1]["response"]["status"] == "200 OK"
    assert InboundReferral.objects.count() == 1 and ReceivedReferral.objects.count() == 1


def test_without_consent_the_requester_reads_nothing_about_the_person(cast):
    hospital = api_for(cast.coordinator, cast.agency_a)
    posted = _post(hospital, hospital_bundle(consent=False))
    assert posted.status_code == 201
    issues = posted.json()["entry"][1]["response"]["outcome"]["issue"]
    assert any("no Consent" in issue["diagnostics"] for issue in issues)
    task_id = posted.json()["entry"][1]["response"]["location"]
    refused = hospital.get(f"/fhir/{task_id}")
    assert refused.status_code == 403 and "Consent needed" in _issues(refused)[0][1]
    listing = hospital.get("/fhir/Task").json()
    assert listing["total"] == 0
    assert "1 Task(s) withheld" in listing["entry"][0]["resource"]["issue"][0]["diagnostics"]
    assert not Disclosure.objects.exists()


# --- bad input: an OperationOutcome, nothing written ------------------------------------------


def _without(bundle, kind):
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != kind]
    return bundle


def _task(bundle):
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Task")


@pytest.mark.parametrize(
    ("make", "status", "where", "says"),
    [
        (lambda: b"{not json", 400, "", "not JSON"),
        (lambda: {"resourceType": "Patient"}, 400, "resourceType", "expected a FHIR Bundle"),
        (
            lambda: _without(hospital_bundle(), "ServiceRequest"),
            422,
            "Task.focus",
            "not in the Bundle",
        ),
        (lambda: _without(hospital_bundle(), "Task"), 422, "entry", "no Task"),
        (lambda: hospital_bundle(status="received"), 422, "Task.status", "not in the SDOHCC"),
        (lambda: hospital_bundle(status="completed"), 422, "Task.status", "asks nothing of us"),
        (
            lambda: hospital_bundle(owner="Organization/agency-bravo"),
            422,
            "Task.owner",
            "addressed to another agency ('bravo')",
        ),
        (
            lambda: {**hospital_bundle(), "entry": [{"resource": {"resourceType": "Nope"}}]},
            422,
            "entry[0].resourceType",
            "not a FHIR resource type",
        ),
    ],
)
def test_bad_bundles_are_refused_with_the_reason(cast, make, status, where, says):
    body = make()
    raw = body if isinstance(body, bytes) else json.dumps(body)
    response = _hospital(cast).post("/fhir", raw, content_type=FHIR)
    assert response.status_code == status
    assert any(w == where and says in d for w, d in _issues(response)), _issues(response)
    assert not InboundReferral.objects.exists() and not ReceivedReferral.objects.exists()


def _hospital(cast):
    return api_for(cast.coordinator, cast.agency_a)


def test_a_malformed_element_names_its_path(cast):
    bundle = hospital_bundle()
    _task(bundle)["focus"] = {"reference": 5}
    response = _hospital(cast).post("/fhir", json.dumps(bundle), content_type=FHIR)
    assert response.status_code == 422
    assert ("entry[2].resource.focus.reference", "Task: Input should be a valid string") in _issues(
        response
    )


def test_who_may_use_the_fhir_surface(cast):
    assert Client().get("/fhir/Task").status_code == 401
    assert Client().get("/fhir/metadata").status_code == 200  # the capability statement is public
    auditor = api_for(cast.auditor, cast.agency_a)
    refused = auditor.post("/fhir", json.dumps(hospital_bundle()), content_type=FHIR)
    assert refused.status_code == 403 and not InboundReferral.objects.exists()
    assert auditor.get("/fhir/Task").status_code == 200


# --- our referral: exported, and moved by the partner's Task updates --------------------------


@pytest.fixture
def sent(cast):
    return factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator)


def test_a_referral_exports_as_a_valid_bundle_holding_what_the_consent_covers(cast, sent):
    bundle = json.loads(_export(cast, sent.tracking_id))
    assert bundle["type"] == "transaction"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[:3] == ["Patient", "ServiceRequest", "Task"] and "Consent" in kinds
    assert {"Organization", "HealthcareService"} <= set(kinds)
    for entry in bundle["entry"]:
        assert schema_errors(entry["resource"]) == [], entry["resource"]["resourceType"]
    assert schema_errors(bundle) == []
    patient, request, task = (e["resource"] for e in bundle["entry"][:3])
    assert patient["name"] == [{"family": "Rivers", "given": ["Dana"]}]
    assert request["reasonCode"][0]["text"] == "Needs a sober-living bed after detox."
    assert task["status"] == "requested" and task["focus"]["reference"] == request_ref(sent)
    assert Disclosure.objects.filter(client=sent.client, channel="export").count() == 1


def request_ref(referral):
    return f"ServiceRequest/referral-{referral.pk}"


def test_what_the_consent_leaves_out_is_not_in_the_bundle(cast):
    org, _ = factories.partner(network=cast.network)
    person = factories.client(agency=cast.agency_a, actor=cast.coordinator)
    covering = factories.consent(client=person, organization=org, categories=["identity"])
    made = factories.referral(
        client=person,
        organization=org,
        consent=covering,
        actor=cast.coordinator,
        categories=["identity"],
    )
    made = factories.send(made, actor=cast.coordinator)
    bundle = json.loads(_export(cast, made.tracking_id))
    patient, request = bundle["entry"][0]["resource"], bundle["entry"][1]["resource"]
    assert "telecom" not in patient and "reasonCode" not in request
    consent_revoke(consent=covering, actor=cast.coordinator, method="phone call")
    with pytest.raises(CommandError, match="Consent needed: The client revoked"):
        _export(cast, made.tracking_id)
    assert Disclosure.objects.filter(client=person, channel="export").count() == 1


def _export(cast, tracking_id=None) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/export.json"
        options = {"agency": cast.agency_a.slug}
        if tracking_id:
            options["referral"] = tracking_id
        call_command("export", "fhir", path, stderr=io.StringIO(), **options)
        with open(path, encoding="utf-8") as handle:
            return handle.read()


def test_the_partner_moves_our_referral_through_task_updates(cast, sent):
    api = api_for(cast.coordinator, cast.agency_a)
    url = f"/fhir/Task/referral-{sent.pk}"
    task = api.get(url).json()
    assert schema_errors(task) == []

    task.update(status="rejected", statusReason={"text": "No beds this month"})
    task["output"] = [
        {
            "type": {"coding": [{"system": "urn:referloop:outcome", "code": "outcome"}]},
            "valueCodeableConcept": {
                "coding": [{"system": "urn:referloop:outcome", "code": "no_capacity"}]
            },
        }
    ]
    updated = api.put(url, json.dumps(task), content_type=FHIR)
    assert updated.status_code == 200, updated.content
    assert updated.json()["status"] == "rejected"
    assert updated.json()["statusReason"]["text"] == "No beds this month"
    sent.refresh_from_db()
    assert sent.status == Status.REJECTED and sent.disposition.code == "no_capacity"

    again = {**updated.json(), "status": "accepted"}
    refused = api.put(url, json.dumps(again), content_type=FHIR)
    assert refused.status_code == 422
    assert "cannot become accepted" in _issues(refused)[0][1]
    sent.refresh_from_db()
    assert sent.status == Status.REJECTED


@pytest.mark.parametrize(
    ("change", "status", "where"),
    [
        ({"status": "received"}, 422, "Task.status"),  # not in the IG's value set
        ({"status": "shipped"}, 422, "Task.status"),
        ({"status": "on-hold", "statusReason": None}, 422, "Task.statusReason"),
        ({"resourceType": "Patient"}, 400, "Task"),
        ({"id": "referral-999999"}, 400, "Task.id"),
    ],
)
def test_bad_task_updates_change_nothing(cast, sent, change, status, where):
    api = api_for(cast.coordinator, cast.agency_a)
    url = f"/fhir/Task/referral-{sent.pk}"
    task = {**api.get(url).json(), **change}
    response = api.put(
        url, json.dumps({k: v for k, v in task.items() if v is not None}), content_type=FHIR
    )
    assert response.status_code == status
    assert _issues(response)[0][0] == where
    assert Referral.objects.get(pk=sent.pk).status == Status.REQUESTED


def test_a_stale_version_is_a_conflict(cast, sent):
    api = api_for(cast.coordinator, cast.agency_a)
    url = f"/fhir/Task/referral-{sent.pk}"
    task = {**api.get(url).json(), "status": "accepted"}
    response = api.put(url, json.dumps(task), content_type=FHIR, HTTP_IF_MATCH='W/"1"')
    assert response.status_code == 409
    assert Referral.objects.get(pk=sent.pk).status == Status.REQUESTED


def test_another_agency_sees_no_task_of_ours(cast, sent):
    theirs = api_for(cast.admin_b, cast.agency_b)
    url = f"/fhir/Task/referral-{sent.pk}"
    assert theirs.get(url).status_code == 404
    put = theirs.put(
        url, json.dumps({"resourceType": "Task", "status": "accepted"}), content_type=FHIR
    )
    assert put.status_code == 404
    assert theirs.get(f"/fhir/ServiceRequest/referral-{sent.pk}").status_code == 404
    assert theirs.get("/fhir/Task").json()["total"] == 0
    _post(_hospital(cast), hospital_bundle())
    inbound = InboundReferral.objects.get()
    assert theirs.get(f"/fhir/Task/inbound-{inbound.pk}").status_code == 404
    assert Referral.objects.get(pk=sent.pk).status == Status.REQUESTED


def test_polling_by_status_and_time(cast, sent):
    api = api_for(cast.coordinator, cast.agency_a)
    requested = api.get("/fhir/Task", {"status": "requested"}).json()
    assert [e["resource"]["id"] for e in requested["entry"]] == [f"referral-{sent.pk}"]
    assert api.get("/fhir/Task", {"status": "completed"}).json()["total"] == 0
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert api.get("/fhir/Task", {"_lastUpdated": f"gt{later}"}).json()["total"] == 0
    for bad in ({"status": "received"}, {"_lastUpdated": "gt2026-03-01"}, {"_count": "0"}):
        assert api.get("/fhir/Task", bad).status_code == 400, bad


def test_the_capability_statement(cast):
    statement = Client().get("/fhir/metadata").json()
    assert (
        statement["resourceType"] == "CapabilityStatement" and statement["fhirVersion"] == "4.0.1"
    )
    assert schema_errors(statement) == []
    types = {r["type"] for r in statement["rest"][0]["resource"]}
    assert types == {"Task", "ServiceRequest"}


# --- the SDOH CC example chain ------------------------------------------------------------------


def test_the_sdohcc_example_chain_imports_and_our_export_reimports_unchanged(cast):
    result = bundle_import(
        agency=cast.agency_a, actor=cast.coordinator, raw=json.dumps(sdohcc_chain()).encode()
    )
    assert result.report.ok and result.created
    inbound = result.inbound
    assert (inbound.client.first_name, inbound.client.last_name) == ("COLIN V.", "ABBAS")
    assert inbound.source_organization.name == "Better Health Clinic"
    assert "food pantry" in inbound.note.lower() and "Dr Jan Water" in inbound.note
    assert [p.field for p in result.report.problems] == ["Task.status", "Consent"]

    api = api_for(cast.coordinator, cast.agency_a)
    inbound = selectors.inbound_by_resource_id(
        cast.coordinator, cast.agency_a, f"inbound-{inbound.pk}"
    )
    task = json.loads(
        resources.as_json(
            resources.inbound_task(inbound, own_organization=None, received=inbound.fhir)
        )
    )
    request = json.loads(
        resources.as_json(resources.inbound_service_request(inbound, received=inbound.fhir))
    )
    patient = json.loads(
        resources.as_json(resources.patient_resource(inbound.client, ["identity"]))
    )
    source = json.loads(
        resources.as_json(resources.organization_resource(inbound.source_organization))
    )
    for resource in (task, request, patient, source):
        assert schema_errors(resource) == [], resource["resourceType"]
    assert task["identifier"][0]["system"] == "urn:referloop:alpha:inbound"

    counts = (InboundReferral.objects.count(), ReceivedReferral.objects.count())
    again = bundle_import(
        agency=cast.agency_a,
        actor=cast.coordinator,
        raw=json.dumps(transaction([patient, request, task, source])).encode(),
    )
    assert again.report.ok and not again.created and again.inbound.pk == inbound.pk
    assert again.report.counts["inbound referrals"].unchanged == 1
    assert (InboundReferral.objects.count(), ReceivedReferral.objects.count()) == counts
    assert api.get(f"/fhir/Task/inbound-{inbound.pk}").status_code == 403  # no consent yet


def test_the_command_line_imports_and_reports(cast, tmp_path, capsys):
    path = tmp_path / "referral.json"
    path.write_text(json.dumps(hospital_bundle()), encoding="utf-8")
    call_command("import", "fhir", str(path), agency="alpha")
    assert InboundReferral.objects.count() == 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(hospital_bundle(status="received")), encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("import", "fhir", str(bad), agency="alpha")
    assert "not in the SDOHCC referral Task statuses" in capsys.readouterr().err
    assert InboundReferral.objects.count() == 1


def test_our_own_system_moves_an_inbound_referral_through_its_task(cast):
    api = _hospital(cast)
    location = _post(api, hospital_bundle()).json()["entry"][1]["response"]["location"]
    url = f"/fhir/{location}"

    def put(status, **fields):
        task = {**api.get(url).json(), "status": status, **fields}
        return api.put(url, json.dumps(task), content_type=FHIR)

    early = put("completed")
    assert early.status_code == 422 and "record the move-in" in _issues(early)[0][1]
    assert put("rejected").status_code == 422  # a denial needs its reason
    accepted = put("accepted")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    inbound = InboundReferral.objects.get()
    assert inbound.status == Application.APPROVED
    assert put("in-progress").json()["status"] == "in-progress"
    assert inbound.stay.move_in_on == agency_today(cast.agency_a)
    done = put("completed")
    assert done.json()["status"] == "completed"
    inbound.stay.refresh_from_db()
    assert inbound.stay.discharge_reason == DischargeReason.COMPLETED
    assert put("accepted").status_code == 422  # over: nothing moves it back


def test_polling_takes_the_same_queries_for_one_task_or_many(cast):
    api = _hospital(cast)
    bundle = hospital_bundle()
    _post(api, bundle)
    api.get("/fhir/Task")  # the first read of each version is written to the ledger
    with CaptureQueriesContext(connection) as one:
        assert api.get("/fhir/Task").json()["total"] == 1
    for number in range(4):
        again = hospital_bundle()
        for entry in again["entry"]:
            for identifier in entry["resource"].get("identifier", []):
                identifier["value"] += f"-{number}"
        _post(api, again)
    api.get("/fhir/Task")
    with CaptureQueriesContext(connection) as five:
        assert api.get("/fhir/Task").json()["total"] == 5
    assert len(five) == len(one)


def test_the_whole_agency_exports_one_bundle_a_line_leaving_out_what_consent_does_not_cover(
    cast, sent
):
    refused = factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator, name="Pines")
    consent_revoke(consent=refused.consent, actor=cast.coordinator, method="in writing")
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/all.ndjson"
        errors = io.StringIO()
        call_command("export", "fhir", path, agency="alpha", stderr=errors)
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["entry"][2]["resource"]["id"] == (
        f"referral-{sent.pk}"
    )
    assert f"not exported (consent): {refused.tracking_id}" in errors.getvalue()
    with pytest.raises(CommandError, match="no referral 'NOPE'"):
        call_command("export", "fhir", "-", agency="alpha", referral="NOPE")
    with pytest.raises(CommandError, match="no agency 'zulu'"):
        call_command("export", "fhir", "-", agency="zulu")


def test_the_referral_page_offers_the_bundle_while_the_consent_allows(cast, sent):
    browser = client_for(cast.coordinator)
    page = browser.get(f"/referrals/{sent.pk}/").text
    link = f"/referrals/{sent.pk}/fhir.json"
    assert link in page
    download = browser.get(link)
    assert download.status_code == 200 and download["Content-Type"] == FHIR
    assert download["Content-Disposition"] == f'attachment; filename="{sent.tracking_id}.fhir.json"'
    assert json.loads(download.content)["type"] == "transaction"
    assert Disclosure.objects.filter(client=sent.client, channel="export").count() == 1
    consent_revoke(consent=sent.consent, actor=cast.coordinator, method="phone call")
    assert link not in browser.get(f"/referrals/{sent.pk}/").text
    refused = browser.get(link)
    assert refused.status_code == 403 and b"revoked" in refused.content
    assert client_for(cast.admin_b).get(link).status_code == 404


def test_the_patient_holds_the_safe_way_to_reach_them_or_none(cast):
    person = factories.client(
        agency=cast.agency_a,
        actor=cast.coordinator,
        preferred_language="Spanish",
        safe_contact={"safe_phone": "(312) 555-0111", "voicemail_ok": False},
    )
    patient = json.loads(
        resources.as_json(resources.patient_resource(person, ["identity", "contact"]))
    )
    assert patient["telecom"] == [{"system": "phone", "value": "(312) 555-0111"}]
    assert patient["communication"] == [{"language": {"text": "Spanish"}}]
    assert schema_errors(patient) == []
    person.do_not_contact = True
    hidden = json.loads(resources.as_json(resources.patient_resource(person, ["contact"])))
    assert hidden == {"resourceType": "Patient", "id": f"client-{person.pk}"}


def test_passing_a_fhir_referral_on_makes_a_sub_task_of_it(cast):
    api = _hospital(cast)
    _post(api, hospital_bundle())
    inbound = InboundReferral.objects.get()
    harbor, _ = factories.partner(network=cast.network)
    onward = factories.send(
        factories.referral(
            client=inbound.client,
            organization=harbor,
            consent=factories.consent(client=inbound.client, organization=harbor),
            actor=cast.coordinator,
        ),
        actor=cast.coordinator,
    )
    task = api.get(f"/fhir/Task/referral-{onward.pk}").json()
    assert task["partOf"] == [{"reference": f"Task/inbound-{inbound.pk}"}]
    listed = {e["resource"]["id"]: e["resource"] for e in api.get("/fhir/Task").json()["entry"]}
    assert listed[f"referral-{onward.pk}"]["partOf"] == task["partOf"]
    assert schema_errors(task) == []


@pytest.mark.parametrize(
    "odd",
    [{"meta": "x"}, {"output": ["x"]}, {"statusReason": 5}, {"for": []}, {"intent": {"a": 1}}],
)
def test_a_task_of_the_wrong_shape_is_refused_not_a_crash(cast, sent, odd):
    api = api_for(cast.coordinator, cast.agency_a)
    url = f"/fhir/Task/referral-{sent.pk}"
    task = {**api.get(url).json(), "status": "accepted", **odd}
    response = api.put(url, json.dumps(task), content_type=FHIR)
    assert response.status_code == 400
    assert _issues(response)[0][0].startswith("Task")
    assert Referral.objects.get(pk=sent.pk).status == Status.REQUESTED


def test_deeply_nested_input_is_refused_not_a_crash(cast, sent):
    deep = {"text": "x"}
    for _ in range(3000):
        deep = {"extension": [{"url": "urn:x", "valueCodeableConcept": deep}]}
    bundle = hospital_bundle()
    _task(bundle)["extension"] = deep["extension"]
    posted = _hospital(cast).post("/fhir", json.dumps(bundle), content_type=FHIR)
    assert posted.status_code in (400, 422) and not InboundReferral.objects.exists()
    api = api_for(cast.coordinator, cast.agency_a)
    url = f"/fhir/Task/referral-{sent.pk}"
    task = {**api.get(url).json(), "extension": deep["extension"]}
    assert api.put(url, json.dumps(task), content_type=FHIR).status_code == 400
