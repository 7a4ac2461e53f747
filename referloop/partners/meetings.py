"""Meetings with partner contacts and colleagues, sent as calendar invitations.

Scheduling sends every attendee (the organizer included, so it lands in their calendar too) an
iTIP REQUEST through the outbox; a change re-sends it with the same UID and the next SEQUENCE,
a cancellation sends CANCEL. An attendee's answer comes back as a METHOD:REPLY file, imported
with `referloop import ics` or uploaded on the meeting page (`ics_import`), and recorded by
`meeting_answer_record`.

A meeting with a relationship becomes that relationship's next step ("Meeting: <title>" on the
meeting's day), so the cadence counts on it; the meeting is logged as an interaction once it has
happened, by whoever logs it (`interaction_log(meeting=...)`): scheduling is not contact yet.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from referloop.core.audit import audit_record
from referloop.core.errors import DomainError, clean_text
from referloop.core.models import Membership, User
from referloop.core.outbox import outbox_enqueue
from referloop.directory.models import Contact
from referloop.partners import calendar
from referloop.partners.models import (
    InteractionKind,
    Meeting,
    MeetingAttendee,
    MeetingStatus,
    PartStat,
    Relationship,
)
from referloop.partners.services import (
    relationship_next_step_set,
    remuneration_refuse,
)

MEETING_KINDS = (InteractionKind.IN_PERSON, InteractionKind.VIDEO)
LONGEST = timedelta(hours=24)
CLOCK_SKEW = timedelta(minutes=5)
MEETING_FIELDS = ("title", "starts_at", "ends_at", "location", "description", "kind")


@dataclass(frozen=True, slots=True)
class Invitee:
    email: str
    name: str
    contact: Contact | None = None
    user: User | None = None


# --- checks -----------------------------------------------------------------------------------


def _details(*, title, starts_at, ends_at, location, description, kind) -> dict:
    title = clean_text(title, field="title", max_length=200, required=True, label="a title")
    location = clean_text(location, field="location", max_length=300)
    description = clean_text(description, field="description", max_length=4000)
    remuneration_refuse(description, field="description")
    if kind not in MEETING_KINDS:
        raise DomainError("A meeting is in person or by video.", field="kind")
    for name, moment in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not isinstance(moment, datetime) or timezone.is_naive(moment):
            raise DomainError("Give the time with its time zone.", field=name)
    if ends_at <= starts_at:
        raise DomainError("The meeting must end after it starts.", field="ends_at")
    if ends_at - starts_at > LONGEST:
        raise DomainError("A meeting lasts at most 24 hours.", field="ends_at")
    if starts_at < timezone.now() - CLOCK_SKEW:
        raise DomainError("The meeting's start is in the past.", field="starts_at")
    return {
        "title": title,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "location": location,
        "description": description,
        "kind": kind,
    }


def _ids(values) -> set[int]:
    return {int(getattr(value, "pk", value)) for value in values or ()}


def _contact_invitees(agency, contacts) -> list[Invitee]:
    ids = _ids(contacts)
    found = list(Contact.objects.filter(network_id=agency.network_id, pk__in=ids).order_by("pk"))
    if len(found) != len(ids):
        raise DomainError(
            "Choose partner contacts from your network's directory.", field="contacts"
        )
    without = [contact.name for contact in found if not contact.email]
    if without:
        raise DomainError(
            f"No e-mail address on record for {', '.join(without)}: add one to invite them.",
            field="contacts",
        )
    return [Invitee(email=c.email, name=c.name, contact=c) for c in found]


def _colleague_invitees(agency, colleagues) -> list[Invitee]:
    ids = _ids(colleagues)
    found = list(
        User.objects.filter(
            pk__in=Membership.objects.filter(agency=agency, is_active=True, user_id__in=ids).values(
                "user_id"
            ),
            is_active=True,
        ).order_by("pk")
    )
    if len(found) != len(ids):
        raise DomainError(
            "Choose colleagues who are active members of your agency.", field="colleagues"
        )
    return [Invitee(email=u.email, name=u.full_name, user=u) for u in found]


def _invitees(agency, organizer, *, contacts, colleagues) -> list[Invitee]:
    """The organizer first, then colleagues and partner contacts, one per address."""
    people = [
        Invitee(email=organizer.email, name=organizer.full_name, user=organizer),
        *_colleague_invitees(agency, colleagues),
        *_contact_invitees(agency, contacts),
    ]
    if len(people) == 1:
        raise DomainError("Invite at least one partner contact or colleague.", field="contacts")
    unique: dict[str, Invitee] = {}
    for person in people:
        unique.setdefault(person.email.casefold(), person)
    return list(unique.values())


def _relationship(agency, relationship) -> Relationship | None:
    if relationship is None:
        return None
    pk = getattr(relationship, "pk", relationship)
    found = Relationship.objects.for_agency(agency).filter(pk=pk).first()
    if found is None:
        raise DomainError("No such partner relationship in your agency.", field="relationship")
    return found


# --- sending ----------------------------------------------------------------------------------


def _local(meeting: Meeting, moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(meeting.time_zone))


def _when(meeting: Meeting) -> str:
    starts, ends = _local(meeting, meeting.starts_at), _local(meeting, meeting.ends_at)
    day = f"{starts:%A, %B} {starts.day}, {starts.year}"
    return f"{day}, {starts:%H:%M}–{ends:%H:%M} ({meeting.time_zone})"


def _body(meeting: Meeting, method: str) -> str:
    organizer = meeting.organizer.full_name or meeting.organizer.email
    if method == calendar.CANCEL:
        head = f"{organizer} cancelled: {meeting.title}\nIt was planned for {_when(meeting)}."
    else:
        head = f"{organizer} invites you to: {meeting.title}\nWhen: {_when(meeting)}"
        if meeting.location:
            head += f"\nWhere: {meeting.location}"
    description = f"\n\n{meeting.description}" if meeting.description else ""
    how = (
        "Your calendar removes the meeting when you open this message."
        if method == calendar.CANCEL
        else "Answer with your calendar's Accept / Decline buttons (the invitation is attached "
        "as invite.ics)."
    )
    return f"{head}{description}\n\n{how}\n"


def _send(meeting: Meeting, attendees, *, method: str) -> None:
    """One message per attendee, all carrying the same calendar; the dedupe key names the UID,
    SEQUENCE and address, so a retried transaction never sends an invitation twice."""
    text = calendar.invitation(meeting, attendees, method=method, stamp=timezone.now())
    subject = ("Cancelled: " if method == calendar.CANCEL else "Invitation: ") + meeting.title
    body = _body(meeting, method)
    for attendee in attendees:
        outbox_enqueue(
            dedupe_key=f"meeting:{meeting.uid}:{meeting.sequence}:{method}:{attendee.email}",
            kind="meeting_cancel" if method == calendar.CANCEL else "meeting_invite",
            to=attendee.email,
            subject=subject,
            body_text=body,
            agency=meeting.agency,
            reply_to=meeting.organizer.email,
            obj=meeting,
            calendar=text,
            calendar_method=method,
        )


def _next_step(meeting: Meeting) -> str:
    return f"Meeting: {meeting.title}"[:500]


# --- writes -----------------------------------------------------------------------------------


def meeting_schedule(
    *,
    agency,
    actor,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    contacts=(),
    colleagues=(),
    relationship=None,
    location: str = "",
    description: str = "",
    kind: str = InteractionKind.IN_PERSON,
    request=None,
) -> Meeting:
    """Schedules a meeting with partner `contacts` and `colleagues` (ids or rows) and sends each
    of them, and the organizer (`actor`), the invitation."""
    details = _details(
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        location=location,
        description=description,
        kind=kind,
    )
    relationship = _relationship(agency, relationship)
    invitees = _invitees(agency, actor, contacts=contacts, colleagues=colleagues)
    with transaction.atomic():
        meeting = Meeting.objects.create(
            agency=agency,
            relationship=relationship,
            uid=Meeting.new_uid(),
            organizer=actor,
            time_zone=agency.time_zone,
            **details,
        )
        attendees = _attendees_add(meeting, invitees)
        _send(meeting, attendees, method=calendar.REQUEST)
        if relationship is not None:
            relationship_next_step_set(
                relationship=relationship,
                actor=actor,
                next_step=_next_step(meeting),
                next_step_on=_local(meeting, meeting.starts_at).date(),
                request=request,
            )
        audit_record(
            action="meeting_schedule",
            request=request,
            user=actor,
            agency=agency,
            obj=meeting,
            detail={"attendees": len(attendees)},
        )
    return meeting


def _attendees_add(meeting: Meeting, invitees) -> list[MeetingAttendee]:
    MeetingAttendee.objects.bulk_create(
        MeetingAttendee(
            agency_id=meeting.agency_id,
            meeting=meeting,
            contact=person.contact,
            user=person.user,
            name=person.name[:200],
            email=person.email,
            # The organizer's own calendar has the meeting by making it.
            partstat=PartStat.ACCEPTED
            if person.user == meeting.organizer
            else PartStat.NEEDS_ACTION,
            responded_at=timezone.now() if person.user == meeting.organizer else None,
        )
        for person in invitees
    )
    return list(meeting.attendees.all())


def _locked(meeting: Meeting) -> Meeting:
    locked = (
        # of=("self",): PostgreSQL cannot lock the nullable side of the relationship's join.
        Meeting.objects.select_for_update(of=("self",))
        .select_related("agency", "organizer", "relationship")
        .get(pk=meeting.pk)
    )
    if locked.status == MeetingStatus.CANCELLED:
        raise DomainError("This meeting is cancelled.", code="conflict")
    return locked


def _current(meeting: Meeting, column: str) -> list[int]:
    return [pk for pk in meeting.attendees.values_list(column, flat=True) if pk is not None]


def _attendees_sync(meeting: Meeting, invitees) -> tuple[int, list[MeetingAttendee]]:
    """Adds the new invitees and removes those left out: how many were added, and the removed
    rows (gone from the database, kept in memory to send them the cancellation)."""
    wanted = {person.email.casefold(): person for person in invitees}
    current = list(meeting.attendees.all())
    removed = [a for a in current if a.email.casefold() not in wanted]
    MeetingAttendee.objects.filter(pk__in=[a.pk for a in removed]).delete()
    known = {a.email.casefold() for a in current}
    new = [person for key, person in wanted.items() if key not in known]
    _attendees_add(meeting, new)
    return len(new), removed


def meeting_update(
    *,
    meeting: Meeting,
    actor,
    title: str | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    location: str | None = None,
    description: str | None = None,
    kind: str | None = None,
    contacts=None,
    colleagues=None,
    request=None,
) -> Meeting:
    """Changes what is given (None keeps it; `contacts` and `colleagues` are the whole new
    lists). A change bumps SEQUENCE and re-sends the invitation, same UID, to everyone; people
    taken off the list get a CANCEL; a new time asks everyone to answer again (RFC 5546
    §2.1.5). When nothing changed nothing is sent."""
    given = {
        "title": title,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "location": location,
        "description": description,
        "kind": kind,
    }
    with transaction.atomic():
        locked = _locked(meeting)
        before = {name: getattr(locked, name) for name in MEETING_FIELDS}
        details = _details(**{name: before[name] if v is None else v for name, v in given.items()})
        added, removed = 0, []
        if contacts is not None or colleagues is not None:
            invitees = _invitees(
                locked.agency,
                locked.organizer,
                contacts=_current(locked, "contact_id") if contacts is None else contacts,
                colleagues=_current(locked, "user_id") if colleagues is None else colleagues,
            )
            added, removed = _attendees_sync(locked, invitees)
        changed = [name for name in MEETING_FIELDS if details[name] != before[name]]
        if not (changed or added or removed):
            return locked
        for name in changed:
            setattr(locked, name, details[name])
        locked.sequence += 1
        locked.updated_at = timezone.now()
        locked.save(update_fields=[*changed, "sequence", "updated_at"])
        if {"starts_at", "ends_at"} & set(changed):
            locked.attendees.exclude(user=locked.organizer).update(
                partstat=PartStat.NEEDS_ACTION, responded_at=None
            )
        if removed:
            _send(locked, removed, method=calendar.CANCEL)
        _send(locked, list(locked.attendees.all()), method=calendar.REQUEST)
        _next_step_follow(locked, before["title"], actor=actor, request=request)
        audit_record(
            action="meeting_update",
            request=request,
            user=actor,
            agency=locked.agency,
            obj=locked,
            detail={"fields": changed, "added": added, "removed": len(removed)},
        )
    return locked


def _next_step_follow(meeting: Meeting, old_title: str, *, actor, request, clear=False) -> None:
    """The relationship's next step follows its meeting (moved, renamed, cancelled) as long as
    it is still the meeting's."""
    if meeting.relationship is None:
        return
    relationship_next_step_set(
        relationship=meeting.relationship,
        actor=actor,
        next_step="" if clear else _next_step(meeting),
        next_step_on=None if clear else _local(meeting, meeting.starts_at).date(),
        unless_changed_from=f"Meeting: {old_title}"[:500],
        request=request,
    )


