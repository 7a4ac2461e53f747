from ninja import Router, Schema
from ninja.pagination import paginate

from referloop.core import selectors
from referloop.core.access import api_require
from referloop.core.models import Membership
from referloop.core.permissions import Perm
from referloop.core.schemas import ErrorOut, ValidationErrorOut
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
