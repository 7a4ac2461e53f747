"""The metrics in a real headless Chromium: open the page, change the period to the week of the
hand-checked timeline, follow a number to the referrals behind it, and download the XLSX (opened
with openpyxl)."""

import io

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.browser.test_shell_browser import sign_in
from tests.reports.test_metrics import clock, timeline  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def week(transactional_db, cast, timeline):  # noqa: F811
    cast.agency_a.policy_reviewed_at = cast.agency_a.created_at  # no set-up item in the way
    cast.agency_a.save(update_fields=["policy_reviewed_at"])
    return timeline


def test_change_the_period_follow_a_number_and_download_the_sheet(
    page: Page, live_server, cast, week
):
    sign_in(page, live_server.url, cast.coordinator.email)
    page.get_by_role("link", name="Reports", exact=True).click()
    expect(page.get_by_role("heading", name="Closed-loop metrics")).to_be_visible()
    expect(page.get_by_text("0 referrals sent")).to_be_visible()  # the last 30 days

    page.get_by_label("From", exact=True).fill("2026-03-02")
    page.get_by_label("To", exact=True).fill("2026-03-08")
    page.get_by_role("button", name="Show").click()
    receipt = page.locator(".metric", has=page.get_by_role("heading", name="Receipt confirmed"))
    expect(receipt.locator(".metric-value")).to_have_text("57.1%")  # 4 of the 7 sent
    expect(page.get_by_text("7 referrals sent")).to_be_visible()

    receipt.get_by_role("link", name="4 referrals").click()
    expect(
        page.get_by_role("heading", name="Receipt confirmed: the referrals counted")
    ).to_be_visible()
    for name in ("r1", "r2", "r4", "r6"):
        expect(page.get_by_role("link", name=week[name].tracking_id)).to_be_visible()
    expect(page.get_by_role("link", name=week["r3"].tracking_id)).to_have_count(0)

    page.get_by_role("link", name="Closed-loop metrics").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="XLSX").click()
    assert download.value.suggested_filename == "closed-loop-2026-03-02-to-2026-03-08.xlsx"
    with open(download.value.path(), "rb") as handle:
        book = load_workbook(io.BytesIO(handle.read()), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][0] == "Metric"
    assert rows[1][:2] == ("Receipt confirmed", 57.1)


def _download(page: Page, name: str):
    with page.expect_download() as download:
        page.get_by_role("link", name=name, exact=True).click()
    with open(download.value.path(), "rb") as handle:
        return download.value.suggested_filename, handle.read()


def test_the_weekly_review_from_week_to_week_to_a_referral_and_its_pdf(
    page: Page, live_server, cast, week
):
    sign_in(page, live_server.url, cast.coordinator.email)
    page.goto(f"{live_server.url}/reports/")
    page.get_by_role("link", name="Weekly review").click()
    expect(page.get_by_role("heading", name="Weekly review: Apr 20 – Apr 26, 2026")).to_be_visible()
    page.get_by_role("link", name="This week so far").click()
    expect(page.get_by_role("heading", name="Weekly review: Apr 27 – May 3, 2026")).to_be_visible()
    page.get_by_role("link", name="← Week of Apr 20").click()
    page.get_by_label("Week of").fill("2026-03-04")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Weekly review: Mar 2 – Mar 8, 2026")).to_be_visible()
    expect(page.get_by_role("heading", name="Sent by us 7")).to_be_visible()
    closed = page.locator(".review-section", has=page.get_by_role("heading", name="Closed 3"))
    expect(closed.get_by_role("listitem")).to_have_count(3)
    reasons = page.locator(".review-section", has=page.get_by_role("heading", name="Reasons"))
    expect(reasons.get_by_role("row", name="No capacity 1 0 +1")).to_be_visible()

    name, pdf = _download(page, "PDF")
    assert name == "weekly-review-2026-03-02.pdf" and pdf.startswith(b"%PDF")
    name, sheet = _download(page, "XLSX")
    rows = list(load_workbook(io.BytesIO(sheet), read_only=True).active.iter_rows(values_only=True))
    assert name == "weekly-review-2026-03-02.xlsx" and rows[1][:2] == (
        "Sent by us",
        week["r6"].tracking_id,
    )
    name, text = _download(page, "CSV")
    assert name == "weekly-review-2026-03-02.csv" and week["r2"].tracking_id in text.decode()

    page.get_by_role("link", name="Week of Mar 9 →").click()
    expect(page.get_by_role("heading", name="Weekly review: Mar 9 – Mar 15, 2026")).to_be_visible()
    silent = page.locator(".review-section", has=page.get_by_role("heading", name="gone silent"))
    silent.get_by_role("link", name="See the waiting referrals").last.click()
    expect(page.get_by_role("link", name=week["r3"].tracking_id)).to_be_visible()
    page.go_back()
    closed = page.locator(".review-section", has=page.get_by_role("heading", name="Closed 2"))
    closed.get_by_role("link", name="Open").first.click()
    expect(page.get_by_text(week["r4"].tracking_id).first).to_be_visible()