def meeting_cancel(*, meeting: Meeting, actor, request=None) -> Meeting:
    """Cancels the meeting: STATUS:CANCELLED with the next SEQUENCE, sent to every attendee as
    METHOD:CANCEL, so their calendars drop it."""
    with transaction.atomic():
        locked = _locked(meeting)
        locked.status = MeetingStatus.CANCELLED
        locked.sequence += 1
        locked.updated_at = timezone.now()
        locked.save(update_fields=["status", "sequence", "updated_at"])
        _send(locked, list(locked.attendees.all()), method=calendar.CANCEL)
        _next_step_follow(locked, locked.title, actor=actor, request=request, clear=True)
        audit_record(
            action="meeting_cancel", request=request, user=actor, agency=locked.agency, obj=locked
        )
    return locked


def meeting_answer_record(
    *, attendee: MeetingAttendee, partstat: str, answered_at: datetime, actor=None, request=None
) -> bool:
    """Records an attendee's answer; False when it is the answer already on record."""
    if partstat not in calendar.ANSWERS:
        raise DomainError(f"'{partstat}' is not an answer to an invitation.", field="partstat")
    if attendee.partstat == partstat:
        return False
    attendee.partstat, attendee.responded_at = partstat, answered_at
    attendee.save(update_fields=["partstat", "responded_at"])
    audit_record(
        action="meeting_answer",
        request=request,
        user=actor,
        agency=attendee.agency,
        obj=attendee,
        detail={"partstat": partstat},
    )
    return True


# --- reads ------------------------------------------------------------------------------------


def meetings_upcoming(*, user, agency):
    """The agency's meetings not yet over, soonest first, cancelled ones included (marked)."""
    return (
        Meeting.objects.visible_to(user, agency)
        .filter(ends_at__gte=timezone.now())
        .select_related("organizer", "relationship__organization")
        .order_by("starts_at", "pk")
    )


def meeting_invitation(meeting: Meeting) -> str:
    """The invitation as the attendees last received it (the cancellation, once cancelled)."""
    method = calendar.CANCEL if meeting.status == MeetingStatus.CANCELLED else calendar.REQUEST
    return calendar.invitation(
        meeting, list(meeting.attendees.all()), method=method, stamp=meeting.updated_at
    )
