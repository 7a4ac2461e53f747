"""Meetings as calendar invitations: what we send parses back with icalendar (METHOD, UID,
SEQUENCE, ORGANIZER, ATTENDEEs, the time zone), changes keep the UID and bump SEQUENCE, the
invitation reaches a real SMTP server, and answers (METHOD:REPLY) come back in through the
import framework -- all or nothing, real-world calendars included."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from icalendar import Calendar

from referloop.core.errors import DomainError
from referloop.core.models import OutboundEmail
from referloop.core.outbox import outbox_deliver
from referloop.partners import calendar as ical
from referloop.partners.ics_import.importer import ics_import
from referloop.partners.meetings import (
    meeting_cancel,
    meeting_invitation,
    meeting_schedule,
    meeting_update,
)
from referloop.partners.models import MeetingAttendee, MeetingStatus, PartStat, Relationship
from referloop.partners.services import partner_contact_create
from tests.conftest import client_for
from tests.directory import factories
from tests.smtp import smtp_server  # noqa: F401

pytestmark = pytest.mark.django_db

# <repo root>/../shared: CI clones the repository with the shared data next to it.
SHARED_ICAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ical"
NOW = datetime(2026, 4, 20, 15, 0, tzinfo=UTC)
STARTS = datetime(2026, 5, 4, 14, 30, tzinfo=UTC)  # 09:30 in Chicago (daylight time)
PARTNER = "dana@riverbend.example.org"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def partner(cast):
    org = factories.organization(network=cast.network, name="Riverbend Recovery")
    contact = partner_contact_create(
        agency=cast.agency_a,
        actor=cast.coordinator,
        name="Dana Rivers",
        organization=org,
        email=PARTNER,
    )
    return contact


def schedule(cast, partner, *, starts=STARTS, **fields):
    relationship = Relationship.objects.get(agency=cast.agency_a, organization=partner.organization)
    return meeting_schedule(
        agency=cast.agency_a,
        actor=cast.coordinator,
        title=fields.pop("title", "Intake coordination"),
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        contacts=[partner.pk],
        colleagues=[cast.auditor.pk],
        relationship=relationship,
        location="Riverbend, 12 Main St",
        description="How referrals reach your intake desk.",
        **fields,
    )


def invitation_of(message: OutboundEmail) -> Calendar:
    return Calendar.from_ical(message.calendar)


def attendees(event) -> dict[str, dict]:
    values = event["ATTENDEE"] if isinstance(event["ATTENDEE"], list) else [event["ATTENDEE"]]
    return {str(a).removeprefix("mailto:"): dict(a.params) for a in values}


def test_scheduling_sends_each_attendee_a_request_that_parses(cast, partner, frozen):
    meeting = schedule(cast, partner)

    messages = OutboundEmail.objects.filter(kind="meeting_invite").order_by("to")
    assert [m.to for m in messages] == sorted([cast.coordinator.email, cast.auditor.email, PARTNER])
    parsed = invitation_of(messages[0])
    assert str(parsed["METHOD"]) == "REQUEST"
    assert str(parsed["VERSION"]) == "2.0"
    assert str(parsed["PRODID"]) == ical.PRODID
    # The VTIMEZONE comes before the event that uses it.
    assert [c.name for c in parsed.subcomponents] == ["VTIMEZONE", "VEVENT"]
    assert str(parsed.walk("VTIMEZONE")[0]["TZID"]) == "America/Chicago"
    event = parsed.walk("VEVENT")[0]
    assert str(event["UID"]) == meeting.uid
    assert event["SEQUENCE"] == 0
    assert event["DTSTART"].params["TZID"] == "America/Chicago"
    assert event["DTSTART"].dt == STARTS and event["DTSTART"].dt.hour == 9
    assert event["DTEND"].dt == STARTS + timedelta(hours=1)
    assert event["DTSTAMP"].dt == NOW
    assert str(event["SUMMARY"]) == "Intake coordination"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["ORGANIZER"]) == f"mailto:{cast.coordinator.email}"
    assert event["ORGANIZER"].params["CN"] == cast.coordinator.full_name
    people = attendees(event)
    assert set(people) == {cast.coordinator.email, cast.auditor.email, PARTNER}
    assert people[PARTNER] == {
        "CN": "Dana Rivers",
        "CUTYPE": "INDIVIDUAL",
        "ROLE": "REQ-PARTICIPANT",
        "PARTSTAT": "NEEDS-ACTION",
        "RSVP": "TRUE",
    }
    assert people[cast.coordinator.email]["ROLE"] == "CHAIR"
    assert people[cast.coordinator.email]["PARTSTAT"] == "ACCEPTED"
    # The relationship's next step is the meeting, on its local day.
    relationship = meeting.relationship
    relationship.refresh_from_db()
    assert (relationship.next_step, str(relationship.next_step_on)) == (
        "Meeting: Intake coordination",
        "2026-05-04",
    )


def test_update_keeps_the_uid_bumps_the_sequence_and_asks_again(cast, partner, frozen):
    meeting = schedule(cast, partner)
    MeetingAttendee.objects.filter(email=PARTNER).update(partstat=PartStat.ACCEPTED)

    later = STARTS + timedelta(days=1)
    meeting = meeting_update(
        meeting=meeting, actor=cast.coordinator, starts_at=later, ends_at=later + timedelta(hours=2)
    )

    assert meeting.sequence == 1
    sent = OutboundEmail.objects.filter(kind="meeting_invite", to=PARTNER).order_by("pk")
    assert sent.count() == 2
    event = invitation_of(sent.last()).walk("VEVENT")[0]
    assert (str(event["UID"]), event["SEQUENCE"]) == (meeting.uid, 1)
    assert event["DTSTART"].dt == later
    assert attendees(event)[PARTNER]["PARTSTAT"] == "NEEDS-ACTION"
    meeting.relationship.refresh_from_db()
    assert str(meeting.relationship.next_step_on) == "2026-05-05"
    # Nothing changed: nothing sent, same sequence.
    assert (
        meeting_update(meeting=meeting, actor=cast.coordinator, title=meeting.title).sequence == 1
    )
    assert OutboundEmail.objects.filter(to=PARTNER).count() == 2


def test_taking_someone_off_the_list_sends_them_a_cancel(cast, partner, frozen):
    meeting = schedule(cast, partner)
    meeting = meeting_update(meeting=meeting, actor=cast.coordinator, colleagues=[])

    cancel = OutboundEmail.objects.get(kind="meeting_cancel", to=cast.auditor.email)
    parsed = invitation_of(cancel)
    assert str(parsed["METHOD"]) == "CANCEL"
    assert set(attendees(parsed.walk("VEVENT")[0])) == {cast.auditor.email}
    assert not meeting.attendees.filter(email=cast.auditor.email).exists()
    latest = OutboundEmail.objects.filter(kind="meeting_invite", to=PARTNER).order_by("pk").last()
    assert set(attendees(invitation_of(latest).walk("VEVENT")[0])) == {
        cast.coordinator.email,
        PARTNER,
    }


def test_cancel_sends_method_cancel_with_the_next_sequence(cast, partner, frozen):
    meeting = schedule(cast, partner)
    meeting = meeting_cancel(meeting=meeting, actor=cast.coordinator)

    assert meeting.status == MeetingStatus.CANCELLED
    messages = OutboundEmail.objects.filter(kind="meeting_cancel")
    assert messages.count() == 3
    parsed = invitation_of(messages.get(to=PARTNER))
    assert messages.get(to=PARTNER).calendar_method == "CANCEL"
    event = parsed.walk("VEVENT")[0]
    assert str(parsed["METHOD"]) == "CANCEL"
    assert (str(event["UID"]), event["SEQUENCE"], str(event["STATUS"])) == (
        meeting.uid,
        1,
        "CANCELLED",
    )
    meeting.relationship.refresh_from_db()
    assert (meeting.relationship.next_step, meeting.relationship.next_step_on) == ("", None)
    with pytest.raises(DomainError, match="cancelled"):
        meeting_update(meeting=meeting, actor=cast.coordinator, title="Again")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": " "}, "title"),
        ({"kind": "call"}, "kind"),
        ({"starts": NOW - timedelta(days=1)}, "starts_at"),
    ],
)
def test_bad_meetings_are_refused_and_nothing_is_sent(cast, partner, frozen, fields, field):
    with pytest.raises(DomainError) as refused:
        schedule(cast, partner, **fields)
    assert refused.value.field == field
    assert not OutboundEmail.objects.exists()


def test_a_partner_without_an_email_cannot_be_invited(cast, partner, frozen):
    partner.email = ""
    partner.save(update_fields=["email"])
    with pytest.raises(DomainError, match="Dana Rivers"):
        schedule(cast, partner)


# --- the e-mail on a real SMTP server -------------------------------------------------------


def test_the_invitation_reaches_a_real_smtp_server_and_parses(cast, partner, settings, smtp_server):  # noqa: F811
    settings.SMTP_HOST = smtp_server.host
    settings.MAILERS = smtp_server.mailers()
    meeting = schedule(
        cast, partner, starts=datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    )

    assert outbox_deliver() == 3
    (message,) = smtp_server.messages_to(PARTNER)
    assert message["Subject"] == "Invitation: Intake coordination"
    assert message["Reply-To"] == cast.coordinator.email
    parts = {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}
    assert set(parts) == {"text/plain", "text/calendar", "application/ics"}
    invite = parts["text/calendar"]
    assert invite.get_param("method") == "REQUEST"
    assert invite.get_content_charset() == "utf-8"
    assert parts["application/ics"].get_filename() == "invite.ics"
    for part in (invite, parts["application/ics"]):
        content = part.get_content()
        parsed = Calendar.from_ical(content if isinstance(content, str) else content.decode())
        event = parsed.walk("VEVENT")[0]
        assert str(event["UID"]) == meeting.uid
        assert set(attendees(event)) == {cast.coordinator.email, cast.auditor.email, PARTNER}


# --- answers: METHOD:REPLY ------------------------------------------------------------------


def reply_to(meeting, *, email=PARTNER, partstat="ACCEPTED", sequence=None) -> bytes:
    """What the attendee's calendar sends back: our invitation, METHOD:REPLY, the answering
    attendee alone with their PARTSTAT."""
    parsed = Calendar.from_ical(meeting_invitation(meeting))
    parsed["METHOD"] = "REPLY"
    event = parsed.walk("VEVENT")[0]
    mine = [a for a in event["ATTENDEE"] if str(a).lower() == f"mailto:{email}".lower()]
    if not mine:
        from icalendar import vCalAddress

        mine = [vCalAddress(f"mailto:{email}")]
    mine[0].params["PARTSTAT"] = partstat
    event["ATTENDEE"] = mine[0]
    if sequence is not None:
        event["SEQUENCE"] = sequence
    return parsed.to_ical()


def test_a_reply_records_the_attendees_answer(cast, partner, frozen, tmp_path):
    meeting = schedule(cast, partner)
    path = tmp_path / "reply.ics"
    path.write_bytes(reply_to(meeting))

    report = ics_import(agency=cast.agency_a, path=path)

    assert report.ok and report.written, report.problem_lines()
    assert report.count("meeting answers").updated == 1
    answer = MeetingAttendee.objects.get(meeting=meeting, email=PARTNER)
    assert answer.partstat == PartStat.ACCEPTED
    assert answer.responded_at == NOW
    # The same file again changes nothing.
    again = ics_import(agency=cast.agency_a, path=path)
    assert again.count("meeting answers").unchanged == 1


def test_import_ics_command(cast, partner, frozen, tmp_path, capsys):
    meeting = schedule(cast, partner)
    path = tmp_path / "reply.ics"
    path.write_bytes(reply_to(meeting, partstat="DECLINED"))
    call_command("import", "ics", str(path), "--agency", "alpha", "--dry-run")
    assert MeetingAttendee.objects.get(email=PARTNER).partstat == PartStat.NEEDS_ACTION
    call_command(
        "import", "ics", str(path), "--agency", "alpha", "--report", str(tmp_path / "r.json")
    )
    assert MeetingAttendee.objects.get(email=PARTNER).partstat == PartStat.DECLINED
    assert '"updated": 1' in (tmp_path / "r.json").read_text()


def _unchanged(meeting):
    return list(meeting.attendees.values_list("email", "partstat").order_by("email"))


@pytest.mark.parametrize(
    ("spoil", "field", "reason"),
    [
        (lambda raw: raw.replace(b"UID:", b"X-OLD-UID:"), "UID", "has no UID"),
        (
            lambda raw: raw.replace(b"TZID=America/Chicago", b"TZID=Mars/Olympus"),
            "TZID",
            "time zone 'Mars/Olympus' is neither defined",
        ),
        (lambda raw: raw.replace(b"@referloop", b"@elsewhere"), "UID", "no meeting of your agency"),
        (
            lambda raw: raw.replace(PARTNER.encode(), b"stranger@example.org"),
            "ATTENDEE",
            "'stranger@example.org' is not invited",
        ),
        (lambda raw: raw.replace(b"METHOD:REPLY", b"METHOD:REQUEST"), "METHOD", "not an answer"),
    ],
    ids=["missing UID", "odd time zone", "unknown UID", "unknown attendee", "not a reply"],
)
def test_bad_replies_are_clear_errors_and_change_nothing(
    cast, partner, frozen, spoil, field, reason
):
    meeting = schedule(cast, partner)
    before = _unchanged(meeting)
    # A good answer from a colleague in the same file is not recorded either: all or nothing.
    good = Calendar.from_ical(reply_to(meeting, email=cast.auditor.email)).walk("VEVENT")[0]
    spoiled = Calendar.from_ical(spoil(reply_to(meeting)))
    spoiled.add_component(good)

    report = ics_import(agency=cast.agency_a, raw=spoiled.to_ical(), name="reply.ics")

    assert not report.ok and not report.written
    assert any(p.field == field and reason in p.reason for p in report.errors), (
        report.problem_lines()
    )
    assert "Nothing was written." in report.summary_lines()
    assert _unchanged(meeting) == before


def test_another_agency_cannot_answer_for_our_meeting(cast, partner, frozen):
    meeting = schedule(cast, partner)
    report = ics_import(agency=cast.agency_b, raw=reply_to(meeting), name="reply.ics")
    assert [p.field for p in report.errors] == ["UID"]


def test_an_answer_to_an_older_sequence_is_left_out_with_a_warning(cast, partner, frozen):
    meeting = schedule(cast, partner)
    stale = reply_to(meeting, partstat="DECLINED")
    meeting = meeting_update(meeting=meeting, actor=cast.coordinator, title="Intake, second try")

    report = ics_import(agency=cast.agency_a, raw=stale, name="reply.ics")

    assert report.ok and not report.errors
    assert [p.field for p in report.warnings] == ["SEQUENCE"]
    assert MeetingAttendee.objects.get(email=PARTNER).partstat == PartStat.NEEDS_ACTION


def test_an_unparseable_file_is_one_clear_error(cast):
    report = ics_import(agency=cast.agency_a, raw=b"this is not a calendar", name="x.ics")
    assert len(report.errors) == 1 and "iCalendar" in report.errors[0].reason


def shared_calendars() -> list[Path]:
    return sorted(SHARED_ICAL.rglob("*.ics"))


def test_the_shared_calendars_are_there():
    assert len(shared_calendars()) >= 5, f"no .ics files under {SHARED_ICAL}"


@pytest.mark.parametrize("path", shared_calendars(), ids=lambda path: path.name)
def test_real_world_calendars_are_read_and_refused_clearly(cast, path):
    """Outlook/Exchange invitations with Windows zone names, non-ASCII TZIDs, a lone VEVENT:
    none is an answer to one of our meetings, and each says why, without a crash."""
    report = ics_import(agency=cast.agency_a, path=path)
    assert not report.ok and not report.written
    assert report.errors[0].reason
    assert {p.field for p in report.errors} <= {"", "METHOD", "UID", "TZID"}


def test_our_reader_takes_the_real_world_time_zones(cast):
    """The Exchange files define their own zones (VTIMEZONE) or use Windows names: known."""
    for path in shared_calendars():
        text = path.read_text(encoding="utf-8")
        if "BEGIN:VCALENDAR" in text:
            assert ical.unknown_tzids(ical.calendar_parse(text, name=path.name)) == [], path.name


# --- the download -------------------------------------------------------------------------


def test_the_ics_download_parses_and_another_agency_gets_404(cast, partner, frozen):
    meeting = schedule(cast, partner)
    response = client_for(cast.auditor).get(f"/partners/meetings/{meeting.pk}/invite.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert "attachment" in response["Content-Disposition"]
    assert ".ics" in response["Content-Disposition"]
    event = Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert str(event["UID"]) == meeting.uid
    other = client_for(cast.admin_b).get(f"/partners/meetings/{meeting.pk}/invite.ics")
    assert other.status_code == 404


def test_unknown_agency_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="no agency"):
        call_command("import", "ics", str(tmp_path / "x.ics"), "--agency", "nobody")


# --- the pages ----------------------------------------------------------------------------


def test_schedule_through_the_form_then_upload_the_answer(cast, partner, frozen):
    relationship = Relationship.objects.get(agency=cast.agency_a)
    browser = client_for(cast.coordinator)
    form = browser.get(f"/partners/meetings/new/?relationship={relationship.pk}")
    assert form.status_code == 200 and b"Dana Rivers" in form.content

    response = browser.post(
        f"/partners/meetings/new/?relationship={relationship.pk}",
        {
            "title": "Coffee with Dana",
            "day": "2026-05-04",
            "starts": "09:30",
            "ends": "10:15",
            "kind": "video",
            "location": "https://meet.example.org/dana",
            "contacts": [partner.pk],
            "colleagues": [cast.auditor.pk],
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    meeting = relationship.meetings.get()
    assert (meeting.starts_at, meeting.kind) == (STARTS, "video")
    assert OutboundEmail.objects.filter(kind="meeting_invite").count() == 3
    detail = browser.get(response["Location"])
    assert b"Dana Rivers" in detail.content and b"invite.ics" in detail.content
    assert browser.get("/partners/meetings/").content.count(b"Coffee with Dana") == 1

    upload = SimpleUploadedFile("reply.ics", reply_to(meeting, partstat="TENTATIVE"))
    browser.post(f"/partners/meetings/{meeting.pk}/reply/", {"file": upload})
    assert MeetingAttendee.objects.get(email=PARTNER).partstat == PartStat.TENTATIVE
    assert b"Tentative" in browser.get(response["Location"]).content


def test_a_form_time_that_ends_before_it_starts_is_shown_on_the_field(cast, partner, frozen):
    response = client_for(cast.coordinator).post(
        "/partners/meetings/new/",
        {
            "title": "Backwards",
            "day": "2026-05-04",
            "starts": "10:00",
            "ends": "09:00",
            "kind": "in_person",
            "contacts": [partner.pk],
        },
    )
    assert response.status_code == 400
    assert b"must end after it starts" in response.content
    assert not OutboundEmail.objects.exists()


def test_an_answer_for_another_meeting_is_refused_on_this_page(cast, partner, frozen):
    first, second = schedule(cast, partner), schedule(cast, partner, title="Second")
    upload = SimpleUploadedFile("reply.ics", reply_to(second))
    response = client_for(cast.coordinator).post(
        f"/partners/meetings/{first.pk}/reply/", {"file": upload}, follow=True
    )
    assert b"another meeting" in response.content
    assert MeetingAttendee.objects.get(meeting=second, email=PARTNER).partstat == "NEEDS-ACTION"


# --- the API ------------------------------------------------------------------------------


def api_client(cast):
    from referloop.core.services import api_token_create

    token = api_token_create(user=cast.coordinator, agency=cast.agency_a)[1]
    return client_for(None), {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_api_schedules_lists_and_cancels(cast, partner, frozen):
    client, auth = api_client(cast)
    created = client.post(
        "/api/v1/partners/meetings",
        {
            "title": "By API",
            "starts_at": "2026-05-04T09:30",  # the agency's time: Chicago
            "ends_at": "2026-05-04T10:30",
            "contacts": [partner.pk],
        },
        content_type="application/json",
        **auth,
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["starts_at"].startswith("2026-05-04T14:30")
    assert [a["email"] for a in body["attendees"]] == [cast.coordinator.email, PARTNER]
    listed = client.get("/api/v1/partners/meetings", **auth).json()
    assert listed["count"] == 1
    ics = client.get(f"/api/v1/partners/meetings/{body['id']}/invite.ics", **auth)
    assert str(Calendar.from_ical(ics.content).walk("VEVENT")[0]["UID"]) == body["uid"]
    moved = client.patch(
        f"/api/v1/partners/meetings/{body['id']}",
        {"starts_at": "2026-05-04T10:00", "ends_at": "2026-05-04T11:00", "location": "Room 2"},
        content_type="application/json",
        **auth,
    )
    assert moved.status_code == 200, moved.content
    assert (moved.json()["sequence"], moved.json()["location"]) == (1, "Room 2")
    assert moved.json()["starts_at"].startswith("2026-05-04T15:00")
    assert moved.json()["title"] == "By API"  # left out: kept
    assert [a["partstat"] for a in moved.json()["attendees"][1:]] == ["NEEDS-ACTION"]
    cancelled = client.post(f"/api/v1/partners/meetings/{body['id']}/cancel", **auth)
    assert (cancelled.status_code, cancelled.json()["sequence"]) == (200, 2)
    again = client.post(f"/api/v1/partners/meetings/{body['id']}/cancel", **auth)
    assert again.status_code == 409
    refused = client.post(
        "/api/v1/partners/meetings",
        {"title": "x", "starts_at": "2026-05-04T09:30", "ends_at": "2026-05-04T08:30"},
        content_type="application/json",
        **auth,
    )
    assert refused.status_code == 400 and refused.json()["field"] in ("ends_at", "contacts")
