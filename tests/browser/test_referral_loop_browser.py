"""The whole closed loop in a real headless Chromium: record a client and their consent, find a
service in the directory, send the referral, answer as the partner through the e-mailed link in
a fresh browser (no login), and see the owner's referral timeline and worklist follow."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from referloop.core.models import OutboundEmail
from referloop.referrals.models import Referral, Status
from tests.browser.test_shell_browser import sign_in
from tests.directory import factories

pytestmark = pytest.mark.browser


@pytest.fixture
def partner_listing(transactional_db, cast):
    cast.agency_a.policy_reviewed_at = cast.agency_a.created_at  # no set-up item in the way
    cast.agency_a.save(update_fields=["policy_reviewed_at"])
    riverbend = factories.organization(network=cast.network, name="Riverbend Recovery")
    factories.service(organization=riverbend, name="Riverbend Sober Living", needs=["sober-living"])
    return cast


def test_the_whole_loop(page: Page, browser: Browser, live_server, partner_listing):
    cast = partner_listing
    sign_in(page, live_server.url, cast.coordinator.email)

    # A new client, with safe-contact rules.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Clients").click()
    page.get_by_role("link", name="New client").click()
    page.get_by_label("First name").fill("Dana")
    page.get_by_label("Last name").fill("Rivers")
    page.get_by_label("Date of birth").fill("1990-04-12")
    page.get_by_label("May text").check()
    page.get_by_role("button", name="Record client").click()
    expect(page.get_by_role("heading", name="Dana Rivers", level=1)).to_be_visible()
    expect(page.get_by_role("note", name="Safe-contact rules")).to_contain_text(
        "Do not leave voicemail"
    )

    # Their consent to share with Riverbend.
    page.get_by_role("link", name="Record a consent").click()
    page.get_by_label("Recipient organization").fill("Riverbend Recovery")
    for category in (
        "Identity (name, date of birth)",
        "Contact details and safe-contact rules",
        "Reason for referral",
    ):
        page.get_by_label(category).check()
    page.get_by_label("Or: no expiry").check()
    page.get_by_role("button", name="Record consent").click()
    expect(page.get_by_text("Consent recorded.")).to_be_visible()

    # Find the service, refer there, send.
    page.get_by_role("link", name="New referral").click()
    page.get_by_label("Search words").fill("sober living")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Refer here").first.click()
    expect(page.get_by_role("heading", name="Refer Dana Rivers")).to_be_visible()
    page.get_by_label("Contact's e-mail").fill("intake@riverbend.example.org")
    page.get_by_role("textbox", name="Reason for referral").fill(
        "Needs a sober-living bed after detox."
    )
    page.get_by_role("button", name="Send referral").click()
    expect(page.get_by_text(re.compile(r"sent by e-mail to intake@riverbend"))).to_be_visible()
    referral = Referral.objects.get()
    assert referral.status == Status.REQUESTED

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Worklist").click()
    worklist_item = page.locator(".worklist-item").filter(has_text=referral.tracking_id)
    expect(worklist_item).to_have_count(1)

    # The partner opens the e-mailed link in a browser of their own, without logging in.
    message = OutboundEmail.objects.get(kind="referral_partner")
    assert "Dana" not in message.subject and referral.tracking_id in message.subject
    link = re.search(r"https?://\S+/r/\S+", message.body_text).group(0)
    link = live_server.url + link[link.index("/r/") :]
    partner = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
    partner.goto(link)
    expect(partner.get_by_role("heading", name=referral.tracking_id)).to_be_visible()
    partner.get_by_role("radio", name="Accepted", exact=True).check()
    partner.get_by_role("button", name="Send answer").click()
    expect(partner.get_by_text(re.compile("Thank you", re.I))).to_be_visible()
    partner.get_by_role("link", name="Change your answer").click()  # the link works again
    partner.get_by_role("radio", name="Service started").check()
    partner.get_by_role("button", name="Send answer").click()
    expect(partner.get_by_text(re.compile("Thank you", re.I))).to_be_visible()
    partner.context.close()

    # The owner sees it at once: timeline, status, and nothing left on the worklist for it.
    page.goto(f"{live_server.url}/referrals/{referral.pk}/")
    expect(page.locator(".lede .status")).to_have_text("In progress")
    timeline = page.get_by_role("region", name="Timeline")
    expect(timeline.get_by_text("Partner replied").first).to_be_visible()
    expect(timeline.get_by_text("accepted → in-progress")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Worklist").click()
    expect(page.get_by_role("heading", name="Worklist", level=1)).to_be_visible()
    expect(worklist_item).to_have_count(0)
