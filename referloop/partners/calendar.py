"""Meetings in iCalendar (RFC 5545) and iTIP (RFC 5546): the invitation we send (METHOD:REQUEST,
or CANCEL) and the attendees' answers we read back (METHOD:REPLY).

Pure functions over model instances and text; the services decide what to send and to whom.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress
from icalendar.timezone.tzp import WINDOWS_TO_OLSON

from referloop.core.imports.report import Problem, input_error
from referloop.core.timeutils import is_time_zone
from referloop.partners.models import MeetingStatus, PartStat

PRODID = "-//Referloop//Meetings//EN"
REQUEST, CANCEL, REPLY = "REQUEST", "CANCEL", "REPLY"
# The answers an attendee's calendar sends back; NEEDS-ACTION is ours to set, not theirs.
ANSWERS = frozenset(PartStat.values) - {PartStat.NEEDS_ACTION}


# --- the invitation -------------------------------------------------------------------------


def _address(email: str, name: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        # A double quote cannot appear in a quoted parameter value (RFC 5545 §3.1).
        address.params["CN"] = name.replace('"', "'")
    return address


def _attendee(attendee, *, organizer_id: int) -> vCalAddress:
    address = _address(attendee.email, attendee.name)
    is_organizer = attendee.user_id is not None and attendee.user_id == organizer_id
    address.params["CUTYPE"] = "INDIVIDUAL"
    address.params["ROLE"] = "CHAIR" if is_organizer else "REQ-PARTICIPANT"
    address.params["PARTSTAT"] = attendee.partstat
    address.params["RSVP"] = "FALSE" if is_organizer else "TRUE"
    return address


def _timezone(meeting) -> Timezone:
    """The meeting's zone with its transitions from the year before to the year after: enough
    for every calendar to place the meeting, and short enough for an e-mail."""
    year = meeting.starts_at.astimezone(ZoneInfo(meeting.time_zone)).year
    return Timezone.from_tzid(
        meeting.time_zone, first_date=date(year - 1, 1, 1), last_date=date(year + 2, 1, 1)
    )


def _event(meeting, attendees, *, method: str, stamp: datetime) -> Event:
    zone = ZoneInfo(meeting.time_zone)
    cancelled = method == CANCEL or meeting.status == MeetingStatus.CANCELLED
    event = Event()
    event.add("uid", meeting.uid)
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", meeting.starts_at.astimezone(zone))
    event.add("dtend", meeting.ends_at.astimezone(zone))
    event.add("summary", meeting.title)
    if meeting.location:
        event.add("location", meeting.location)
    if meeting.description:
        event.add("description", meeting.description)
    organizer = meeting.organizer
    event.add("organizer", _address(organizer.email, organizer.full_name))
    for attendee in attendees:
        event.add("attendee", _attendee(attendee, organizer_id=organizer.pk))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


def invitation(meeting, attendees, *, method: str, stamp: datetime) -> str:
    """The VCALENDAR for `meeting` with `attendees` (MeetingAttendee rows): the zone's VTIMEZONE
    before the VEVENT, as Outlook expects; CRLF line ends and 75-octet folding by icalendar."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(_timezone(meeting))
    calendar.add_component(_event(meeting, attendees, method=method, stamp=stamp))
    return calendar.to_ical().decode()


# --- reading answers ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    email: str
    partstat: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One VEVENT of a METHOD:REPLY: which meeting (UID, at which SEQUENCE), when it was
    answered (DTSTAMP) and each answering attendee's PARTSTAT."""

    item: int  # the VEVENT's place in the file, 1-based (the report's "row")
    uid: str
    sequence: int
    stamp: datetime | None
    answers: tuple[Answer, ...]


def calendar_parse(text: str, *, name: str) -> Calendar:
    """The file's VCALENDAR; an InputError for anything icalendar cannot read as one."""
    try:
        calendar = Calendar.from_ical(text)
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise input_error(name, f"not an iCalendar file icalendar can read: {error}") from None
    if calendar.name != "VCALENDAR":
        raise input_error(
            name, f"not a calendar: it begins with BEGIN:{calendar.name}, not BEGIN:VCALENDAR"
        )
    return calendar


