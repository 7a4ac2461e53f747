"""The weekly review on the hand-checked timeline of test_metrics: what opened and closed in a
week (by its events, in agency time), the reasons this week against last, what is stuck now,
partners gone silent, consents expiring and listings to verify, each line with its action; the
page, its PDF and CSV/XLSX, the API, bad weeks refused, and the weekly e-mail to program leads
over a real SMTP server."""

import csv
import io
import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from referloop.core.models import OutboundEmail
from referloop.core.outbox import outbox_deliver
from referloop.core.permissions import Role
from referloop.core.services import agency_policy_update, api_token_create
from referloop.directory.models import Service
from referloop.reports import review
from referloop.reports.mailing import weekly_reviews_send
from tests.conftest import client_for
from tests.referrals import factories
from tests.reports.test_metrics import _at, clock, timeline  # noqa: F401
from tests.smtp import smtp_server  # noqa: F401

pytestmark = pytest.mark.django_db

MARCH_2 = review.week_of(date(2026, 3, 4))
MARCH_9 = review.week_of(date(2026, 3, 12))


def _lines(section) -> list[str]:
    return [line.subject for line in section.lines]


def test_what_opened_and_closed_in_a_week_and_why_partners_said_no(cast, timeline):  # noqa: F811
    t = {key: value for key, value in timeline.items() if key != "t"}
    first = review.weekly_review(cast.agency_a, MARCH_2)
    assert review.Period(date(2026, 3, 2), date(2026, 3, 8)) == MARCH_2
    opened = first.section("opened_outbound")
    assert opened.count == 7  # r1–r6 and the one to Lakeside; the March 20 one is later
    assert _lines(opened)[0] == t["r6"].tracking_id  # newest sending first
    assert opened.lines[0].action_url == f"/referrals/{t['r6'].pk}/"
    assert "to Harbor (Harbor intake), sent Sat Mar 7; now Not accepted" in opened.lines[0].detail
    closed = first.section("closed")
    # Closed that week: r2 and r6 not accepted, r5 cancelled (r1 and r4 close the week after).
    assert closed.count == 3
    assert _lines(closed) == [t["r5"].tracking_id, t["r6"].tracking_id, t["r2"].tracking_id]
    assert "Not accepted at Harbor: No capacity" in closed.lines[2].detail
    assert [(r.label, r.this_week, r.last_week) for r in first.reasons] == [
        ("No capacity", 1, 0),
        ("Not eligible", 1, 0),
    ]
    second = review.weekly_review(cast.agency_a, MARCH_9)
    assert second.section("opened_outbound").count == 0
    assert _lines(second.section("closed")) == [t["r4"].tracking_id, t["r1"].tracking_id]
    assert [(r.label, r.this_week, r.last_week, r.change) for r in second.reasons] == [
        ("No capacity", 0, 1, -1),
        ("Not eligible", 0, 1, -1),
    ]


def test_the_week_is_the_agency_s_monday_to_sunday(cast, timeline):  # noqa: F811
    # Sunday March 8, 23:30 in Chicago (CDT since 2 am that day) is Monday 04:30 UTC.
    late_sunday = datetime(2026, 3, 9, 4, 30, tzinfo=UTC)
    timeline["t"].referral(sent=(late_sunday - _at(0)).total_seconds() / 86400)
    assert review.weekly_review(cast.agency_a, MARCH_2).section("opened_outbound").count == 8
    assert review.weekly_review(cast.agency_a, MARCH_9).section("opened_outbound").count == 0


def test_what_is_stuck_now_and_the_partners_gone_silent(cast, timeline):  # noqa: F811
    result = review.weekly_review(cast.agency_a, MARCH_2)
    # On May 1, r3, the March 20 one and the Lakeside one still wait for receipt, r2 and r6
    # for a re-referral: all overdue by weeks, past the 7-day escalation threshold.
    escalated = result.section("escalated")
    assert escalated.count == 5
    assert {line.action_label for line in escalated.lines} == {"Review"}
    assert result.section("overdue").count == 0  # each overdue referral is listed once
    silent = result.section("silent")
    assert _lines(silent) == ["Lakeside", "Harbor"]  # the longest waiting first
    assert silent.lines[0].detail == (
        "1 referral waiting for receipt, the oldest sent 59 days ago; never heard from."
    )
    assert silent.lines[1].detail.startswith("2 referrals waiting for receipt")
    assert "last heard from Sat Mar 7." in silent.lines[1].detail  # r6's answer
    organization = timeline["t"].organization.pk
    assert silent.lines[1].action_url == (
        f"/referrals/?partner={organization}&status=requested&sort=created"
    )
    assert result.section("inbox").count == 0


