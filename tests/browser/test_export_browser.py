"""The referral list's export in a real headless Chromium: filter the list, click "CSV", and the
file the browser saves holds the referrals the filtered list counts (tests/test_downloads.py
follows every download link; this one is a person's click)."""

import csv
import re

import pytest
from playwright.sync_api import Page, expect

from referloop.referrals.sheet import HEADERS
from tests.browser.test_shell_browser import sign_in
from tests.referrals import factories

pytestmark = pytest.mark.browser


@pytest.fixture
def three_referrals(transactional_db, cast):
    cast.agency_a.policy_reviewed_at = cast.agency_a.created_at  # no set-up item in the way
    cast.agency_a.save(update_fields=["policy_reviewed_at"])
    sent = [
        factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator, name=name)
        for name in ("Harbor House", "Riverbend Recovery")
    ]
    draft = factories.sample_referral(
        agency=cast.agency_a, actor=cast.coordinator, sent=False, name="Clearwater"
    )
    return sent, draft


def test_the_filtered_list_exports_what_it_counts(page: Page, live_server, cast, three_referrals):
    sent, draft = three_referrals
    sign_in(page, live_server.url, cast.coordinator.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Referrals").click()
    expect(page.get_by_text("3 referrals")).to_be_visible()

    page.get_by_label("Status").select_option(label="Sent")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text(re.compile(r"^2 referrals"))).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()

    assert re.fullmatch(r"referrals-\d{4}-\d{2}-\d{2}\.csv", download.value.suggested_filename)
    with open(download.value.path(), encoding="utf-8-sig", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    assert header == list(HEADERS)
    assert sorted(row[0] for row in rows) == sorted(referral.tracking_id for referral in sent)
    assert draft.tracking_id not in {row[0] for row in rows}
