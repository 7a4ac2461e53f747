"""The stays API: inbound referrals (recorded, decided, moved in), stays (corrected, discharged)
and the updates owed to referral sources (drafted, sent within consent, skipped). Everything is
the token agency's own: another agency's row is a 404 with an `access_denied` audit row. Client
identity stays out of these answers (ids only): the clients API is where a name is read."""

from datetime import date, datetime

from ninja import Query, Router, Schema
from ninja import Status as HttpStatus
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from referloop.core.access import api_require
from referloop.core.audit import audit_record
from referloop.core.idempotency import idempotent
from referloop.core.permissions import Perm
from referloop.core.schemas import (
    API_OBJECT,
    API_READ,
    API_WRITE,
    Email,
    Id,
    InputSchema,
    IsoDate,
    Text,
)
from referloop.core.scoping import get_for_user_or_404
from referloop.stays import selectors, services
from referloop.stays.models import (
    Application,
    DischargeReason,
    InboundReferral,
    Stay,
    UpdateKind,
    UpdateOwed,
    UpdateState,
)

router = Router(tags=["stays"])


class InboundOut(Schema):
    id: int
    tracking_id: str
    origin: str
    status: str
    status_reason: str
    client_id: int | None
    source_organization_id: int | None
    source_contact_id: int | None
    network_referral_id: int | None
    owner_id: int | None
    referred_at: datetime
    applied_at: datetime | None
    decided_at: datetime | None
    admitted_at: datetime | None
    version: int


class InboundIn(InputSchema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client": 42,
                    "source_organization": 7,
                    "source_contact": 12,
                    "referred_on": "2026-05-01",
                    "note": "Their probation officer called: needs a bed after detox.",
                }
            ]
        }
    )

    client: Id
    source_organization: Id = Field(description="A directory organization of the network")
    source_contact: Id | None = None
    referred_on: IsoDate | None = Field(None, description="Default: today")
    note: Text(4000) = ""


class InboundFilter(Schema):
    status: Application | None = None
    source: Id | None = Field(None, description="A source organization id")


class ReviewIn(InputSchema):
    client: Id = Field(description="The client it is about (record them first if new)")
    source_organization: Id = Field(description="A directory organization of the network")
    source_contact: Id | None = None


class ApplicationIn(InputSchema):
    status: Application
    reason: Text(500) = Field("", description="Needed for denied")
    version: int | None = Field(None, ge=1, description="The version last read (409 if moved)")


class MoveInIn(InputSchema):
    move_in_on: IsoDate
    sobriety_on: IsoDate | None = None
    house: Text(200) = ""


class StayOut(Schema):
    id: int
    client_id: int
    inbound_id: int | None
    house: str
    move_in_on: date
    sobriety_on: date | None
    next_milestone_on: date | None
    discharge_on: date | None
    discharge_reason: str
    tell_source_of_discharge: bool
    version: int


class StayPatch(InputSchema):
    version: int = Field(ge=1)
    sobriety_on: IsoDate | None = None
    house: Text(200) = None
    tell_source_of_discharge: bool | None = None


class DischargeIn(InputSchema):
    discharge_on: IsoDate
    reason: DischargeReason
    note: Text(500) = ""
    tell_source: bool | None = Field(None, description="Default: the stay's own setting")


class UpdateOut(Schema):
    id: int
    inbound_id: int
    stay_id: int | None
    kind: str
    days: int
    due_at: datetime
    is_urgent: bool
    state: str
    settled_at: datetime | None
    skip_reason: str
    sent_to: str
    interaction_id: int | None


class UpdateDetailOut(UpdateOut):
    consent_allows: bool
    consent_reason: str
    draft_subject: str
    draft_body: str
    draft_to: str


class UpdateFilter(Schema):
    state: UpdateState | None = Field(UpdateState.OWED, description="Default: owed")


class SendIn(InputSchema):
    subject: Text(200) = Field(None, description="Default: the drafted subject")
    body: Text(8000) = Field(None, description="Default: the drafted message")
    to: Email = Field("", description="Default: the source contact's address")


class WordingOut(Schema):
    kind: str
    kind_label: str
    subject: str
    body: str
    custom: bool = Field(description="The agency's own wording (false: the built-in one)")


class WordingsOut(Schema):
    items: list[WordingOut]
    placeholders: dict[str, str] = Field(description="What each {placeholder} is replaced with")


class WordingIn(InputSchema):
    subject: Text(200, required=True)
    body: Text(8000, required=True)


class SkipIn(InputSchema):
    reason: Text(500, required=True)


