"""FHIR writes: a referral leaving the agency as a Bundle (consent checked, disclosure
recorded), an inbound Task's answers read by its requester (the same), and a Task update moving
a referral through the same services as the web, the API and the reply link."""

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from fhir.resources.R4B.task import Task
from pydantic import ValidationError

from referloop.clients.models import Channel
from referloop.clients.selectors import DisclosureDecision, disclosure_check
from referloop.clients.services import disclosure_record
from referloop.core.errors import DomainError
from referloop.core.timeutils import agency_today
from referloop.fhir import codes, resources, selectors
from referloop.fhir.importer import ANSWER_CATEGORIES
from referloop.fhir.models import ReceivedReferral
from referloop.referrals.models import Referral, Status
from referloop.referrals.services import Actor, referral_transition
from referloop.stays.models import Application, DischargeReason, InboundReferral
from referloop.stays.services import application_record, stay_discharge, stay_move_in


class FhirError(Exception):
    """A request we refuse: the HTTP status, the OperationOutcome issue code, and why."""

    def __init__(self, status: int, code: str, diagnostics: str, expression: str = ""):
        super().__init__(diagnostics)
        self.status, self.code, self.diagnostics, self.expression = (
            status,
            code,
            diagnostics,
            expression,
        )


# --- a referral we sent, as a Bundle ------------------------------------------------------------


def referral_export(*, referral: Referral, by, channel: str = Channel.EXPORT):
    """The referral as a transaction Bundle, if its consent lets what it holds go to the
    partner now (the disclosure is recorded in the same transaction); FhirError if not."""
    with transaction.atomic():
        referral = selectors.referral_for_export(referral.pk)
        categories = list(referral.categories)
        decision = disclosure_check(
            consent=referral.consent,
            client=referral.client,
            organization=referral.organization,
            categories=categories,
        )
        if not decision:
            raise FhirError(403, "security", f"Consent needed: {decision.reason}")
        bundle = resources.referral_bundle(
            referral,
            categories=categories,
            own_organization=selectors.own_organization(referral.agency),
            part_of=selectors.parent_tasks([referral]).get(referral.pk),
        )
        disclosure_record(
            consent=decision.consent,
            channel=channel,
            recipient_name=referral.organization.name,
            categories=categories,
            description=f"Referral {referral.tracking_id} as a FHIR Bundle",
            obj=referral,
            by=by,
        )
    return bundle


# --- a referral made to us: what its requester may read ---------------------------------------


def answers_release(*, inbound: InboundReferral, by) -> DisclosureDecision:
    """May the requester read how its referral goes (the Task beyond "requested" names the
    person and where they stand with us)? The first change it reads is written to the ledger."""
    decision = selectors.answers_consent(inbound)
    received = inbound.fhir
    if decision and received.disclosed_version < inbound.version:
        disclosure_record(
            consent=decision.consent,
            channel=Channel.API,
            recipient_name=inbound.source_organization.name,
            categories=ANSWER_CATEGORIES,
            description=f"FHIR Task of referral {inbound.tracking_id} (version {inbound.version})",
            obj=inbound,
            by=by,
        )
        ReceivedReferral.objects.filter(pk=received.pk).update(disclosed_version=inbound.version)
    return decision


# --- Task updates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskChange:
    status: str
    reason: str = ""
    disposition: str = ""  # our outcome code, from Task.output
    version: int | None = None  # from If-Match / meta.versionId


