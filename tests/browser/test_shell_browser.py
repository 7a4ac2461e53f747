"""The shell in a real headless Chromium: sign in, see the worklist, clear its item."""

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.referrals import factories as referral_factories

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_cast(transactional_db, cast):
    return cast


def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD):
    page.goto(f"{base_url}/")
    expect(page.get_by_role("heading", name="Sign in to Referloop")).to_be_visible()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def assert_fits_a_phone(page: Page, what: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{what} scrolls sideways at {page.viewport_size['width']} px"


def test_sign_in_and_clear_the_setup_item(page: Page, live_server, browser_cast):
    sign_in(page, live_server.url, browser_cast.admin_a.email)

    expect(page.get_by_role("heading", name="Worklist", level=1)).to_be_visible()
    overdue = page.locator("section.worklist-overdue")
    expect(overdue.get_by_text("Finish setting up your agency")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").locator(".badge-overdue")).to_have_text(
        "1 overdue"
    )

    # Keyboard: j selects the first item and focuses its one action; Enter follows it.
    page.keyboard.press("j")
    expect(page.get_by_role("link", name="Review policies")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Alpha Recovery: policies")).to_be_visible()

    page.get_by_label("Receipt confirmed within").fill("3")
    page.get_by_role("button", name="Save policies").click()
    expect(page.get_by_text("Policies saved.")).to_be_visible()

    page.get_by_role("link", name="Worklist").click()
    expect(page.get_by_role("heading", name="All clear")).to_be_visible()
    expect(page.locator(".badge-overdue")).to_have_count(0)
    browser_cast.agency_a.refresh_from_db()
    assert browser_cast.agency_a.policies.receipt_confirm_business_days == 3


def test_wrong_password_says_so_and_bad_policy_input_is_explained(
    page: Page, live_server, browser_cast
):
    sign_in(page, live_server.url, browser_cast.admin_a.email, password="not the password at all")
    expect(page.get_by_role("alert")).to_contain_text(
        "The e-mail address or password is not correct."
    )

    sign_in(page, live_server.url, browser_cast.admin_a.email)
    page.goto(f"{live_server.url}/settings/agency/")
    page.get_by_label("Outcome known within").fill("0")
    page.get_by_role("button", name="Save policies").click()
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Outcome known within")
    browser_cast.agency_a.refresh_from_db()
    assert browser_cast.agency_a.policy_reviewed_at is None


def test_usable_on_a_phone(page: Page, live_server, browser_cast):
    page.set_viewport_size({"width": 375, "height": 740})
    referral = referral_factories.sample_referral(
        agency=browser_cast.agency_a, actor=browser_cast.coordinator
    )
    sign_in(page, live_server.url, browser_cast.admin_a.email)  # every settings tab and action
    expect(page.get_by_role("heading", name="Worklist", level=1)).to_be_visible()
    for path in (
        "/worklist/",
        "/referrals/",
        "/referrals/codes/",
        f"/referrals/{referral.pk}/",
        "/clients/",
        f"/clients/{referral.client_id}/",
        "/services/",
        "/settings/agency/",
        "/settings/members/",
        "/settings/outbox/",
        "/settings/audit/",
    ):
        page.goto(f"{live_server.url}{path}")
        assert_fits_a_phone(page, path)
    # Landmarks and a skip link are there for keyboard and screen-reader users.
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()

    page.locator("details.dropdown > summary").click()  # the account menu
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def test_question_mark_lists_the_keyboard_shortcuts(page: Page, live_server, browser_cast):
    sign_in(page, live_server.url, browser_cast.coordinator.email)
    expect(page.get_by_role("heading", name="Worklist", level=1)).to_be_visible()
    page.keyboard.press("?")
    shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(shortcuts).to_be_visible()
    expect(shortcuts).to_contain_text("Edit (a client, a listing, a partner)")
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()
    page.get_by_role("button", name="Keyboard shortcuts (?)").click()  # for those without "?"
    expect(shortcuts).to_be_visible()
    shortcuts.get_by_role("button", name="Close").click()
    expect(shortcuts).to_be_hidden()


def test_e_opens_the_edit_form_of_the_page(page: Page, live_server, browser_cast):
    person = referral_factories.client(agency=browser_cast.agency_a)
    sign_in(page, live_server.url, browser_cast.coordinator.email)
    expect(page.get_by_role("heading", name="Worklist", level=1)).to_be_visible()
    page.goto(f"{live_server.url}/clients/{person.pk}/")
    page.keyboard.press("e")
    expect(page.get_by_role("heading", name="Edit Dana Rivers")).to_be_visible()
