"""The community scorecard's pages, sheets, publishing, public page and API, on the hand-checked
network of test_community: the same suppressed figures everywhere, who may see and publish
them, the public page only while published, bad periods refused, and bounded queries."""

import csv
import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from referloop.core.models import AuditEvent, Network
from referloop.core.services import api_token_create
from referloop.reports import community
from tests.conftest import client_for
from tests.reports.test_community import Q1, clock, network  # noqa: F401

pytestmark = pytest.mark.django_db

PAGE = "/reports/community/"
PUBLIC = "/directory/community/north/"


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_the_page_shows_the_suppressed_figures_with_definitions_and_charts(cast, network):  # noqa: F811
    page = client_for(cast.coordinator).get(PAGE)  # the last quarter that ended: Q1 2026
    assert page.status_code == 200
    text = page.text
    assert "Community scorecard" in text and "2026-Q1" in text
    assert 'href="/reports/community/" aria-current="page">Community' in text
    assert "fewer than 11" in text and "hidden" in text and "32.4%" in text and "73.9%" in text
    assert "sent referrals the partner confirmed receiving" in text  # the definitions
    assert "a count below 11 reads" in text
    assert '<svg class="chart"' in text and "Share of services with a place free" in text
    assert "Referrals not accepted for no capacity, by need" in text
    assert "Counseling / therapy: 13 referrals; Housing: hidden; Food: hidden" in text
    assert "Not published" in text
    assert "Publish on the public directory" not in text  # a coordinator may not publish
    assert "Charlie" not in text  # another network's agency is not in it


def test_every_table_downloads_as_csv_and_xlsx(cast, network):  # noqa: F811
    client = client_for(cast.coordinator)
    for table in community.TABLES:
        sheet = _csv(client.get(f"{PAGE}?quarter=2026-Q1&table={table}&format=csv"))
        book = load_workbook(
            io.BytesIO(client.get(f"{PAGE}?quarter=2026-Q1&table={table}&format=xlsx").content),
            read_only=True,
        )
        rows = list(book.active.iter_rows(values_only=True))
        assert tuple(sheet[0]) == rows[0] and len(sheet) == len(rows) > 1, table
    agencies = _csv(client.get(f"{PAGE}?quarter=2026-Q1&table=agencies&format=csv"))
    assert agencies[1:] == [
        ["Alpha Recovery", "34", "11", "32.4", "23", "hidden", "hidden"],
        ["Bravo Treatment", "34", "23", "67.6", "23", "hidden", "hidden"],
        ["The network", "68", "34", "50.0", "46", "34", "73.9"],
    ]
    between = _csv(client.get(f"{PAGE}?table=between&format=csv"))
    assert between == [
        ["Sender \\ receiver", "Alpha Recovery", "Bravo Treatment", "Sent to the network"],
        ["Alpha Recovery", "", "hidden", "hidden"],
        ["Bravo Treatment", "fewer than 11", "", "fewer than 11"],
        ["Received from the network", "fewer than 11", "hidden", "21"],
    ]
    book = load_workbook(
        io.BytesIO(client.get(f"{PAGE}?table=agencies&format=xlsx").content), read_only=True
    )
    assert list(book.active.iter_rows(values_only=True))[1] == (
        "Alpha Recovery",
        34,
        11,
        32.4,
        23,
        "hidden",
        "hidden",
    )
    assert AuditEvent.objects.filter(action="export", object_type="reports.community").exists()
    assert client.get(f"{PAGE}?table=nothing&format=csv").status_code == 400


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-03-31&end=2026-01-01", "The period starts after it ends"),
        ("start=1200-01-01&end=1200-03-31", "or later"),
        ("start=2026-01-05&end=2026-02-05", "one whole calendar quarter"),
        ("quarter=2026-Q2", "has not ended yet"),
        ("quarter=Q9", "YYYY-Qn"),
        ("start=not-a-date", "YYYY-MM-DD"),
    ],
)
def test_bad_periods_are_refused_with_a_clear_message(cast, clock, query, message):  # noqa: F811
    page = client_for(cast.coordinator).get(f"{PAGE}?{query}")
    assert page.status_code == 400 and message in page.text


def test_another_network_sees_only_its_own(cast, network):  # noqa: F811
    page = client_for(cast.admin_c).get(PAGE).text
    assert "Charlie Services" in page and "Alpha" not in page and "Bravo" not in page
    assert "South County" in page