def _inbound(request, inbound_id: int) -> InboundReferral:
    queryset = InboundReferral.objects.select_related("agency", "client", "source_organization")
    return get_for_user_or_404(queryset, request, pk=inbound_id)


def _stay(request, stay_id: int) -> Stay:
    return get_for_user_or_404(
        Stay.objects.select_related("agency", "inbound"), request, pk=stay_id
    )


def _update(request, update_id: int) -> UpdateOwed:
    queryset = UpdateOwed.objects.select_related(
        "agency",
        "stay",
        "inbound__agency",
        "inbound__client",
        "inbound__source_organization",
        "inbound__source_contact",
        "inbound__network_referral__owner",
    )
    return get_for_user_or_404(queryset, request, pk=update_id)


# --- inbound referrals ---------------------------------------------------------------------------


@router.get(
    "/inbound", response={200: list[InboundOut], **API_READ}, summary="Referrals made to the agency"
)
@paginate
def inbound_list(request, filters: Query[InboundFilter]):
    api_require(request, Perm.VIEW)
    audit_record(action="list", request=request, object_type="stays.inboundreferral")
    return selectors.inbound_list(
        agency=request.agency, status=filters.status or "", source_id=filters.source
    )


@router.post(
    "/inbound", response={201: InboundOut, **API_WRITE}, summary="Record a referral made to us"
)
@idempotent
def inbound_create(request, payload: InboundIn):
    api_require(request, Perm.WRITE)
    inbound = services.inbound_create(
        agency=request.agency,
        actor=request.user,
        data=services.InboundData(
            client=payload.client,
            source_organization=payload.source_organization,
            source_contact=payload.source_contact,
            referred_on=payload.referred_on,
            note=payload.note,
        ),
        request=request,
    )
    return HttpStatus(201, inbound)


@router.get(
    "/inbound/{int:inbound_id}",
    response={200: InboundOut, **API_OBJECT},
    summary="One referral made to us",
)
def inbound_detail(request, inbound_id: int):
    api_require(request, Perm.VIEW)
    inbound = _inbound(request, inbound_id)
    audit_record(action="view", request=request, obj=inbound)
    return inbound


@router.post(
    "/inbound/{int:inbound_id}/review",
    response={200: InboundOut, **API_WRITE},
    summary="Take in a referral from the public form: its client and source",
)
def inbound_review(request, inbound_id: int, payload: ReviewIn):
    """For a referral the partner's own form sent (status `new`): 400 naming `status` once it
    was taken in, `client` or `source_organization` for one the agency cannot use."""
    api_require(request, Perm.WRITE)
    return services.inbound_review(
        inbound=_inbound(request, inbound_id),
        actor=request.user,
        data=services.InboundData(
            client=payload.client,
            source_organization=payload.source_organization,
            source_contact=payload.source_contact,
        ),
        request=request,
    )


@router.post(
    "/inbound/{int:inbound_id}/application",
    response={200: InboundOut, **API_WRITE},
    summary="Record the application's status (a denial owes the source news at once)",
)
def inbound_application(request, inbound_id: int, payload: ApplicationIn):
    api_require(request, Perm.WRITE)
    return services.application_record(
        inbound=_inbound(request, inbound_id),
        actor=request.user,
        status=payload.status,
        reason=payload.reason,
        version=payload.version,
        request=request,
    )


@router.post(
    "/inbound/{int:inbound_id}/move-in",
    response={201: StayOut, **API_WRITE},
    summary="Record the move-in (schedules the source's check-ins and milestones)",
)
@idempotent
def inbound_move_in(request, inbound_id: int, payload: MoveInIn):
    api_require(request, Perm.WRITE)
    stay = services.stay_move_in(
        agency=request.agency,
        actor=request.user,
        inbound=_inbound(request, inbound_id),
        move_in_on=payload.move_in_on,
        sobriety_on=payload.sobriety_on,
        house=payload.house,
        request=request,
    )
    return HttpStatus(201, stay)


# --- stays ---------------------------------------------------------------------------------------


@router.get("/stays", response={200: list[StayOut], **API_READ}, summary="Current residents' stays")
@paginate
def stay_list(request):
    api_require(request, Perm.VIEW)
    audit_record(action="list", request=request, object_type="stays.stay")
    return Stay.objects.for_agency(request.agency).filter(discharge_on__isnull=True)


@router.get("/stays/{int:stay_id}", response={200: StayOut, **API_OBJECT}, summary="One stay")
def stay_detail(request, stay_id: int):
    api_require(request, Perm.VIEW)
    stay = _stay(request, stay_id)
    audit_record(action="view", request=request, obj=stay)
    return stay


