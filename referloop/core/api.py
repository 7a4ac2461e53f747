from datetime import datetime

from ninja import Query, Router, Schema
from ninja.pagination import paginate
from pydantic import Field

from referloop.core import selectors, services
from referloop.core.access import api_require
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.models import Membership, OutboundEmail
from referloop.core.outbox import STATES, outbox_cancel, outbox_messages, outbox_retry
from referloop.core.permissions import Perm, Role
from referloop.core.policy import AgencyPolicy
from referloop.core.schemas import (
    API_READ,
    API_WRITE,
    DomainErrorOut,
    ErrorOut,
    InputSchema,
    ValidationErrorOut,
)
from referloop.core.scoping import get_for_user_or_404

router = Router(tags=["people"])


class AgencyOut(Schema):
    slug: str
    name: str
    time_zone: str


class MembershipOut(Schema):
    agency: AgencyOut
    role: str


class MeOut(Schema):
    id: int
    email: str
    full_name: str
    agency: AgencyOut
    role: str
    memberships: list[MembershipOut]


class MemberOut(Schema):
    id: int
    email: str
    full_name: str
    role: str
    is_active: bool

    @staticmethod
    def resolve_email(obj):
        return obj.user.email

    @staticmethod
    def resolve_full_name(obj):
        return obj.user.full_name


class MemberPatch(InputSchema):
    """Only the fields given change. An agency always keeps an active administrator."""

    role: Role = None
    is_active: bool = Field(None, description="false: the person loses access to the agency")


class AuditEventOut(Schema):
    id: int
    at: datetime
    user: str | None = Field(description="The user's e-mail address; null for no one signed in")
    action: str
    object_type: str
    object_id: str
    ip: str | None
    outcome: str

    @staticmethod
    def resolve_user(obj):
        return obj.user.email if obj.user_id and obj.user else None


@router.get("/me", response={200: MeOut, 401: ErrorOut}, summary="The token's user and agency")
def me(request):
    memberships = selectors.memberships_of(request.user)
    return {
        "id": request.user.pk,
        "email": request.user.email,
        "full_name": request.user.full_name,
        "agency": request.agency,
        "role": request.membership.role,
        "memberships": memberships,
    }


@router.get(
    "/members",
    response={200: list[MemberOut], 401: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut},
    summary="People in the agency",
)
@paginate
def member_list(request):
    api_require(request, Perm.VIEW_MEMBERS)
    return selectors.agency_members(agency=request.agency)


