"""Meeting pages: the upcoming list, scheduling and editing, the meeting with its attendees'
answers, cancelling, uploading an answer, and the invitation as a .ics download."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from referloop.clients.forms import apply_domain_error
from referloop.core.access import agency_member_required
from referloop.core.errors import DomainError
from referloop.core.permissions import Perm
from referloop.core.scoping import get_for_user_or_404
from referloop.partners import meetings
from referloop.partners.ics_import.importer import ics_import
from referloop.partners.meeting_forms import MeetingForm, ReplyUploadForm
from referloop.partners.models import Meeting, MeetingStatus, Relationship


def _meeting(request, pk) -> Meeting:
    queryset = Meeting.objects.select_related("organizer", "relationship__organization", "agency")
    return get_for_user_or_404(queryset, request, pk=pk)


@agency_member_required(Perm.VIEW)
@require_safe
def meeting_list(request):
    upcoming = meetings.meetings_upcoming(user=request.user, agency=request.agency)
    return render(request, "partners/meetings/list.html", {"meetings": upcoming[:200]})


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def meeting_create(request):
    relationship = None
    if request.GET.get("relationship", "").isdigit():
        relationship = get_for_user_or_404(Relationship, request, pk=request.GET["relationship"])
    form = MeetingForm(
        request.POST or None,
        agency=request.agency,
        organizer=request.user,
        relationship=relationship,
    )
    if request.method == "POST" and form.is_valid():
        try:
            meeting = meetings.meeting_schedule(
                agency=request.agency,
                actor=request.user,
                relationship=relationship,
                request=request,
                **form.service_fields(),
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, f"Invitations to “{meeting.title}” are on their way.")
            return redirect("partners:meeting_detail", pk=meeting.pk)
    return render(
        request,
        "partners/meetings/form.html",
        {"form": form, "relationship": relationship, "creating": True},
        status=400 if form.errors else 200,
    )


@agency_member_required(Perm.VIEW)
@require_safe
def meeting_detail(request, pk):
    meeting = _meeting(request, pk)
    return render(
        request,
        "partners/meetings/detail.html",
        {
            "meeting": meeting,
            "attendees": list(meeting.attendees.all()),
            "cancelled": meeting.status == MeetingStatus.CANCELLED,
            "upload_form": ReplyUploadForm(),
        },
    )


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def meeting_edit(request, pk):
    meeting = _meeting(request, pk)
    form = MeetingForm(
        request.POST or None,
        initial=MeetingForm.initial_for(meeting),
        agency=request.agency,
        organizer=meeting.organizer,
        relationship=meeting.relationship,
        time_zone=meeting.time_zone,
    )
    if request.method == "POST" and form.is_valid():
        try:
            meetings.meeting_update(
                meeting=meeting, actor=request.user, request=request, **form.service_fields()
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "Saved: everyone invited gets the updated invitation.")
            return redirect("partners:meeting_detail", pk=meeting.pk)
    return render(
        request,
        "partners/meetings/form.html",
        {"form": form, "meeting": meeting, "relationship": meeting.relationship},
        status=400 if form.errors else 200,
    )


@agency_member_required(Perm.WRITE)
@require_POST
def meeting_cancel(request, pk):
    meeting = _meeting(request, pk)
    try:
        meetings.meeting_cancel(meeting=meeting, actor=request.user, request=request)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Cancelled: everyone invited is told.")
    return redirect("partners:meeting_detail", pk=meeting.pk)


@agency_member_required(Perm.WRITE)
@require_POST
def meeting_reply_upload(request, pk):
    """An attendee's answer forwarded as a file: recorded like `referloop import ics` does,
    but only for this meeting."""
    meeting = _meeting(request, pk)
    form = ReplyUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        for error in form.errors.get("file", ["Choose the .ics file to upload."]):
            messages.error(request, error)
        return redirect("partners:meeting_detail", pk=meeting.pk)
    upload = form.cleaned_data["file"]
    report = ics_import(
        agency=request.agency,
        raw=upload.read(),
        name=upload.name[:200],
        meeting=meeting,
        actor=request.user,
        request=request,
    )
    level = messages.WARNING if report.ok else messages.ERROR
    for line in report.problem_lines(limit=10):
        messages.add_message(request, level, line.strip())
    if report.ok:
        counts = report.count("meeting answers")
        messages.success(
            request, f"Answers recorded: {counts.updated} new, {counts.unchanged} known."
        )
    return redirect("partners:meeting_detail", pk=meeting.pk)


@agency_member_required(Perm.VIEW)
@require_safe
def meeting_invite(request, pk):
    return invite_response(_meeting(request, pk))


def invite_response(meeting: Meeting) -> HttpResponse:
    """The invitation as a file calendars open (the API serves the same)."""
    response = HttpResponse(
        meetings.meeting_invitation(meeting), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="meeting-{meeting.pk}.ics"'
    return response