def task_change_read(body, *, task_id: str) -> TaskChange:
    """The change a PUT Task asks for; FhirError naming what cannot be understood."""
    if not isinstance(body, dict) or body.get("resourceType") != "Task":
        raise FhirError(400, "structure", "The body must be a Task resource.", "Task")
    if body.get("id") not in (None, task_id):
        raise FhirError(400, "value", f"The Task's id must be '{task_id}'.", "Task.id")
    try:
        Task.model_validate(body)  # every element of its FHIR type, before we read any
    except ValidationError as error:
        detail = error.errors()[0]
        path = ".".join(str(part) for part in detail["loc"])
        raise FhirError(400, "structure", f"Task.{path}: {detail['msg']}", f"Task.{path}") from None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
        reason = str(error)[:200] or "nested too deeply"
        raise FhirError(400, "structure", f"Not a valid Task: {reason}", "Task") from None
    status = body.get("status")
    if status not in codes.TASK_STATUSES:
        raise FhirError(
            422,
            "code-invalid",
            f"'{str(status)[:40]}' is not a status of the SDOHCC referral Task "
            f"({', '.join(sorted(codes.TASK_STATUSES))}).",
            "Task.status",
        )
    reason = body.get("statusReason") or {}
    reason_text = str(reason.get("text") or "").strip() if isinstance(reason, dict) else ""
    if status in codes.REASON_REQUIRED and not reason_text:
        raise FhirError(
            422,
            "required",
            f"A Task that is {status} needs statusReason.text.",
            "Task.statusReason",
        )
    disposition = ""
    for output in body.get("output") or []:
        coding = ((output or {}).get("valueCodeableConcept") or {}).get("coding") or []
        disposition = next(
            (c.get("code", "") for c in coding if c.get("system") == codes.OUTCOME_SYSTEM),
            disposition,
        )
    version = (body.get("meta") or {}).get("versionId")
    return TaskChange(
        status=status,
        reason=reason_text[:500],
        disposition=str(disposition)[:40],
        version=int(version) if str(version or "").isdigit() else None,
    )


def referral_task_update(*, referral: Referral, change: TaskChange, actor: Actor, request=None):
    """A Task status for one of our referrals, through `referral_transition` (the partner's
    answer as the web, the API and the reply link record it)."""
    to_status = change.status
    if to_status == "entered-in-error":
        raise FhirError(422, "business-rule", "Cancel the referral instead.", "Task.status")
    if to_status == referral.status or (
        to_status == "requested" and referral.status in (Status.REQUESTED, Status.RECEIVED)
    ):
        return referral  # nothing new: a Task PUT again
    try:
        return referral_transition(
            referral=referral,
            actor=actor,
            to_status=to_status,
            disposition=change.disposition or None,
            reason=change.reason,
            version=change.version,
            request=request,
        )
    except DomainError as error:
        raise _refusal(error) from None


INBOUND_APPLICATION = {
    "accepted": Application.APPROVED,
    "on-hold": Application.WAITLISTED,
    "rejected": Application.DENIED,
    "cancelled": Application.WITHDRAWN,
}


def inbound_task_update(*, inbound: InboundReferral, change: TaskChange, actor, request=None):
    """A Task status for a referral made to us, through the stays services: accepted, on hold,
    rejected and cancelled are the application's answer; in progress is the move-in (today);
    completed and failed end the stay (today)."""
    current, _ = codes.inbound_task_status(inbound, getattr(inbound, "stay", None))
    if change.status == current:
        return inbound
    if change.version is not None and change.version != inbound.version:
        raise FhirError(
            409, "conflict", f"The Task is at version {inbound.version}, not {change.version}."
        )
    today: date = agency_today(inbound.agency)
    try:
        if change.status in INBOUND_APPLICATION:
            application_record(
                inbound=inbound,
                actor=actor,
                status=INBOUND_APPLICATION[change.status],
                reason=change.reason,
                request=request,
            )
        elif change.status == "in-progress":
            stay_move_in(
                agency=inbound.agency,
                actor=actor,
                inbound=inbound,
                move_in_on=today,
                request=request,
            )
        elif change.status in ("completed", "failed"):
            stay = getattr(inbound, "stay", None)
            if stay is None:
                raise FhirError(
                    422,
                    "business-rule",
                    "Nobody moved in on this referral: record the move-in (in-progress) first.",
                    "Task.status",
                )
            stay_discharge(
                stay=stay,
                actor=actor,
                discharge_on=today,
                reason=DischargeReason.COMPLETED
                if change.status == "completed"
                else DischargeReason.LEFT,
                note=change.reason,
                request=request,
            )
        else:
            raise FhirError(
                422,
                "business-rule",
                f"A referral that is {current} cannot become {change.status}.",
                "Task.status",
            )
    except DomainError as error:
        raise _refusal(error) from None
    return InboundReferral.objects.get(pk=inbound.pk)


def _refusal(error: DomainError) -> FhirError:
    status = {"conflict": 409, "forbidden": 403, "consent": 403}.get(error.code, 422)
    code = {"conflict": "conflict", "forbidden": "forbidden", "consent": "security"}.get(
        error.code, "business-rule"
    )
    return FhirError(status, code, error.message, f"Task.{error.field}" if error.field else "")
