"""The intake API: decide a screening (nothing saved), record an inquiry (decided, with the
options offered), read inquiries, assign, record the person's choice; the triage rules and the
intake rotation, read by members and replaced whole by administrators (checked as on the page).
Another agency's inquiry is a 404 with an `access_denied` audit row."""

from datetime import datetime, time

from ninja import Query, Router, Schema
from ninja import Status as HttpStatus
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import Field

from referloop.core.access import api_require
from referloop.core.audit import audit_record
from referloop.core.idempotency import idempotent
from referloop.core.models import User
from referloop.core.permissions import Perm
from referloop.core.schemas import (
    API_OBJECT,
    API_READ,
    API_WRITE,
    Id,
    InputSchema,
    Text,
)
from referloop.core.scoping import get_for_user_or_404
from referloop.intake import rules as triage
from referloop.intake import selectors, services
from referloop.intake.models import Caller, Channel, Inquiry, Status

router = Router(tags=["intake"])


class ScreeningIn(InputSchema):
    """The screening's answers; the yes/no questions must be answered (true or false)."""

    first_name: Text(100)
    last_name: Text(100) = ""
    phone: Text(50) = ""
    email: Text(254) = ""
    voicemail_ok: bool = False
    text_ok: bool = False
    safe_contact_note: Text(300) = ""
    channel: Channel = Channel.PHONE
    caller: Caller = Caller.SELF
    need: Text(60) = Field(description="A code of the 'Referloop needs' vocabulary")
    service_format: Text(20) = Field(description=", ".join(triage.FORMATS))
    age_group: Text(20) = Field(description=", ".join(triage.AGE_GROUPS))
    age: int | None = Field(None, ge=0, le=120)
    specialties: list[Text(40)] = Field(
        default_factory=list, description=", ".join(triage.SPECIALTIES)
    )
    severity: Text(20) = Field(description=", ".join(triage.SEVERITIES))
    suicidal_risk: bool | None
    homicidal_risk: bool | None
    domestic_violence: bool | None
    substance_use: bool | None
    detox_needed: bool | None = Field(None, description="Required when substance_use is true")
    legal_involvement: bool | None
    court_ordered: bool | None = Field(None, description="Required when legal_involvement is true")
    forensic_evaluation: bool | None = Field(None, description="As court_ordered")
    insurance: Text(60) = Field("", description="A code of the 'Referloop payment' vocabulary")
    has_transport: bool | None = None
    language: Text(12) = Field("", description="ISO 639 code, e.g. es")
    postal_code: Text(10) = ""
    notes: Text(4000) = ""

    def to_data(self) -> services.ScreeningData:
        return services.screening_from_dict(self.model_dump())


class FiredOut(Schema):
    name: str
    action: str
    explanation: str


class RecommendationOut(Schema):
    service_id: int
    service_name: str
    organization_id: int
    organization_name: str
    reasons: list[str]


class NeedOut(Schema):
    need: str
    label: str
    before_admission: bool
    note: str
    recommendations: list[RecommendationOut]


class DecisionOut(Schema):
    outcome: str
    urgent: bool
    contraindicated: list[str]
    fired: list[FiredOut]
    needs: list[NeedOut]


class OptionOut(Schema):
    id: int
    need: str
    before_admission: bool
    service_id: int | None
    service_name: str
    organization_id: int | None
    organization_name: str
    reasons: list[str]
    chosen_at: datetime | None
    referral_id: int | None


class InquiryOut(Schema):
    id: int
    received_at: datetime
    channel: str
    owner_id: int | None
    outcome: str
    urgent: bool
    contraindicated: list[str]
    fired: list[FiredOut]
    status: str
    client_id: int | None
    closed_at: datetime | None
    version: int


class InquiryDetailOut(InquiryOut):
    need: str
    service_format: str
    age_group: str
    severity: str
    options: list[OptionOut]

    @staticmethod
    def resolve_options(obj):
        return selectors.inquiry_options(inquiry=obj)


class InquiryFilter(Schema):
    status: Status | None = None
    outcome: str | None = Field(None, description=", ".join(triage.OUTCOMES))
    unassigned: bool = False


class AssignIn(InputSchema):
    owner: Id = Field(description="A user id of a member of the agency")
    version: int | None = Field(None, ge=1)


class ChoiceIn(InputSchema):
    chosen: bool = Field(description="The person chose this option (false: no longer)")


class CloseIn(InputSchema):
    status: Status = Field(description="in_house or closed")
    choice_note: Text(2000) = Field("", description="The person's choice; needed to close")
    version: int | None = Field(None, ge=1)


class RuleIO(InputSchema):
    name: Text(120)
    when: dict = Field(default_factory=dict, description="fact -> value (or list of values)")
    action: Text(30)
    parameter: Text(60) = ""
    explanation: Text(1000)
    is_active: bool = True


class RulesIO(InputSchema):
    items: list[RuleIO]


class RuleOut(Schema):
    name: str
    when: dict
    action: str
    parameter: str
    explanation: str
    is_active: bool


class RulesOut(Schema):
    items: list[RuleOut]


class ShiftIO(InputSchema):
    user_id: Id
    weekday: int = Field(ge=1, le=7, description="1 = Monday")
    starts_at: time
    ends_at: time


class RotationIO(InputSchema):
    items: list[ShiftIO]


class ShiftOut(Schema):
    user_id: int
    weekday: int
    starts_at: time
    ends_at: time


class RotationOut(Schema):
    items: list[ShiftOut]