@router.patch(
    "/stays/{int:stay_id}",
    response={200: StayOut, **API_WRITE},
    summary="Correct the sobriety date or the house; whether the source hears of a discharge",
)
def stay_patch(request, stay_id: int, payload: StayPatch):
    api_require(request, Perm.WRITE)
    stay = _stay(request, stay_id)
    given = payload.model_dump(exclude_unset=True)
    return services.stay_update(
        stay=stay,
        actor=request.user,
        sobriety_on=given.get("sobriety_on", stay.sobriety_on),
        house=given.get("house", stay.house) or "",
        tell_source_of_discharge=given.get(
            "tell_source_of_discharge", stay.tell_source_of_discharge
        ),
        version=payload.version,
        request=request,
    )


@router.post(
    "/stays/{int:stay_id}/discharge",
    response={200: StayOut, **API_WRITE},
    summary="Record the discharge (a termination owes the source news at once)",
)
def stay_discharge(request, stay_id: int, payload: DischargeIn):
    api_require(request, Perm.WRITE)
    return services.stay_discharge(
        stay=_stay(request, stay_id),
        actor=request.user,
        discharge_on=payload.discharge_on,
        reason=payload.reason,
        note=payload.note,
        tell_source=payload.tell_source,
        request=request,
    )


# --- updates owed --------------------------------------------------------------------------------


@router.get(
    "/updates",
    response={200: list[UpdateOut], **API_READ},
    summary="Updates owed to referral sources (urgent first, then by due time)",
)
@paginate
def update_list(request, filters: Query[UpdateFilter]):
    api_require(request, Perm.VIEW)
    rows = UpdateOwed.objects.for_agency(request.agency)
    if filters.state:
        rows = rows.filter(state=filters.state)
    return rows.order_by("-is_urgent", "due_at", "pk")


@router.get(
    "/updates/{int:update_id}",
    response={200: UpdateDetailOut, **API_OBJECT},
    summary="One owed update, with its drafted message and whether consent allows it",
)
def update_detail(request, update_id: int):
    api_require(request, Perm.VIEW)
    update = _update(request, update_id)
    audit_record(action="view", request=request, obj=update)
    decision = selectors.update_consent(update)
    update.consent_allows, update.consent_reason = bool(decision), decision.reason
    update.draft_subject, update.draft_body = selectors.update_draft(update, sender=request.user)
    update.draft_to = selectors.update_recipient(update.inbound)
    return update


@router.post(
    "/updates/{int:update_id}/send",
    response={200: UpdateOut, **API_WRITE},
    summary="Send the update (409 code `consent` when the client's consent does not allow it)",
)
def update_send(request, update_id: int, payload: SendIn):
    api_require(request, Perm.WRITE)
    update = _update(request, update_id)
    subject, body = selectors.update_draft(update, sender=request.user)
    return services.update_send(
        update=update,
        actor=request.user,
        subject=payload.subject if payload.subject is not None else subject,
        body=payload.body if payload.body is not None else body,
        to=payload.to,
        request=request,
    )


@router.post(
    "/updates/{int:update_id}/skip",
    response={200: UpdateOut, **API_WRITE},
    summary="Settle the update without sending it",
)
def update_skip(request, update_id: int, payload: SkipIn):
    api_require(request, Perm.WRITE)
    return services.update_skip(
        update=_update(request, update_id),
        actor=request.user,
        reason=payload.reason,
        request=request,
    )


# --- the wording of updates ------------------------------------------------------------------


@router.get(
    "/templates",
    response={200: WordingsOut, **API_READ},
    summary="The wording of each kind of update (the agency's, or the built-in one)",
)
def template_list(request):
    api_require(request, Perm.VIEW)
    return {
        "items": selectors.update_wordings(agency=request.agency),
        "placeholders": selectors.PLACEHOLDERS,
    }


@router.put(
    "/templates/{kind}",
    response={200: WordingOut, **API_WRITE},
    summary="The agency's wording of one kind of update (administrators)",
)
def template_replace(request, kind: UpdateKind, payload: WordingIn):
    """400 naming `subject` or `body` for a placeholder that does not exist."""
    api_require(request, Perm.CONFIGURE_AGENCY)
    services.template_save(
        agency=request.agency,
        actor=request.user,
        kind=kind,
        subject=payload.subject,
        body=payload.body,
        request=request,
    )
    return next(w for w in selectors.update_wordings(agency=request.agency) if w.kind == kind)
