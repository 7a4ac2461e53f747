"""The partner scorecards beyond the referral numbers (tested with the metrics): the share of the
period a worked relationship kept its contact cadence, hand-checked to the hour, and the top
referrers over time by month; the page's tables and exports, and the scorecards API."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.test import Client

from referloop.core.services import api_token_create
from referloop.partners.models import Relationship, Stage
from referloop.partners.services import interaction_log, relationship_ensure
from referloop.reports import metrics, scorecards
from referloop.stays.services import (
    InboundData,
    application_record,
    inbound_create,
    stay_move_in,
)
from tests.conftest import client_for
from tests.referrals import factories
from tests.reports.test_metrics import _at, clock, timeline  # noqa: F401

pytestmark = pytest.mark.django_db

MARCH = "start=2026-03-01&end=2026-03-31"


def _query(cast, start, end):
    return metrics.MetricsQuery(agency=cast.agency_a, period=metrics.Period(start, end))


@pytest.fixture
def cadence(cast, timeline):  # noqa: F811
    """Harbor worked (a prospect: a contact every 14 days) since February, contacted on March 2
    and March 20 at 15:00 UTC; Lakeside worked, never contacted; a third partner dormant."""
    t = timeline["t"]
    harbor = relationship_ensure(agency=cast.agency_a, organization=t.organization)
    lakeside = relationship_ensure(agency=cast.agency_a, organization=t.other)
    dormant_org, _ = factories.partner(network=cast.network, name="Quiet Pines")
    dormant = relationship_ensure(agency=cast.agency_a, organization=dormant_org)
    Relationship.objects.filter(pk__in=[harbor.pk, lakeside.pk, dormant.pk]).update(
        created_at=_at(-30)
    )
    Relationship.objects.filter(pk=dormant.pk).update(stage=Stage.DORMANT)
    for days in (0, 18):
        harbor.refresh_from_db()
        interaction_log(
            relationship=harbor, actor=cast.coordinator, kind="call", occurred_at=_at(days)
        )
    return {"harbor": t.organization, "lakeside": t.other, "dormant": dormant_org}


def test_the_share_of_the_period_within_the_cadence(cast, cadence):
    cards = {
        card.name: card
        for card in scorecards.partner_scorecards(_query(cast, date(2026, 3, 1), date(2026, 3, 31)))
    }
    # March in Chicago: Mar 1 06:00 UTC to Apr 1 05:00 UTC (DST on the 8th) = 743 hours.
    # Kept: Mar 2 15:00 + 14 days = 336 h, and Mar 20 15:00 to Apr 1 05:00 = 278 h: 614 / 743.
    assert cards["Harbor"].cadence == 82.6
    assert cards["Lakeside"].cadence == 0.0  # worked, never contacted
    # A dormant relationship is not worked: it has no cadence, and no card without referrals.
    assert "Quiet Pines" not in cards


def test_a_worked_partner_with_no_referrals_still_has_a_card(cast, cadence):
    newcomer = relationship_ensure(
        agency=cast.agency_a, organization=factories.partner(network=cast.network, name="Oak")[0]
    )
    Relationship.objects.filter(pk=newcomer.pk).update(created_at=_at(16))  # March 18
    cards = {
        card.name: card
        for card in scorecards.partner_scorecards(_query(cast, date(2026, 3, 1), date(2026, 3, 31)))
    }
    assert cards["Oak"].sent == 0 and cards["Oak"].cadence == 0.0


def test_top_referrers_by_month(cast, clock):  # noqa: F811
    harbor, _ = factories.partner(network=cast.network, name="Harbor")
    lakeside, _ = factories.partner(network=cast.network, name="Lakeside")
    person = factories.client(agency=cast.agency_a, actor=cast.coordinator)
    for organization, day in (
        (harbor, date(2026, 3, 3)),
        (harbor, date(2026, 3, 31)),
        (harbor, date(2026, 4, 2)),
        (lakeside, date(2026, 3, 10)),
        (lakeside, date(2026, 2, 27)),  # before the period
    ):
        inbound_create(
            agency=cast.agency_a,
            actor=cast.coordinator,
            data=InboundData(client=person, source_organization=organization, referred_on=day),
        )
    trend = scorecards.top_referrers(_query(cast, date(2026, 3, 1), date(2026, 4, 30)))
    assert trend.buckets == [date(2026, 3, 1), date(2026, 4, 1)] and not trend.quarterly
    assert trend.rows == [("Harbor", [2, 1], 3), ("Lakeside", [1, 0], 1)]
    assert scorecards.top_referrers(
        _query(cast, date(2026, 3, 1), date(2026, 4, 30)), limit=1
    ).rows == [("Harbor", [2, 1], 3)]
    long = scorecards.top_referrers(_query(cast, date(2025, 1, 15), date(2026, 4, 30)))
    assert long.quarterly and long.buckets[0] == date(2025, 1, 1)
    assert long.buckets[-1] == date(2026, 4, 1)
    assert ("Lakeside", [0, 0, 0, 0, 2, 0], 2) in long.rows  # Feb 27 and Mar 10: Q1 2026


def test_the_page_shows_cadence_and_referrers_and_exports_both(cast, cadence):
    client = client_for(cast.coordinator)
    page = client.get(f"/reports/partners/?{MARCH}")
    assert "82.6%" in page.text and "Top referrers over time" in page.text
    assert "Cadence kept" in page.text and "not worked" not in page.text
    by_cadence = client.get(f"/reports/partners/?{MARCH}&sort=cadence").text
    assert "Cadence kept ▾" in by_cadence
    assert by_cadence.index("Harbor") < by_cadence.index("Lakeside")
    sheet = client.get(f"/reports/partners/?{MARCH}&format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(sheet.streaming_content).decode("utf-8-sig"))))
    assert rows[0][-1] == "Cadence kept %" and [rows[1][0], rows[1][-1]] == ["Harbor", "82.6"]
    referrers = client.get(f"/reports/partners/?{MARCH}&table=referrers&format=csv")
    table = list(csv.reader(io.StringIO(b"".join(referrers.streaming_content).decode("utf-8-sig"))))
    assert table == [["Partner", "2026-03", "Total"]]  # nobody referred anyone to us


def test_the_scorecards_api(cast, cadence):
    raw = api_token_create(user=cast.coordinator, agency=cast.agency_a)[1]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = api.get(f"/api/v1/reports/scorecards?{MARCH}&sort=name").json()
    assert [card["name"] for card in body["cards"]] == ["Harbor", "Lakeside"]
    harbor = body["cards"][0]
    assert (harbor["sent"], harbor["receipt_rate"], harbor["cadence"]) == (
        7,
        57.1,
        82.6,
    )  # March: the 20th too
    assert (harbor["receipt_days"], harbor["outcome_days"]) == (1.0, 5.8)
    assert body["referrer_buckets"] == ["2026-03-01"] and body["top_referrers"] == []
    refused = api.get("/api/v1/reports/scorecards?start=2026-03-08&end=2026-03-02")
    assert refused.status_code == 400 and refused.json()["field"] == "start"
    unsorted = api.get(f"/api/v1/reports/scorecards?{MARCH}&sort=shoe-size")
    assert unsorted.status_code == 422
    other = api_token_create(user=cast.admin_b, agency=cast.agency_b)[1]
    theirs = Client(HTTP_AUTHORIZATION=f"Bearer {other}").get(f"/api/v1/reports/scorecards?{MARCH}")
    assert theirs.json()["cards"] == []


def test_days_and_hours_of_a_period_cut_short_by_today(cast, cadence, clock):  # noqa: F811
    # Asked on May 1 at 15:00 UTC for all of May: only the hours so far count (10 of them
    # since midnight in Chicago), and Harbor's last contact (March 20) covers none.
    clock.move_to(_at(60) + timedelta(minutes=1), tick=False)
    cards = {
        card.name: card
        for card in scorecards.partner_scorecards(_query(cast, date(2026, 5, 1), date(2026, 5, 31)))
    }
    assert cards["Harbor"].cadence == 0.0


def test_the_funnel_of_people_referred_to_us(cast, clock):  # noqa: F811
    harbor, _ = factories.partner(network=cast.network, name="Harbor")
    lakeside, _ = factories.partner(network=cast.network, name="Lakeside")
    referred = []
    for organization, day in ((harbor, 3), (harbor, 4), (lakeside, 5), (lakeside, 6)):
        person = factories.client(agency=cast.agency_a, actor=cast.coordinator)
        referred.append(
            inbound_create(
                agency=cast.agency_a,
                actor=cast.coordinator,
                data=InboundData(
                    client=person, source_organization=organization, referred_on=date(2026, 3, day)
                ),
            )
        )
    for inbound in referred[:3]:
        application_record(inbound=inbound, actor=cast.coordinator, status="applied")
    stay_move_in(
        agency=cast.agency_a,
        actor=cast.coordinator,
        inbound=referred[0],
        move_in_on=date(2026, 3, 9),
    )
    cards = scorecards.partner_scorecards(_query(cast, date(2026, 3, 1), date(2026, 3, 31)))
    funnel = scorecards.inbound_funnel(cards)
    assert [(s.label, s.count, s.share) for s in funnel] == [
        ("Referred to us", 4, 100.0),
        ("Applied", 3, 75.0),
        ("Admitted", 1, 25.0),
    ]
    assert [s.share for s in scorecards.inbound_funnel([])] == [None, None, None]

    page = client_for(cast.coordinator).get(f"/reports/partners/?{MARCH}").text
    assert 'aria-labelledby="funnel-title funnel-desc"' in page
    assert "Referred to us: 4; Applied: 3; Admitted: 1" in page
    assert "<td>3</td><td>75.0%</td>" in page  # the table behind the chart
    empty = client_for(cast.coordinator).get("/reports/partners/?start=2026-01-01&end=2026-01-31")
    assert "funnel-title" not in empty.text and "Nobody was referred to us" in empty.text
