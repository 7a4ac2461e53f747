"""The community scorecard in a real headless Chromium: an administrator opens it from the
reports, changes the quarter, follows every control the page renders (the subnav, each table's
CSV and XLSX, opened), publishes it, and the public page opens without a login."""

import csv
import io

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from referloop.reports import community
from tests.browser.test_shell_browser import sign_in
from tests.reports.test_community import clock, network  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def quarter(transactional_db, cast, network):  # noqa: F811
    cast.agency_a.policy_reviewed_at = cast.agency_a.created_at  # no set-up item in the way
    cast.agency_a.save(update_fields=["policy_reviewed_at"])
    return network


def _download(page: Page, link) -> tuple[str, bytes]:
    with page.expect_download() as download:
        link.click()
    with open(download.value.path(), "rb") as handle:
        return download.value.suggested_filename, handle.read()


def test_open_the_scorecard_download_every_table_and_publish_it(
    page: Page,
    live_server,
    cast,
    quarter,
):
    sign_in(page, live_server.url, cast.admin_a.email)
    page.get_by_role("link", name="Reports", exact=True).click()
    page.get_by_role("link", name="Community", exact=True).click()
    expect(page.get_by_role("heading", name="Community scorecard")).to_be_visible()
    expect(page.get_by_text("(2026-Q1)")).to_be_visible()  # the last quarter that ended

    page.get_by_label("Quarter", exact=True).select_option("2025-Q4")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("(2025-Q4)")).to_be_visible()
    page.get_by_label("Quarter", exact=True).select_option("2026-Q1")
    page.get_by_role("button", name="Show").click()
    agencies = page.locator(
        "section", has=page.get_by_role("heading", name="Closed loop by agency")
    )
    expect(agencies.get_by_role("row", name="Alpha Recovery")).to_contain_text("32.4%")
    expect(page.locator("#community-gaps-title")).to_have_count(1)
    expect(page.locator("#community-capacity-title")).to_have_count(1)

    for table, title in community.TABLES.items():
        section = page.locator("section", has=page.get_by_role("heading", name=title))
        name, data = _download(page, section.get_by_role("link", name="CSV"))
        assert name == f"community-{table}-2026-Q1.csv"
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert len(rows) > 1
        name, data = _download(page, section.get_by_role("link", name="XLSX"))
        assert name == f"community-{table}-2026-Q1.xlsx"
        sheet = list(
            load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True)
        )
        assert list(sheet[0]) == rows[0] and len(sheet) == len(rows)

    page.get_by_role("button", name="Publish on the public directory").click()
    expect(page.get_by_text("is published on the public directory")).to_be_visible()
    page.get_by_role("link", name="the public scorecard").click()
    expect(page.get_by_role("heading", name="North County: community scorecard")).to_be_visible()

    public = page.context.browser.new_page()  # no session: the public, as anyone
    public.goto(f"{live_server.url}/directory/community/north/?quarter=2026-Q1")
    expect(public.get_by_role("heading", name="North County: community scorecard")).to_be_visible()
    expect(public.get_by_role("link", name="Staff sign in")).to_be_visible()
    expect(public.get_by_text("fewer than 11").first).to_be_visible()
    public.get_by_role("link", name="Find services and open beds").click()
    expect(public.get_by_role("heading", name="Find services and open beds")).to_be_visible()
    public.get_by_role("link", name="North County community scorecard").click()  # the way back
    expect(public.get_by_role("heading", name="North County: community scorecard")).to_be_visible()
    public.close()

    page.goto(f"{live_server.url}/reports/community/")
    page.get_by_role("button", name="Withdraw the public scorecard").click()
    expect(page.get_by_text("no longer public")).to_be_visible()
    gone = page.context.browser.new_page()
    assert gone.goto(f"{live_server.url}/directory/community/north/").status == 404
    gone.goto(f"{live_server.url}/directory/")
    expect(gone.get_by_role("link", name="North County community scorecard")).to_have_count(0)
    gone.close()
