"""`ics_import`: attendees' answers (METHOD:REPLY) read, checked and recorded in one transaction.

Every answer is checked before anything is written (the UID names one of the agency's meetings,
the attendee is invited to it, the file's time zones are known): one problem and nothing
changes. An answer to an older SEQUENCE than the meeting's is about a version since replaced,
and is left out with a warning; so is one to a cancelled meeting.
"""

from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from referloop.core.imports.readers import decode, read_bytes
from referloop.core.imports.report import WARNING, ImportReport, InputError, Problem
from referloop.core.imports.run import import_transaction
from referloop.partners import calendar
from referloop.partners.meetings import meeting_answer_record
from referloop.partners.models import Meeting, MeetingAttendee, MeetingStatus

TABLE = "meeting answers"


@dataclass(frozen=True, slots=True)
class _Checked:
    attendee: MeetingAttendee
    partstat: str
    answered_at: object


def ics_import(
    *,
    agency,
    path: str | Path | None = None,
    raw: bytes | None = None,
    name: str = "",
    meeting: Meeting | None = None,
    actor=None,
    dry_run: bool = False,
    request=None,
) -> ImportReport:
    """Imports the answers in an .ics file (`path`, or the `raw` bytes of an upload called
    `name`) into `agency`'s meetings; with `meeting`, the answers must be to that meeting."""
    name = name or (Path(path).name if path is not None else "upload.ics")
    report = ImportReport(source=name, title="Meeting answers import", dry_run=dry_run)
    try:
        data = read_bytes(Path(path), name) if raw is None else raw
        parsed = calendar.calendar_parse(decode(data, name, report.problems), name=name)
    except InputError as error:
        report.problems.append(error.problem)
        return report
    replies = calendar.replies_read(parsed, name=name, problems=report.problems)
    report.read = sum(len(reply.answers) for reply in replies)
    checked = _check(replies, agency=agency, meeting=meeting, report=report)
    with import_transaction(report):
        if report.ok:  # else nothing is written, and the report says so
            _record(report, checked, actor=actor, request=request)
    return report


def _meeting(reply, *, agency, meeting, report) -> Meeting | None:
    found = Meeting.objects.for_agency(agency).filter(uid=reply.uid).first()
    if found is None:
        reason = f"no meeting of your agency has UID '{reply.uid}'"
    elif meeting is not None and found.pk != meeting.pk:
        reason = f"the answer is to another meeting ('{found.title}'), not this one"
    else:
        return found
    report.problems.append(Problem(report.source, reply.item, "UID", reason))
    return None


def _current(reply, found: Meeting, report) -> bool:
    """Whether the answer is to the meeting as it stands (a warning when it is not)."""
    if found.status == MeetingStatus.CANCELLED:
        reason = f"'{found.title}' is cancelled: the answer is left out"
    elif reply.sequence < found.sequence:
        reason = (
            f"the answer is to version {reply.sequence} of '{found.title}', since changed "
            f"(now version {found.sequence}): left out, the attendee was asked again"
        )
    else:
        return True
    report.problems.append(Problem(report.source, reply.item, "SEQUENCE", reason, WARNING))
    return False


def _check(replies, *, agency, meeting, report) -> list[_Checked]:
    checked = []
    for reply in replies:
        found = _meeting(reply, agency=agency, meeting=meeting, report=report)
        if found is None or not _current(reply, found, report):
            continue
        for answer in reply.answers:
            attendee = found.attendees.filter(email__iexact=answer.email).first()
            if attendee is None:
                report.problems.append(
                    Problem(
                        report.source,
                        reply.item,
                        "ATTENDEE",
                        f"'{answer.email}' is not invited to '{found.title}'",
                    )
                )
                continue
            checked.append(_Checked(attendee, answer.partstat, reply.stamp or timezone.now()))
    return checked


def _record(report: ImportReport, checked, *, actor, request) -> None:
    counts = report.count(TABLE)
    for item in checked:
        changed = meeting_answer_record(
            attendee=item.attendee,
            partstat=item.partstat,
            answered_at=item.answered_at,
            actor=actor,
            request=request,
        )
        if changed:
            counts.updated += 1
        else:
            counts.unchanged += 1