def _decision_out(decided: selectors.Triage) -> dict:
    decision = decided.decision
    return {
        "outcome": decision.outcome,
        "urgent": decision.urgent,
        "contraindicated": list(decision.contraindicated),
        "fired": [
            {"name": f.name, "action": f.action, "explanation": f.explanation}
            for f in decision.fired
        ],
        "needs": [
            {
                "need": group.need,
                "label": group.label,
                "before_admission": group.before_admission,
                "note": group.note,
                "recommendations": [
                    {
                        "service_id": r.result.service.pk,
                        "service_name": r.result.service.name,
                        "organization_id": r.result.service.organization_id,
                        "organization_name": r.result.service.organization.name,
                        "reasons": [*r.result.matched, *r.result.failed, *r.result.notes, *r.notes],
                    }
                    for r in group.recommendations
                ],
            }
            for group in decided.options
        ],
    }


def _inquiry(request, inquiry_id: int) -> Inquiry:
    return get_for_user_or_404(
        Inquiry.objects.select_related("agency", "owner"), request, pk=inquiry_id
    )


@router.post(
    "/decide",
    response={200: DecisionOut, **API_WRITE},
    summary="Decide a screening (nothing saved)",
)
def inquiry_decide(request, payload: ScreeningIn):
    api_require(request, Perm.WRITE)
    screening = services.screening_clean(payload.to_data())
    return _decision_out(selectors.triage_screening(agency=request.agency, screening=screening))


@router.post(
    "/inquiries",
    response={201: InquiryDetailOut, **API_WRITE},
    summary="Record an inquiry, decided",
)
@idempotent
def inquiry_create(request, payload: ScreeningIn):
    api_require(request, Perm.WRITE)
    inquiry = services.inquiry_create(
        agency=request.agency, actor=request.user, data=payload.to_data(), request=request
    )
    return HttpStatus(201, inquiry)


@router.get(
    "/inquiries", response={200: list[InquiryOut], **API_READ}, summary="Inquiries, newest first"
)
@paginate
def inquiry_list(request, filters: Query[InquiryFilter]):
    api_require(request, Perm.VIEW)
    audit_record(action="list", request=request, object_type="intake.inquiry")
    return selectors.inquiry_list(
        agency=request.agency,
        status=filters.status or "",
        outcome=filters.outcome if filters.outcome in triage.OUTCOMES else "",
        unassigned=filters.unassigned,
    )


@router.get(
    "/inquiries/{int:inquiry_id}",
    response={200: InquiryDetailOut, **API_OBJECT},
    summary="One inquiry: the information-and-referral record",
)
def inquiry_detail(request, inquiry_id: int):
    api_require(request, Perm.VIEW)
    inquiry = _inquiry(request, inquiry_id)
    audit_record(action="view", request=request, obj=inquiry)
    return inquiry


@router.post(
    "/inquiries/{int:inquiry_id}/owner",
    response={200: InquiryOut, **API_WRITE},
    summary="Assign the inquiry",
)
def inquiry_assign(request, inquiry_id: int, payload: AssignIn):
    api_require(request, Perm.WRITE)
    inquiry = _inquiry(request, inquiry_id)
    owner = User.objects.filter(pk=payload.owner).first()
    return services.inquiry_assign(
        inquiry=inquiry, actor=request.user, owner=owner, version=payload.version, request=request
    )


@router.post(
    "/inquiries/{int:inquiry_id}/options/{int:option_id}/choice",
    response={200: OptionOut, **API_WRITE},
    summary="Record the person's choice of an option offered",
)
def option_choose(request, inquiry_id: int, option_id: int, payload: ChoiceIn):
    """400 naming `chosen` when a referral was sent for the option already (it stays chosen)."""
    api_require(request, Perm.WRITE)
    option = selectors.inquiry_option(inquiry=_inquiry(request, inquiry_id), pk=option_id)
    if option is None:
        raise HttpError(404, "No such option in this inquiry.")
    return services.option_choose(
        option=option, actor=request.user, chosen=payload.chosen, request=request
    )


@router.post(
    "/inquiries/{int:inquiry_id}/close",
    response={200: InquiryOut, **API_WRITE},
    summary="Record the person's choice and close",
)
def inquiry_close(request, inquiry_id: int, payload: CloseIn):
    api_require(request, Perm.WRITE)
    return services.inquiry_close(
        inquiry=_inquiry(request, inquiry_id),
        actor=request.user,
        status=payload.status,
        choice_note=payload.choice_note,
        version=payload.version,
        request=request,
    )


@router.get(
    "/rules", response={200: RulesOut, **API_READ}, summary="The agency's triage rules, in order"
)
def rules_read(request):
    api_require(request, Perm.VIEW)
    return {"items": selectors.agency_rules(agency=request.agency)}


@router.put(
    "/rules",
    response={200: RulesOut, **API_WRITE},
    summary="Replace the triage rules (checked to decide every screening)",
)
def rules_replace(request, payload: RulesIO):
    api_require(request, Perm.CONFIGURE_AGENCY)
    rows = services.rules_save(
        agency=request.agency,
        actor=request.user,
        rules=[item.model_dump() for item in payload.items],
        request=request,
    )
    return {"items": [row.as_rule() for row in rows]}


@router.get("/rotation", response={200: RotationOut, **API_READ}, summary="The intake rotation")
def rotation_read(request):
    api_require(request, Perm.VIEW)
    return {"items": selectors.agency_shifts(agency=request.agency)}


@router.put(
    "/rotation", response={200: RotationOut, **API_WRITE}, summary="Replace the intake rotation"
)
def rotation_replace(request, payload: RotationIO):
    api_require(request, Perm.CONFIGURE_AGENCY)
    rows = services.shifts_save(
        agency=request.agency,
        actor=request.user,
        shifts=[services.ShiftData(**item.model_dump()) for item in payload.items],
        request=request,
    )
    return {"items": rows}