def test_consents_expiring_and_listings_to_verify(cast, timeline, clock):  # noqa: F811
    person = factories.client(agency=cast.agency_a, actor=cast.coordinator, first_name="Ruth")
    soon = factories.consent(
        client=person,
        organization=timeline["t"].organization,
        expires_on=(_at(60) + timedelta(days=10)).date(),
    )
    factories.consent(
        client=person, organization=timeline["t"].other, expires_on=date(2026, 12, 31)
    )
    _, listing = factories.partner(network=cast.network, agency=cast.agency_a, name="Our house")
    Service.objects.filter(pk=listing.pk).update(created_at=_at(60) - timedelta(days=200))
    result = review.weekly_review(cast.agency_a, MARCH_2)
    consents = result.section("consents")
    assert consents.count == 1 and consents.lines[0].action_label == "Renew consent"
    assert f"/clients/{soon.client_id}/" in consents.lines[0].action_url
    listings = result.section("listings")
    assert listings.count == 1 and "Never verified: listed 200 days ago" in listings.lines[0].detail


def test_long_sections_list_their_first_lines_and_count_all(cast, timeline):  # noqa: F811
    shown = review.weekly_review(cast.agency_a, MARCH_2, limit=2)
    opened = shown.section("opened_outbound")
    assert (opened.count, len(opened.lines), opened.more) == (7, 2, 5)
    every = review.weekly_review(cast.agency_a, MARCH_2, limit=None)
    assert len(every.section("opened_outbound").lines) == 7