def test_an_administrator_publishes_and_withdraws_the_public_page(cast, network):  # noqa: F811
    anonymous = Client()
    assert anonymous.get(PUBLIC).status_code == 404  # not published
    assert anonymous.get("/directory/community/nowhere/").status_code == 404
    refused = client_for(cast.coordinator).post(f"{PAGE}publish/", {"publish": "1"})
    assert refused.status_code == 403
    admin = client_for(cast.admin_a)
    assert "Publish on the public directory" in admin.get(PAGE).text
    assert admin.post(f"{PAGE}publish/", {"publish": "1"}).status_code == 302
    north = Network.objects.get(pk=cast.network.pk)
    assert north.community_published_by == cast.admin_a and north.community_published_at
    assert AuditEvent.objects.filter(action="community_publish", user=cast.admin_a).exists()

    public = anonymous.get(PUBLIC)
    assert public.status_code == 200
    assert "North County: community scorecard" in public.text
    assert "fewer than 11" in public.text and "32.4%" in public.text
    assert "Publish" not in public.text and "Staff sign in" in public.text
    assert _csv(anonymous.get(f"{PUBLIC}?table=agencies&format=csv"))[1][:3] == [
        "Alpha Recovery",
        "34",
        "11",
    ]
    assert anonymous.get(f"{PUBLIC}?quarter=2026-Q2").status_code == 400
    # The other network's is not published by this: its slug stays a 404.
    assert anonymous.get("/directory/community/south/").status_code == 404
    assert "Published on the public directory since" in admin.get(PAGE).text

    client_for(cast.admin_b).post(f"{PAGE}publish/", {"publish": "0"})  # any of its admins
    assert anonymous.get(PUBLIC).status_code == 404


def test_the_api_gives_the_suppressed_figures_and_refuses_bad_periods(cast, network):  # noqa: F811
    raw = api_token_create(user=cast.auditor, agency=cast.agency_a)[1]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = api.get("/api/v1/reports/community?quarter=2026-Q1").json()
    assert (body["quarter"], body["start"], body["threshold"]) == ("2026-Q1", "2026-01-01", 11)
    assert body["between"]["total"] == {"value": 21, "shown": "21"}
    pairs = {(p["sender"], p["receiver"]): p["referrals"] for p in body["between"]["pairs"]}
    assert pairs[("Bravo Treatment", "Alpha Recovery")] == {"value": None, "shown": "fewer than 11"}
    assert pairs[("Alpha Recovery", "Bravo Treatment")] == {"value": None, "shown": "hidden"}
    alpha = body["agencies"][0]
    assert alpha["receipt_rate"] == {"value": 32.4, "shown": "32.4%"}
    assert alpha["outcome"] == {"value": None, "shown": "hidden"}
    assert body["network_total"]["outcome_rate"]["value"] == 73.9
    needs = {row["need"]: row for row in body["needs"]}
    assert needs["Counseling / therapy"]["no_capacity"]["value"] == 13
    assert needs["No need recorded"]["need_id"] is None
    assert len(body["capacity"]) == 14 and body["capacity"][0]["share"] == 100.0
    assert api.get("/api/v1/reports/community").json()["quarter"] == "2026-Q1"
    refused = api.get("/api/v1/reports/community?start=2026-03-31&end=2026-01-01")
    assert refused.status_code == 400 and refused.json()["field"] == "start"
    assert api.get("/api/v1/reports/community?quarter=2026-Q2").status_code == 400
    assert api.get("/api/v1/reports/community?quarter=bad").status_code == 422


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_page_and_the_api_take_a_fixed_number_of_queries(
    cast,
    network,  # noqa: F811
    django_assert_max_num_queries,
):
    client = client_for(cast.coordinator)
    raw = api_token_create(user=cast.coordinator, agency=cast.agency_a)[1]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.get(PAGE)
    api.get("/api/v1/reports/community")
    page, answer = _queries(client, PAGE), _queries(api, "/api/v1/reports/community")
    # More referrals, needs, agencies' pairs and capacity readings: the same queries.
    n = network
    n.batch(4, sender=n.bravo, service=n.harbor_food, need="food", day=60, fate="received")
    n.batch(
        2,
        sender=n.alpha,
        service=n.bravo_house,
        need="housing",
        day=61,
        fate="completed",
        receiver=n.bravo,
    )
    assert _queries(client, PAGE) == page
    assert _queries(api, "/api/v1/reports/community") == answer
    with django_assert_max_num_queries(15):
        client.get(PAGE)
    with django_assert_max_num_queries(15):
        client.get(f"{PAGE}?table=between&format=xlsx")