@router.get(
    "/members/{int:member_id}",
    response={200: MemberOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="One member of the agency",
)
def member_detail(request, member_id: int):
    api_require(request, Perm.VIEW_MEMBERS)
    return get_for_user_or_404(Membership.objects.select_related("user"), request, pk=member_id)


@router.patch(
    "/members/{int:member_id}",
    response={200: MemberOut, **API_WRITE},
    summary="Change a member's role or access",
)
def member_update(request, member_id: int, payload: MemberPatch):
    """400 naming `role` when it would leave the agency without an active administrator."""
    api_require(request, Perm.MANAGE_MEMBERS)
    membership = get_for_user_or_404(
        Membership.objects.select_related("user", "agency"), request, pk=member_id
    )
    given = payload.model_dump(exclude_unset=True)
    return services.membership_update(
        membership=membership,
        actor=request.user,
        role=given.get("role", membership.role),
        is_active=given.get("is_active", membership.is_active),
        request=request,
    )


@router.get(
    "/audit",
    response={200: list[AuditEventOut], **API_READ},
    summary="The agency's audit log, newest first",
)
@paginate
def audit_event_list(request):
    """Every sign-in, change and refused access in the agency, as on the audit log page."""
    api_require(request, Perm.VIEW_AUDIT)
    return selectors.agency_audit_events(agency=request.agency)


# --- the agency's settings (as /settings/agency/) ----------------------------------------------


class AgencySettingsOut(Schema):
    slug: str
    name: str
    time_zone: str
    policy: AgencyPolicy = Field(description="Targets, cadences, working days and holidays")
    policy_reviewed_at: datetime | None = Field(description="null: the defaults, never reviewed")

    @staticmethod
    def resolve_policy(obj):
        return obj.policies


class AgencySettingsIn(InputSchema):
    time_zone: str = Field(description="An IANA time zone, e.g. America/Chicago")
    policy: AgencyPolicy


@router.get(
    "/agency/settings",
    response={200: AgencySettingsOut, **API_READ},
    summary="The agency's time zone and policies",
)
def agency_settings_read(request):
    api_require(request, Perm.CONFIGURE_AGENCY)
    return request.agency


@router.put(
    "/agency/settings",
    response={200: AgencySettingsOut, **API_WRITE},
    summary="Review and save the agency's time zone and policies (all of them)",
)
def agency_settings_update(request, payload: AgencySettingsIn):
    """400 naming the field for an unknown time zone or a policy the rules refuse."""
    api_require(request, Perm.CONFIGURE_AGENCY)
    return services.agency_policy_update(
        agency=request.agency,
        actor=request.user,
        data=payload.policy.model_dump(mode="json"),
        time_zone=payload.time_zone,
        request=request,
    )


# --- the outbox (as /settings/outbox/) ---------------------------------------------------------


class OutboundEmailOut(Schema):
    """A message without its body (read one on the Outbox page: that read is audited)."""

    id: int
    kind: str
    to: str
    subject: str
    state: str
    created_at: datetime
    send_after: datetime
    attempts: int
    last_error: str
    sent_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str


class OutboxFilter(Schema):
    state: str = Field("", description=f"One of: {', '.join(STATES)}; empty: every message")


class OutboxCancelIn(InputSchema):
    reason: str = Field("", max_length=300, description="Why it must not go out")


@router.get(
    "/outbox",
    response={200: list[OutboundEmailOut], 400: DomainErrorOut, **API_READ},
    summary="The agency's outgoing e-mail, newest first",
)
@paginate
def outbox_list(request, filters: Query[OutboxFilter]):
    api_require(request, Perm.CONFIGURE_AGENCY)
    if filters.state and filters.state not in STATES:
        raise DomainError(f"Unknown state: one of {', '.join(STATES)}.", field="state")
    return outbox_messages(agency=request.agency, state=filters.state)


def _message(request, message_id: int) -> OutboundEmail:
    return get_for_user_or_404(
        OutboundEmail.objects.defer("body_text", "body_html", "calendar"), request, pk=message_id
    )


@router.post(
    "/outbox/{int:message_id}/retry",
    response={200: OutboundEmailOut, **API_WRITE},
    summary="Send a message that has not gone out at the next delivery",
)
def outbox_message_retry(request, message_id: int):
    """409 when it was sent or cancelled meanwhile, or is being sent right now."""
    api_require(request, Perm.CONFIGURE_AGENCY)
    message = _message(request, message_id)
    if not outbox_retry(message=message):
        raise DomainError(
            "This message was sent or cancelled, or is being sent right now.", code="conflict"
        )
    audit_record(action="outbox_retry", request=request, obj=message)
    return _message(request, message_id)


@router.post(
    "/outbox/{int:message_id}/cancel",
    response={200: OutboundEmailOut, **API_WRITE},
    summary="Withdraw a message that has not gone out",
)
def outbox_message_cancel(request, message_id: int, payload: OutboxCancelIn):
    """409 when it was already sent or cancelled."""
    api_require(request, Perm.CONFIGURE_AGENCY)
    message = _message(request, message_id)
    name = request.user.full_name or request.user.email
    reason = payload.reason.strip() or f"Cancelled by {name} through the API"
    if not outbox_cancel(message=message, reason=reason):
        raise DomainError("This message was already sent or cancelled.", code="conflict")
    audit_record(action="outbox_cancel", request=request, obj=message)
    return _message(request, message_id)
