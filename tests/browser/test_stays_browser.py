"""Stays in a real headless Chromium: record the move-in of a referral a partner made to us,
jump the clock a week, find the update the referring caseworker is owed on the worklist, send it
(it reaches a real SMTP server), and see it logged with the partner."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Page, expect

from referloop.clients.models import Category
from referloop.core.outbox import outbox_deliver
from referloop.core.timeutils import agency_today
from referloop.partners.models import Interaction
from referloop.stays import services
from referloop.stays.models import UpdateOwed, UpdateState
from tests.browser.test_shell_browser import sign_in
from tests.partners import factories as partner_factories
from tests.referrals import factories as referral_factories
from tests.smtp import smtp_server  # noqa: F401

pytestmark = pytest.mark.browser
SOURCE_EMAIL = "jordan.ellis@probation.example.gov"


@pytest.fixture
def inbound(transactional_db, cast):
    cast.agency_a.policy_reviewed_at = cast.agency_a.created_at  # no set-up item in the way
    cast.agency_a.save(update_fields=["policy_reviewed_at"])
    relationship = partner_factories.relationship(agency=cast.agency_a, actor=cast.coordinator)
    person = partner_factories.person(
        relationship=relationship, actor=cast.coordinator, email=SOURCE_EMAIL
    )
    client = referral_factories.client(agency=cast.agency_a, actor=cast.coordinator)
    referral_factories.consent(
        client=client,
        organization=relationship.organization,
        categories=[Category.IDENTITY, Category.HOUSING],
    )
    return services.inbound_create(
        agency=cast.agency_a,
        actor=cast.coordinator,
        data=services.InboundData(
            client=client, source_organization=relationship.organization, source_contact=person
        ),
    )


def test_move_in_then_a_week_later_send_the_owed_update(
    page: Page,
    live_server,
    cast,
    inbound,
    settings,
    smtp_server,  # noqa: F811
):
    settings.SMTP_HOST = smtp_server.host
    settings.MAILERS = smtp_server.mailers()
    sign_in(page, live_server.url, cast.coordinator.email)
    page.goto(f"{live_server.url}/stays/inbound/{inbound.pk}/")
    page.get_by_label("Move-in date").fill(agency_today(cast.agency_a).isoformat())
    page.get_by_label("House or program").fill("Elm House")
    page.get_by_role("button", name="Record the move-in").click()
    expect(page.get_by_text("the source's updates are scheduled")).to_be_visible()
    expect(page.get_by_role("cell", name="Check-in after move-in (+7 days)")).to_be_visible()

    with time_machine.travel(timezone.now() + timedelta(days=7, hours=1)):
        sign_in(page, live_server.url, cast.coordinator.email)  # a week on: a new session
        expect(page.get_by_role("heading", name="Worklist", level=1)).to_be_visible()
        item = page.get_by_text("Tell the referral source: 7 days since move-in")
        expect(item).to_be_visible()
        page.get_by_role("link", name="Send the update").first.click()
        expect(page.get_by_text("Covered by consent")).to_be_visible()
        expect(page.get_by_label("To")).to_have_value(SOURCE_EMAIL)
        page.get_by_label("Message").fill("Dana is settling in well at Elm House.")
        page.get_by_role("button", name="Send the update").click()
        expect(page.get_by_text("Update sent, and logged with the partner.")).to_be_visible()
        expect(page.get_by_text("Update sent: check-in after move-in")).to_be_visible()

        assert outbox_deliver() >= 1
        (message,) = smtp_server.messages_to(SOURCE_EMAIL)
        assert "Dana is settling in well" in message.get_body(("plain",)).get_content()
        assert str(message["Reply-To"]) == cast.coordinator.email
        update = UpdateOwed.objects.get(inbound=inbound, days=7)
        assert update.state == UpdateState.SENT
        interaction = Interaction.objects.get(kind="status_update")
        page.goto(f"{live_server.url}/partners/{interaction.relationship_id}/")
        expect(page.locator(".timeline")).to_contain_text("Status update with Jordan Ellis")
        page.goto(f"{live_server.url}/worklist/")
        expect(page.get_by_text("Tell the referral source: 7 days since move-in")).to_have_count(0)