def test_the_page_its_pdf_and_its_sheets(cast, timeline):  # noqa: F811
    client = client_for(cast.coordinator)
    page = client.get("/reports/week/?week=2026-03-04")
    assert page.status_code == 200
    text = page.text
    assert "Weekly review: Mar 2 – Mar 8, 2026" in text
    assert "Partners gone silent" in text and "Consents expiring" in text
    assert f'href="/referrals/{timeline["r6"].pk}/"' in text
    assert "?week=2026-02-23" in text and "?week=2026-03-09" in text  # the weeks around
    pdf = client.get("/reports/week/?week=2026-03-02&format=pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    printed = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf.content, capture_output=True, check=True
    ).stdout.decode()
    assert (
        "ALPHA RECOVERY · WEEKLY REVIEW" in printed and "Printed May 1, 2026 10:00 CDT" in printed
    )
    assert timeline["r2"].tracking_id in printed
    sheet = client.get("/reports/week/?week=2026-03-02&format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(sheet.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["Section", "Subject", "Detail", "Action", "Link"]
    assert ["Sent by us", timeline["r1"].tracking_id] == rows[7][:2]  # the oldest of 7, last
    assert ["Not accepted: this week / last week", "No capacity", "1 / 0", "", ""] in rows
    book = load_workbook(
        io.BytesIO(client.get("/reports/week/?week=2026-03-02&format=xlsx").content),
        read_only=True,
    )
    assert next(book.active.iter_rows(values_only=True))[0] == "Section"


def test_the_default_week_is_the_last_full_one_and_bad_weeks_are_refused(cast, clock):  # noqa: F811
    client = client_for(cast.coordinator)
    # May 1, 2026 is a Friday: last week ran April 20–26.
    assert "Apr 20 – Apr 26, 2026" in client.get("/reports/week/").text
    for week, message in (
        ("1999-12-31", "from January 1, 2000 on"),
        ("2026-05-04", "has not started yet"),
        ("05/04/2026", "YYYY-MM-DD"),
    ):
        refused = client.get(f"/reports/week/?week={week}")
        assert refused.status_code == 400 and message in refused.text


def test_another_agency_s_review_shows_nothing_of_ours(cast, timeline):  # noqa: F811
    text = client_for(cast.admin_b).get("/reports/week/?week=2026-03-02").text
    for referral in (value for key, value in timeline.items() if key != "t"):
        assert referral.tracking_id not in text
    assert "Harbor" not in text


def test_the_page_takes_a_fixed_number_of_queries(cast, timeline):  # noqa: F811
    client = client_for(cast.coordinator)
    client.get("/reports/week/")

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/reports/week/?week=2026-03-02").status_code == 200
        return len(captured)

    before = count()
    for day in range(3):
        timeline["t"].referral(sent=day + 0.5)
    assert count() == before


def test_the_api_gives_the_review_and_refuses_bad_weeks(cast, timeline):  # noqa: F811
    raw = api_token_create(user=cast.coordinator, agency=cast.agency_a)[1]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = api.get("/api/v1/reports/weekly-review?week=2026-03-04").json()
    assert (body["week_start"], body["week_end"]) == ("2026-03-02", "2026-03-08")
    sections = {section["key"]: section for section in body["sections"]}
    assert sections["closed"]["count"] == 3 and sections["escalated"]["count"] == 5
    assert body["not_accepted_reasons"][0] == {
        "label": "No capacity",
        "this_week": 1,
        "last_week": 0,
    }
    refused = api.get("/api/v1/reports/weekly-review?week=2026-06-01")
    assert refused.status_code == 400 and refused.json()["field"] == "week"


# --- the weekly e-mail ---------------------------------------------------------------------------

# Monday May 4, 2026, 08:00 in Chicago (CDT): the agency's week has begun.
MONDAY_8AM = datetime(2026, 5, 4, 13, 0, tzinfo=UTC)


@pytest.fixture
def mail(settings, smtp_server):  # noqa: F811
    settings.MAILERS = smtp_server.mailers()
    settings.SMTP_HOST = smtp_server.host
    return smtp_server


def _opt_in(cast, **policy):
    agency_policy_update(
        agency=cast.agency_a,
        actor=cast.admin_a,
        data={"weekly_review_email": True, **policy},
        time_zone=cast.agency_a.time_zone,
    )


def _run(traveller, at) -> int:
    traveller.move_to(at, tick=False)
    queued = weekly_reviews_send()
    outbox_deliver()
    return queued


def _reviews(mail) -> list:
    return [m for m in mail.messages if "in review" in m["Subject"]]


def test_program_leads_of_an_opted_in_agency_get_last_week_s_review_once(
    cast,
    timeline,  # noqa: F811
    clock,  # noqa: F811
    mail,
):
    assert _run(clock, MONDAY_8AM) == 0  # not opted in: nothing
    _opt_in(cast)
    assert _run(clock, MONDAY_8AM - timedelta(hours=2)) == 0  # 06:00: not yet
    assert _run(clock, MONDAY_8AM) == 1
    assert _run(clock, MONDAY_8AM + timedelta(hours=3)) == 0  # once a week
    [message] = _reviews(mail)
    lead = cast.members_a[Role.PROGRAM_LEAD]
    assert message["To"] == lead.email
    assert message["Subject"] == "Alpha Recovery: the week of Apr 27 in review"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Escalated: 5" in text and "Partners gone silent: 2" in text
    assert "- Lakeside: 1 referral waiting for receipt" in text
    assert "/reports/week/?week=2026-04-27" in text and "&format=pdf" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Partners gone silent" in html and "?week=2026-04-27" in html
    for referral in (value for key, value in timeline.items() if key != "t"):
        assert referral.tracking_id not in text and referral.tracking_id not in html
    assert "Dana" not in text and "Rivers" not in html  # never a client's name
    assert OutboundEmail.objects.get(kind="weekly_review").dedupe_key == (
        f"weekly-review:{cast.agency_a.pk}:{lead.pk}:2026-04-27"
    )
    # Tuesday is not the first working day: nothing; the next Monday brings the next review.
    assert _run(clock, MONDAY_8AM + timedelta(days=1)) == 0
    assert _run(clock, MONDAY_8AM + timedelta(days=7)) == 1


def test_after_a_monday_holiday_the_review_goes_on_tuesday(cast, clock, mail):  # noqa: F811
    _opt_in(cast, holidays=["2026-05-04"])
    assert _run(clock, MONDAY_8AM) == 0
    assert _run(clock, MONDAY_8AM + timedelta(days=1)) == 1
    assert [m["To"] for m in _reviews(mail)] == [cast.members_a[Role.PROGRAM_LEAD].email]
