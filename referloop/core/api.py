from datetime import datetime

from ninja import Router, Schema
from ninja.pagination import paginate
from pydantic import Field

from referloop.core import selectors, services
from referloop.core.access import api_require
from referloop.core.models import Membership
from referloop.core.permissions import Perm, Role
from referloop.core.schemas import API_READ, API_WRITE, ErrorOut, InputSchema, ValidationErrorOut
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
