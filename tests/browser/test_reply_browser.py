"""The partner's reply page in a real headless Chromium at phone width: a fresh browser (no
login, no cookies) opens the link from the e-mail, answers, and can change the answer."""

import pytest
from playwright.sync_api import Page, expect

from referloop.referrals.models import Referral, Status
from tests.browser.test_shell_browser import assert_fits_a_phone
from tests.referrals import factories
from tests.referrals.test_reply_page import reply_path

pytestmark = pytest.mark.browser


@pytest.fixture
def sent(transactional_db, cast):
    return factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator)


def test_partner_answers_on_a_phone(page: Page, live_server, sent):
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{live_server.url}{reply_path(sent)}")

    expect(page.get_by_role("heading", name=sent.tracking_id, level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="What happened with this referral?")).to_be_visible()
    expect(page.get_by_text("Dana Rivers", exact=True)).to_be_visible()
    assert_fits_a_phone(page, "the reply page")

    # "Why not?" follows "Not accepted" only once it is chosen.
    why = page.get_by_label("Why not?")
    expect(why).to_be_hidden()
    page.get_by_label("Not accepted").check()
    expect(why).to_be_visible()

    page.get_by_label("Accepted", exact=True).check()
    expect(why).to_be_hidden()
    page.get_by_label("Anything to add? (optional)").fill("Intake on Monday at 9.")
    page.get_by_role("button", name="Send answer").click()

    expect(page.get_by_role("heading", name="Thank you — your answer is recorded")).to_be_visible()
    expect(page.get_by_text("Your answer: Accepted")).to_be_visible()
    assert Referral.objects.get(pk=sent.pk).status == Status.ACCEPTED

    page.get_by_role("link", name="Change your answer").click()
    expect(page.get_by_label("Accepted", exact=True)).to_be_checked()
    page.get_by_label("Service started").check()
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_text("Your answer: Service started")).to_be_visible()
    assert Referral.objects.get(pk=sent.pk).status == Status.IN_PROGRESS
    assert problems == []  # e.g. no Content-Security-Policy violation


def test_not_accepted_without_a_reason_is_explained_next_to_the_field(
    page: Page, live_server, sent
):
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{live_server.url}{reply_path(sent)}")
    page.get_by_label("Not accepted").check()
    page.get_by_role("button", name="Send answer").click()

    expect(page.get_by_role("alert")).to_contain_text("Tell us why the referral was not accepted.")
    why = page.get_by_label("Why not?")
    expect(why).to_be_visible()
    why.select_option(label="No capacity")
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_text("Your answer: Not accepted")).to_be_visible()
    referral = Referral.objects.get(pk=sent.pk)
    assert referral.status == Status.REJECTED and referral.disposition.code == "no_capacity"
