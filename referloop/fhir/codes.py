"""The FHIR vocabulary Referloop speaks: identifier systems, and how our referral and
application states read as Task statuses of the SDOH Clinical Care IG ("SDOHCC Task For
Referral Management": TaskStatus without `ready` and `received`, statusReason.text for
rejected, cancelled, on-hold and failed)."""

from referloop.referrals.models import Status
from referloop.stays.models import Application, DischargeReason

FHIR_JSON = "application/fhir+json"
TASK_PROFILE = (
    "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-TaskForReferralManagement"
)
SERVICE_REQUEST_PROFILE = (
    "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ServiceRequest"
)
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
SDOHCC_TEMP = "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
OUTCOME_SYSTEM = "urn:referloop:outcome"  # our disposition codes (Task.output on an outcome)
AGENCY_SYSTEM = "urn:referloop:agency"  # an agency's Organization: its slug


def referral_system(agency) -> str:
    """Our tracking IDs of referrals an agency sent (ServiceRequest and Task identifier)."""
    return f"urn:referloop:{agency.slug}:referral"


def inbound_system(agency) -> str:
    """Our tracking IDs of referrals made to an agency."""
    return f"urn:referloop:{agency.slug}:inbound"


# SDOHCC-ValueSetReferralTaskStatus: TaskStatus less `ready` and `received`.
TASK_STATUSES = frozenset(
    {
        "draft",
        "requested",
        "accepted",
        "rejected",
        "cancelled",
        "in-progress",
        "on-hold",
        "failed",
        "completed",
        "entered-in-error",
    }
)
REASON_REQUIRED = frozenset({"rejected", "cancelled", "on-hold", "failed"})
FINAL = frozenset({"rejected", "cancelled", "failed", "completed", "entered-in-error"})


def referral_task_status(status: str) -> tuple[str, str]:
    """(Task.status, Task.businessStatus text) of one of our referrals. Our "received" is no
    Task status of the IG: the Task stays `requested`, its business status says "Received"."""
    if status == Status.RECEIVED:
        return "requested", Status(status).label
    return status, Status(status).label


def inbound_task_status(inbound, stay) -> tuple[str, str]:
    """(Task.status, businessStatus text) of a referral made to us: its application and, once
    the person moved in, their stay."""
    if stay is not None:
        if stay.discharge_on is None:
            return "in-progress", "Moved in"
        label = DischargeReason(stay.discharge_reason).label
        if stay.discharge_reason in (DischargeReason.COMPLETED, DischargeReason.INDEPENDENT):
            return "completed", label
        return "failed", label
    return {
        Application.APPROVED: "accepted",
        Application.WAITLISTED: "on-hold",
        Application.DENIED: "rejected",
        Application.WITHDRAWN: "cancelled",
    }.get(inbound.status, "requested"), Application(inbound.status).label
