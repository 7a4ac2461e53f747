"""The partners API: relationships, people, interactions, meetings, materials."""

from datetime import datetime
from typing import Literal

from django.http import HttpResponse
from ninja import Router, Schema
from ninja import Status as HttpStatus
from ninja.pagination import paginate
from pydantic import Field

from referloop.core.access import api_require
from referloop.core.permissions import Perm
from referloop.core.schemas import (
    AgencyDateTime,
    DomainErrorOut,
    ErrorOut,
    Id,
    InputSchema,
    Text,
    ValidationErrorOut,
)
from referloop.core.scoping import get_for_user_or_404
from referloop.partners import meetings
from referloop.partners.meeting_views import invite_response
from referloop.partners.models import Meeting

router = Router(tags=["partners"])

ERRORS = {400: DomainErrorOut, 401: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut}


# --- meetings ---------------------------------------------------------------------------------


class MeetingIn(InputSchema):
    """A meeting sent as a calendar invitation to `contacts` (partner contact ids of the
    network's directory, each with an e-mail address), `colleagues` (user ids of the agency's
    members) and the caller, who organizes it."""

    title: Text(200, required=True)
    starts_at: AgencyDateTime
    ends_at: AgencyDateTime = Field(description="After starts_at, at most 24 hours later")
    kind: Literal["in_person", "video"] = "in_person"
    location: Text(300) = ""
    description: Text(4000) = ""
    contacts: list[Id] = Field(default_factory=list, max_length=200)
    colleagues: list[Id] = Field(default_factory=list, max_length=200)
    relationship: Id | None = Field(None, description="The partner relationship it is about")


class AttendeeOut(Schema):
    name: str
    email: str
    contact_id: int | None
    user_id: int | None
    partstat: str = Field(description="RFC 5545 PARTSTAT: NEEDS-ACTION, ACCEPTED, DECLINED...")
    responded_at: datetime | None


class MeetingOut(Schema):
    id: int
    uid: str
    sequence: int
    status: str
    title: str
    description: str
    location: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    time_zone: str
    organizer_id: int
    relationship_id: int | None
    attendees: list[AttendeeOut]

    @staticmethod
    def resolve_attendees(obj):
        return list(obj.attendees.all())


def _meeting(request, meeting_id: int) -> Meeting:
    queryset = Meeting.objects.select_related("organizer", "agency").prefetch_related("attendees")
    return get_for_user_or_404(queryset, request, pk=meeting_id)


@router.post(
    "/meetings",
    response={201: MeetingOut, **ERRORS},
    summary="Schedule a meeting and send the invitations",
)
def meeting_create(request, payload: MeetingIn):
    api_require(request, Perm.WRITE)
    meeting = meetings.meeting_schedule(
        agency=request.agency, actor=request.user, request=request, **payload.model_dump()
    )
    return HttpStatus(201, meeting)


@router.get(
    "/meetings",
    response={200: list[MeetingOut], **ERRORS},
    summary="The agency's meetings, latest start first",
)
@paginate
def meeting_list(request):
    api_require(request, Perm.VIEW)
    return (
        Meeting.objects.visible_to(request.user, request.agency)
        .select_related("organizer")
        .prefetch_related("attendees")
        .order_by("-starts_at", "-pk")
    )


@router.get(
    "/meetings/{int:meeting_id}",
    response={200: MeetingOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="A meeting with its attendees' answers",
)
def meeting_detail(request, meeting_id: Id):
    api_require(request, Perm.VIEW)
    return _meeting(request, meeting_id)


@router.post(
    "/meetings/{int:meeting_id}/cancel",
    response={200: MeetingOut, 404: ErrorOut, 409: DomainErrorOut, **ERRORS},
    summary="Cancel a meeting: every attendee gets the cancellation",
)
def meeting_cancel(request, meeting_id: Id):
    """409 when the meeting is already cancelled."""
    api_require(request, Perm.WRITE)
    return meetings.meeting_cancel(
        meeting=_meeting(request, meeting_id), actor=request.user, request=request
    )


@router.get(
    "/meetings/{int:meeting_id}/invite.ics",
    response={200: str, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="The invitation as an iCalendar file",
    openapi_extra={"responses": {"200": {"content": {"text/calendar": {}}}}},
)
def meeting_invite(request, meeting_id: Id) -> HttpResponse:
    api_require(request, Perm.VIEW)
    return invite_response(_meeting(request, meeting_id))
