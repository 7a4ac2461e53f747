"""Referral Bundles as a hospital sends them (the SDOH Clinical Care IG's shape), and the IG's
own example chain read from the shared data."""

import copy
import json
from pathlib import Path

EXAMPLES = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "fhir-sdoh-clinicalcare"
    / "ig-examples-2.3.0"
)
R4_SCHEMA = EXAMPLES.parent.parent / "fhir-r4-core" / "fhir.schema.json"

HOSPITAL = {
    "resourceType": "Organization",
    "id": "mercy",
    "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1144221847"}],
    "name": "Mercy General Hospital",
    "telecom": [{"system": "phone", "value": "(312) 555-0142"}],
}


def hospital_bundle(*, owner: str = "", status: str = "requested", consent: bool = True) -> dict:
    """Mercy General refers Jordan Lee for a sober-living bed: Patient, ServiceRequest, Task
    (owner: `owner`, e.g. "Organization/agency-alpha"), the requester and the patient's
    consent to hear back."""
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": "urn:mercy:mrn", "value": "MRN-5521"}],
        "name": [{"family": "Lee", "given": ["Jordan"]}],
        "birthDate": "1988-07-14",
        "telecom": [{"system": "phone", "value": "(312) 555-0199"}],
    }
    request = {
        "resourceType": "ServiceRequest",
        "id": "sr1",
        "identifier": [{"system": "urn:mercy:referral", "value": "R-2026-0042"}],
        "status": "active",
        "intent": "order",
        "code": {"text": "Sober-living bed after inpatient detox"},
        "reasonCode": [{"text": "Discharged from detox on Friday; needs a recovery residence."}],
        "subject": {"reference": "Patient/p1"},
        "requester": {"reference": "Organization/mercy"},
    }
    task = {
        "resourceType": "Task",
        "id": "t1",
        "identifier": [{"system": "urn:mercy:task", "value": "T-2026-0042"}],
        "status": status,
        "intent": "order",
        "code": {
            "coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]
        },
        "focus": {"reference": "ServiceRequest/sr1"},
        "for": {"reference": "Patient/p1"},
        "authoredOn": "2026-03-02T15:00:00Z",
        "requester": {"reference": "Organization/mercy"},
    }
    if owner:
        task["owner"] = {"reference": owner}
    resources = [patient, request, task, copy.deepcopy(HOSPITAL)]
    if consent:
        resources.append(
            {
                "resourceType": "Consent",
                "id": "c1",
                "status": "active",
                "scope": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                            "code": "patient-privacy",
                        }
                    ]
                },
                "category": [{"text": "Updates on this referral to Mercy General"}],
                "patient": {"reference": "Patient/p1"},
                "dateTime": "2026-03-02T14:00:00Z",
                "provision": {"period": {"end": "2027-03-02"}},
            }
        )
    return transaction(resources)


def transaction(resources) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"http://mercy.example.org/fhir/{r['resourceType']}/{r['id']}",
                "resource": r,
                "request": {"method": "POST", "url": r["resourceType"]},
            }
            for r in resources
        ],
    }


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def sdohcc_chain() -> dict:
    """The IG's example referral: a ServiceRequest for food-pantry application help, its
    accepted Task, the patient, the referring physician's role, the clinic and the
    coordination platform, and the condition behind it."""
    return transaction(
        [
            example(name)
            for name in (
                "Patient-pat-53234.json",
                "ServiceRequest-SDOHCC-ServiceRequestActiveFoodPantryApplicationAssistExample.json",
                "Task-SDOHCC-TaskReferralManagementOrderFulfillmentAcceptedExample.json",
                "PractitionerRole-SDOHCC-PractitionerRoleDrJanWaterExample.json",
                "Practitioner-SDOHCC-PractitionerDrJanWaterExample.json",
                "Organization-SDOHCC-OrganizationClinicExample.json",
                "Organization-SDOHCC-OrganizationCoordinationPlatformExample.json",
                "Condition-SDOHCC-ConditionFoodInsecurityExample.json",
            )
        ]
    )
