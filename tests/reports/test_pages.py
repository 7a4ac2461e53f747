"""The metrics page, the referrals behind a number, their CSV/XLSX, the API and the command
line, on the hand-checked timeline of test_metrics."""

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from referloop.core.services import api_token_create
from tests.conftest import client_for
from tests.reports.test_metrics import clock, timeline  # noqa: F401

pytestmark = pytest.mark.django_db

WEEK = "start=2026-03-02&end=2026-03-08"


def test_the_page_shows_the_six_numbers_with_definitions_and_links(cast, timeline):  # noqa: F811
    page = client_for(cast.coordinator).get(
        f"/reports/?{WEEK}&partner={timeline['t'].organization.pk}"
    )
    assert page.status_code == 200
    text = page.text
    assert "66.7%" in text and "80%" in text and "50%" in text
    assert "2 days" in text and "5.8 days" in text
    assert "No capacity" in text and "Not eligible" in text
    assert "sent referrals the partner confirmed receiving" in text  # the definition
    assert "/reports/referrals/?metric=receipt&amp;start=2026-03-02&amp;end=2026-03-08" in text
    assert '<svg class="chart"' in text and "Receipt confirmed by week of sending" in text
    assert "Mar 2: 66.7%" in text  # the chart's description, for screen readers
    assert 'aria-labelledby="reasons-title reasons-desc"' in text
    assert "No capacity: 1; Not eligible: 1" in text  # the reasons chart, read out


def test_a_number_opens_the_referrals_it_counts(cast, timeline):  # noqa: F811
    org = timeline["t"].organization.pk
    page = client_for(cast.coordinator).get(
        f"/reports/referrals/?metric=not_accepted&{WEEK}&direction=outbound&partner={org}"
    )
    assert page.status_code == 200
    assert timeline["r2"].tracking_id in page.text and timeline["r6"].tracking_id in page.text
    assert timeline["r1"].tracking_id not in page.text
    assert f'href="/referrals/{timeline["r2"].pk}/"' in page.text


def test_the_exports_open(cast, timeline):  # noqa: F811
    client = client_for(cast.coordinator)
    sheet = client.get(f"/reports/?{WEEK}&format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(sheet.streaming_content).decode("utf-8-sig"))))
    assert rows[0][0] == "Metric" and rows[1][0] == "Receipt confirmed"
    workbook = client.get(f"/reports/?{WEEK}&format=xlsx")
    book = load_workbook(io.BytesIO(workbook.content), read_only=True)
    assert next(book.active.iter_rows(values_only=True))[0] == "Metric"
    behind = client.get(f"/reports/referrals/?metric=receipt&{WEEK}&format=csv")
    listed = list(csv.reader(io.StringIO(b"".join(behind.streaming_content).decode("utf-8-sig"))))
    assert listed[0][0] == "Tracking ID" and len(listed) == 1 + 4  # r1, r2, r4, r6


def test_bad_periods_are_refused_on_the_page(cast, clock):  # noqa: F811
    client = client_for(cast.coordinator)
    reversed_ = client.get("/reports/?start=2026-03-08&end=2026-03-02")
    assert reversed_.status_code == 400 and "starts after it ends" in reversed_.text
    garbled = client.get("/reports/?start=03/02/2026")
    assert garbled.status_code == 400 and "YYYY-MM-DD" in garbled.text
    unknown = client.get(f"/reports/referrals/?metric=happiness&{WEEK}")
    assert unknown.status_code == 400 and "Unknown metric" in unknown.text


def test_an_empty_period_says_no_data(cast, clock):  # noqa: F811
    page = client_for(cast.coordinator).get("/reports/?start=2025-01-01&end=2025-01-31")
    assert page.status_code == 200
    assert page.text.count('<p class="metric-value">no data</p>') == 6


def test_another_agency_sees_only_its_own_numbers(cast, timeline):  # noqa: F811
    page = client_for(cast.admin_b).get(f"/reports/?{WEEK}")
    assert "0 referrals sent" in page.text
    behind = client_for(cast.admin_b).get(f"/reports/referrals/?metric=receipt&{WEEK}")
    assert timeline["r1"].tracking_id not in behind.text


def test_the_api_gives_the_numbers_and_refuses_bad_periods(cast, timeline):  # noqa: F811
    raw = api_token_create(user=cast.coordinator, agency=cast.agency_a)[1]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = api.get(f"/api/v1/reports/metrics?{WEEK}").json()
    assert body["sent"] == 7
    by_key = {row["key"]: row for row in body["metrics"]}
    assert by_key["contact_days"]["value"] == 2.0
    refused = api.get("/api/v1/reports/metrics?start=2026-03-08&end=2026-03-02")
    assert refused.status_code == 400 and refused.json()["field"] == "start"


def test_the_command_line_prints_a_table_csv_or_json(cast, timeline, capsys):  # noqa: F811
    call_command(
        "report", "metrics", "--agency", "alpha", "--from", "2026-03-02", "--to", "2026-03-08"
    )
    table = capsys.readouterr().out
    assert "7 referrals sent 2026-03-02 to 2026-03-08" in table and "Receipt confirmed" in table
    call_command(
        "report",
        "metrics",
        "--agency",
        "alpha",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-08",
        "--format",
        "json",
    )
    assert json.loads(capsys.readouterr().out)["sent"] == 7
    call_command("report", "metrics", "--agency", "alpha", "--format", "csv")
    assert capsys.readouterr().out.startswith("Metric,Value")
    with pytest.raises(CommandError, match="--from: The period starts after it ends"):
        call_command(
            "report", "metrics", "--agency", "alpha", "--from", "2026-03-08", "--to", "2026-03-02"
        )
    with pytest.raises(CommandError, match="No agency"):
        call_command("report", "metrics", "--agency", "nobody")


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_page_and_the_list_take_a_fixed_number_of_queries(cast, timeline):  # noqa: F811
    client = client_for(cast.coordinator)
    client.get("/reports/")
    page, listed = (
        _queries(client, f"/reports/?{WEEK}"),
        _queries(client, f"/reports/referrals/?metric=receipt&{WEEK}"),
    )
    t = timeline["t"]
    for day in range(5):
        t.move(t.referral(sent=day), "received", day + 1)
    assert _queries(client, f"/reports/?{WEEK}") == page
    assert _queries(client, f"/reports/referrals/?metric=receipt&{WEEK}") == listed


def test_the_scorecards_page_sorts_and_exports(cast, timeline):  # noqa: F811
    client = client_for(cast.coordinator)
    page = client.get(f"/reports/partners/?{WEEK}")
    assert page.status_code == 200
    text = page.text
    assert text.index("Harbor") < text.index("Lakeside")
    assert (
        "66.7%" in text and "5.8 days" in text and "1 completed · 2 not accepted · 1 failed" in text
    )
    by_name = client.get(f"/reports/partners/?{WEEK}&sort=name")
    assert "Partner ▾" in by_name.text
    sheet = client.get(f"/reports/partners/?{WEEK}&format=xlsx")
    rows = list(
        load_workbook(io.BytesIO(sheet.content), read_only=True).active.iter_rows(values_only=True)
    )
    assert rows[0][0] == "Partner" and rows[1][:4] == ("Harbor", 6, 66.7, 80.0)
    refused = client.get("/reports/partners/?start=2026-03-08&end=2026-03-02")
    assert refused.status_code == 400
    assert "Harbor" not in client_for(cast.admin_b).get(f"/reports/partners/?{WEEK}").text
