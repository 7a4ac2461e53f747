"""The partner CRM in a real headless Chromium: a call logged from the worklist in place, in a
few keystrokes, moving the partner's next due date; a meeting scheduled from the partner page
whose invitation reaches a real SMTP server and parses as iCalendar."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar
from playwright.sync_api import Page, expect

from referloop.core.outbox import outbox_deliver
from referloop.partners.models import Interaction, Meeting, Relationship
from tests.browser.test_shell_browser import sign_in
from tests.partners import factories
from tests.smtp import smtp_server  # noqa: F401

pytestmark = pytest.mark.browser
PARTNER_EMAIL = "jordan.ellis@probation.example.gov"


@pytest.fixture
def overdue_partner(transactional_db, cast):
    cast.agency_a.policy_reviewed_at = cast.agency_a.created_at  # no set-up item in the way
    cast.agency_a.save(update_fields=["policy_reviewed_at"])
    relationship = factories.relationship(agency=cast.agency_a, actor=cast.coordinator)
    factories.person(relationship=relationship, actor=cast.coordinator, email=PARTNER_EMAIL)
    # Last heard from 16 days ago: the 14-day touch is two days late.
    last = timezone.now() - timedelta(days=16)
    Relationship.objects.filter(pk=relationship.pk).update(
        last_contact_at=last, next_due_at=last + timedelta(days=14), due_reason="touch"
    )
    return relationship


def test_log_a_call_from_the_worklist_in_a_few_keystrokes(
    page: Page, live_server, cast, overdue_partner
):
    sign_in(page, live_server.url, cast.coordinator.email)
    page.goto(f"{live_server.url}/worklist/")
    row = page.locator(".worklist-item", has_text="County Probation")
    expect(row).to_contain_text("call County Probation — 16 days since last contact")
    row.get_by_role("link", name="Log call").click()
    summary = row.get_by_label("Summary")
    expect(summary).to_be_focused()  # the form opened in place, ready to type
    # The keystrokes after opening: the type (a call), the date (today) and the person (the
    # only one) are already right; two letters of summary and Enter save it.
    page.keyboard.type("ok")
    page.keyboard.press("Enter")
    done = row.get_by_role("status")
    expect(done).to_contain_text("Logged.")
    relationship = Relationship.objects.get(pk=overdue_partner.pk)
    expected = relationship.next_due_at
    assert expected > timezone.now() + timedelta(days=13)
    expect(done.locator("time.next-due")).to_have_attribute(
        "datetime", re.compile(f"^{expected:%Y-%m-%d}")
    )
    interaction = Interaction.objects.get()
    assert (interaction.kind, interaction.summary) == ("call", "ok")
    assert list(interaction.people.values_list("email", flat=True)) == [PARTNER_EMAIL]
    # Still on the worklist page: nothing left it.
    assert page.url.endswith("/worklist/")
    page.goto(f"{live_server.url}/partners/{relationship.pk}/")
    expect(page.locator("#next-due")).to_contain_text(f"{expected:%b} {expected.day}")


def test_schedule_a_meeting_and_receive_the_invitation(
    page: Page,
    live_server,
    cast,
    overdue_partner,
    settings,
    smtp_server,  # noqa: F811
):
    settings.SMTP_HOST = smtp_server.host
    settings.MAILERS = smtp_server.mailers()
    sign_in(page, live_server.url, cast.coordinator.email)
    page.goto(f"{live_server.url}/partners/{overdue_partner.pk}/")
    page.get_by_role("link", name="Schedule a meeting").click()
    page.get_by_label("Title", exact=True).fill("Quarterly check-in")
    day = timezone.localdate() + timedelta(days=7)
    page.get_by_label("Day", exact=True).fill(day.isoformat())
    page.get_by_label("From", exact=True).fill("10:00")
    page.get_by_label("To", exact=True).fill("11:00")
    page.get_by_label(re.compile("Jordan Ellis")).check()
    page.get_by_role("button", name="Send the invitations").click()
    expect(page.get_by_text("are on their way")).to_be_visible()
    meeting = Meeting.objects.get()
    assert outbox_deliver() >= 2
    (message,) = smtp_server.messages_to(PARTNER_EMAIL)
    parts = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(parts[0].get_content())
    assert str(calendar["METHOD"]) == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == meeting.uid
    attendees = {str(a).lower() for a in event.get("ATTENDEE")}
    assert f"mailto:{PARTNER_EMAIL}" in attendees
    assert f"mailto:{cast.coordinator.email}" in attendees