def _known_zone(tzid: str) -> bool:
    """A zone every reader can place without the file's help: an IANA name, or a Windows
    name (Outlook writes "Eastern Standard Time")."""
    cleaned = tzid.strip().strip('"')
    return is_time_zone(cleaned) or cleaned in WINDOWS_TO_OLSON


def unknown_tzids(calendar: Calendar) -> list[str]:
    """TZIDs the file uses without defining them in a VTIMEZONE, that are no known zone either:
    the times using them mean nothing certain. (icalendar itself would fall back on zones it
    happened to see in earlier files, so this does not ask it.)"""
    defined = {str(component.get("TZID", "")) for component in calendar.walk("VTIMEZONE")}
    return sorted(
        tzid for tzid in calendar.get_used_tzids() if tzid not in defined and not _known_zone(tzid)
    )


def _email(address) -> str:
    value = str(address).strip()
    return value[7:] if value.lower().startswith("mailto:") else value


def _listed(event, name: str) -> list:
    value = event.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _reply(event, *, item: int, name: str, problems: list[Problem]) -> Reply | None:
    uid = str(event.get("UID", "")).strip()
    if not uid:
        problems.append(
            Problem(
                name, item, "UID", "the answer has no UID, so which meeting it answers is unknown"
            )
        )
        return None
    try:
        sequence = int(event.get("SEQUENCE", 0))
        stamp = event["DTSTAMP"].dt if "DTSTAMP" in event else None
        for moment in ("DTSTART", "DTEND"):
            if moment in event:
                event[moment].dt  # noqa: B018 -- reading it is the check that its zone works
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        problems.append(Problem(name, item, "DTSTAMP", f"unreadable date or number: {error}"))
        return None
    answers = []
    for address in _listed(event, "ATTENDEE"):
        partstat = str(address.params.get("PARTSTAT", PartStat.NEEDS_ACTION)).upper()
        if partstat not in ANSWERS:
            problems.append(
                Problem(name, item, "PARTSTAT", f"'{partstat}' is not an answer to an invitation")
            )
            return None
        answers.append(Answer(email=_email(address), partstat=partstat))
    if not answers:
        problems.append(Problem(name, item, "ATTENDEE", "the answer names no attendee"))
        return None
    if isinstance(stamp, datetime) and stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)  # DTSTAMP is UTC by definition (RFC 5545 §3.8.7.2)
    return Reply(
        item=item,
        uid=uid,
        sequence=sequence,
        stamp=stamp if isinstance(stamp, datetime) else None,
        answers=tuple(answers),
    )


def replies_read(calendar: Calendar, *, name: str, problems: list[Problem]) -> list[Reply]:
    """The answers in a METHOD:REPLY calendar; each problem found is added to `problems` (an
    invitation, a file without events, unknown time zones and unusable events included)."""
    for tzid in unknown_tzids(calendar):
        problems.append(
            Problem(
                name,
                None,
                "TZID",
                f"time zone '{tzid}' is neither defined in the file (VTIMEZONE) nor a known zone",
            )
        )
    method = str(calendar.get("METHOD", "")).strip().upper()
    if method != REPLY:
        what = f"METHOD:{method}" if method else "no METHOD"
        problems.append(
            Problem(
                name,
                None,
                "METHOD",
                f"not an answer to an invitation ({what}, not METHOD:REPLY): import the .ics "
                "an attendee's calendar sent back",
                value=method,
            )
        )
        return []
    events = calendar.walk("VEVENT")
    if not events:
        problems.append(Problem(name, None, "VEVENT", "the file holds no event (VEVENT)"))
    replies = [
        _reply(event, item=item, name=name, problems=problems)
        for item, event in enumerate(events, start=1)
    ]
    return [reply for reply in replies if reply is not None]
