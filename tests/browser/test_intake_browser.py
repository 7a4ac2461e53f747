"""Intake in a real headless Chromium: screen a caller who reports domestic violence and asks for
couples therapy, see the contraindication appear in the decision panel as the answers go in, save,
pick two of the recommended individual DV services and send each referral (consent recorded on
the way), and see the partners' reply-link e-mails reach a real SMTP server."""

import pytest
from playwright.sync_api import Page, expect

from referloop.core.outbox import outbox_deliver
from referloop.intake.models import Inquiry, Status
from referloop.referrals.models import Referral
from tests.browser.test_shell_browser import sign_in
from tests.directory import factories as directory
from tests.intake.conftest import county  # noqa: F401
from tests.smtp import smtp_server  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def intake_county(transactional_db, cast, county):  # noqa: F811
    cast.agency_a.policy_reviewed_at = cast.agency_a.created_at  # no set-up item in the way
    cast.agency_a.save(update_fields=["policy_reviewed_at"])
    advocates = directory.organization(network=cast.network, name="County DV Advocates")
    directory.service(
        organization=advocates,
        name="DV advocacy and safety planning",
        needs=["domestic-violence"],
        email="advocates@dv.example.org",
    )
    return county


def _answer(page: Page, question: str, answer: str) -> None:
    page.get_by_role("group", name=question).get_by_label(answer, exact=True).check()


def _refer(page: Page, service: str, organization: str) -> None:
    card = page.locator(".recommendation", has_text=service)
    card.get_by_role("link", name="Refer").click()
    expect(page.get_by_role("heading", name=f"Refer Avery Quinn to {service}")).to_be_visible()
    expect(page.get_by_text(f"No consent in force covers {organization}")).to_be_visible()
    page.get_by_label("Or: no expiry").check()
    page.get_by_role("button", name="Send the referral").click()
    expect(page.get_by_text(f"sent to {organization}, with follow-up")).to_be_visible()


def test_dv_with_a_couples_request_is_referred_to_individual_dv_services(
    page: Page,
    live_server,
    cast,
    intake_county,
    settings,
    smtp_server,  # noqa: F811
):
    settings.SMTP_HOST = smtp_server.host
    settings.MAILERS = smtp_server.mailers()
    sign_in(page, live_server.url, cast.coordinator.email)
    page.get_by_role("link", name="Intake", exact=True).click()
    page.get_by_role("link", name="New inquiry").first.click()
    panel = page.locator("#decision")
    expect(panel).to_contain_text("Answer the questions")

    page.get_by_label("First name").fill("Avery")
    page.get_by_label("Last name").fill("Quinn")
    page.get_by_label("Phone").fill("555-0100")
    _answer(page, "Imminently suicidal?", "No")
    _answer(page, "Imminently homicidal?", "No")
    _answer(page, "Domestic violence involved?", "Yes")
    page.get_by_label("Service requested").select_option("counseling")
    _answer(page, "Format", "Couples")
    _answer(page, "Age group", "Adult (18+)")
    _answer(page, "Severity", "Moderate")
    _answer(page, "Substance use involved?", "No")
    _answer(page, "Legal or court involvement?", "No")

    expect(panel).to_contain_text("Couples therapy is contraindicated")
    expect(panel).to_contain_text("Decision: Refer out")
    expect(panel).to_contain_text("Individual domestic-violence-specific services — for each party")
    expect(panel).to_contain_text("Individual domestic violence counseling")
    expect(panel).not_to_contain_text("Couples and marriage counseling")

    page.get_by_role("button", name="Save the inquiry").click()
    expect(page.get_by_text("recorded: refer out")).to_be_visible()
    expect(page.get_by_text("Couples therapy is contraindicated")).to_be_visible()

    _refer(page, "Individual domestic violence counseling", "Safe Harbor")
    _refer(page, "DV advocacy and safety planning", "County DV Advocates")

    inquiry = Inquiry.objects.get()
    assert inquiry.status == Status.REFERRED
    referrals = Referral.objects.filter(client=inquiry.client).order_by("pk")
    assert [r.status for r in referrals] == ["requested", "requested"]
    assert {r.service.name for r in referrals} == {
        "Individual domestic violence counseling",
        "DV advocacy and safety planning",
    }
    assert inquiry.options.filter(referral__isnull=False).count() == 2
    expect(page.get_by_role("link", name=referrals[0].tracking_id)).to_be_visible()

    assert outbox_deliver() >= 2
    for address in ("referrals@safeharbor.example.org", "advocates@dv.example.org"):
        (message,) = smtp_server.messages_to(address)
        text = message.get_body(("plain",)).get_content()
        assert "/r/" in text  # the reply link
        assert "Avery" not in text and "Quinn" not in text  # nobody is named in the e-mail
