"""Capacity over time: the readings of a span (with the count in force when it began), the step
chart drawn from them, the service page's charts and table, and the API route."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referloop.core.charts import step_chart
from referloop.core.services import api_token_create
from referloop.directory import selectors
from referloop.directory.models import ServiceCapacity
from referloop.directory.templatetags.directory_tags import capacity_chart
from tests.conftest import client_for
from tests.directory import factories

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def harbor(cast):
    organization = factories.organization(
        network=cast.network, agency=cast.agency_a, name="Harbor House"
    )
    return factories.service(organization=organization, name="Harbor House Bridge")


def _counts(service, *days_ago_and_available, unit="beds", maximum=10, now=T0):
    for days_ago, available in days_ago_and_available:
        factories.capacity(
            service=service,
            unit=unit,
            available=available,
            maximum=maximum,
            at=now - timedelta(days=days_ago),
        )


# --- the readings of a span --------------------------------------------------------------------


def test_a_span_has_its_readings_and_the_count_in_force_when_it_began(cast, harbor):
    _counts(harbor, (120, 1), (100, 2), (60, 5), (10, 4))
    _counts(harbor, (5, 3), unit="slots", maximum=None)
    unlisted = ServiceCapacity.objects.create(
        network=cast.network, service=harbor, unit="appointments", available=2
    )
    other = factories.service(organization=harbor.organization, name="Other program")
    _counts(other, (50, 9))
    capacities = list(harbor.capacities.order_by("unit"))

    with CaptureQueriesContext(connection) as queries:
        span = selectors.capacity_history(capacities=capacities, days=90, now=T0)
    assert len(queries) == 1
    assert (span.since, span.until, span.days) == (T0 - timedelta(days=90), T0, 90)
    by_unit = {history.capacity.unit: history for history in span.units}
    assert [history.capacity.unit for history in span.units] == ["appointments", "beds", "slots"]

    beds = by_unit["beds"]
    assert beds.before.available == 2  # set 100 days ago, still the count 90 days ago
    assert [(r.available, r.recorded_at) for r in beds.readings] == [
        (5, T0 - timedelta(days=60)),
        (4, T0 - timedelta(days=10)),
    ]
    assert by_unit["slots"].before is None
    assert [r.available for r in by_unit["slots"].readings] == [3]
    assert by_unit["appointments"].capacity == unlisted
    assert (by_unit["appointments"].before, by_unit["appointments"].readings) == (None, [])

    year = selectors.capacity_history(capacities=capacities, days=365, now=T0)
    assert [r.available for r in year.units[1].readings] == [1, 2, 5, 4]
    assert year.units[1].before is None


def test_the_demo_history_ends_with_the_count_shown_now(cast):
    factories.demo_directory(network=cast.network, services=40, seed=2)
    capacities = ServiceCapacity.objects.filter(network=cast.network)
    assert capacities.exists()
    span = selectors.capacity_history(capacities=capacities, days=365)
    for history in span.units:
        capacity, last = history.capacity, history.readings[-1]
        # Five monthly counts (back past the last whole quarter), eight weekly, the current one.
        assert len(history.readings) == 14
        assert (last.available, last.recorded_at) == (capacity.available, capacity.updated_at)
        assert last.waitlist == capacity.waitlist


def test_no_capacities_need_no_query(db):
    with CaptureQueriesContext(connection) as queries:
        span = selectors.capacity_history(capacities=[], days=30, now=T0)
    assert (span.units, len(queries)) == ([], 0)


# --- the chart ---------------------------------------------------------------------------------


def test_a_step_chart_holds_each_value_until_the_next_and_scales_to_its_reference():
    chart = step_chart(
        chart_id="c1",
        steps=[(T0 - timedelta(days=1), 0), (T0 + timedelta(days=5), 4)],
        start=T0,
        end=T0 + timedelta(days=10),
        title="Beds free",
        description="Between 0 and 4 <beds>",
        reference=8,
        reference_label="maximum 8",
    )
    # 432 × 118 plot at (40, 16): the value before the start opens at the left edge, 0 on the
    # baseline, 4 half-way up a scale that runs to the maximum, held to the end.
    assert 'd="M40.0 134.0 H256.0 V75.0 H472.0"' in chart
    assert 'class="chart-reference"' in chart and "maximum 8" in chart
    assert 'role="img" aria-labelledby="c1-title c1-desc"' in chart
    assert '<desc id="c1-desc">Between 0 and 4 &lt;beds&gt;</desc>' in chart
    assert ">Mar 2</text>" in chart and ">Mar 12</text>" in chart
    assert step_chart(chart_id="c2", steps=[], start=T0, end=T0, title="", description="") == ""


def test_the_capacity_chart_says_what_it_shows(cast, harbor):
    _counts(harbor, (100, 2), (60, 5), (10, 4))
    span = selectors.capacity_history(capacities=harbor.capacities.all(), days=90, now=T0)
    chart = capacity_chart(span.units[0], span)
    assert '<title id="capacity-' in chart and "Beds free over the last 90 days</title>" in chart
    assert "Between 2 and 5 beds free over the last 90 days (2 updates); 4 of 10 free now." in chart
    assert "maximum 10" in chart

    none_yet = ServiceCapacity.objects.create(
        network=cast.network, service=harbor, unit="slots", available=1
    )
    empty = selectors.capacity_history(capacities=[none_yet], days=90, now=T0)
    assert capacity_chart(empty.units[0], empty) == ""


# --- the service page --------------------------------------------------------------------------


def test_the_service_page_charts_each_unit_with_its_updates(cast, harbor):
    now = timezone.now()
    _counts(harbor, (100, 2), (60, 5), (10, 4), now=now)
    client = client_for(cast.coordinator)

    page = client.get(f"/services/{harbor.pk}/").content.decode()
    assert "Over the last 90 days" in page
    assert '<svg class="chart"' in page and "Beds free over the last 90 days" in page
    assert "2 updates of the beds count" in page
    assert page.count("<tbody>") == 1 and page.count("<tr><td><time") == 2
    assert '<a href="?days=90#capacity-history" aria-current="true">' in page

    year = client.get(f"/services/{harbor.pk}/", {"days": "365"}).content.decode()
    assert "Over the last 365 days" in year and "3 updates of the beds count" in year
    # A span the page does not offer falls back to the default rather than failing.
    odd = client.get(f"/services/{harbor.pk}/", {"days": "7; drop"}).content.decode()
    assert "Over the last 90 days" in odd


def test_a_span_without_updates_says_what_count_held(cast, harbor):
    _counts(harbor, (200, 6), now=timezone.now())
    page = client_for(cast.coordinator).get(f"/services/{harbor.pk}/").content.decode()
    assert "0 updates of the beds count" in page
    assert "No updates in this span: 6 free since" in page


def test_the_page_makes_as_many_queries_for_many_updates_as_for_one(cast, harbor):
    client = client_for(cast.coordinator)
    now = timezone.now()
    _counts(harbor, (30, 1), now=now)
    client.get(f"/services/{harbor.pk}/")  # warm caches (session, policies)
    with CaptureQueriesContext(connection) as one:
        client.get(f"/services/{harbor.pk}/")
    _counts(harbor, *((day, day % 7) for day in range(1, 29)), now=now)
    _counts(harbor, (3, 2), unit="slots", now=now)
    with CaptureQueriesContext(connection) as many:
        page = client.get(f"/services/{harbor.pk}/").content.decode()
    assert "29 updates of the beds count" in page and "1 update of the slots count" in page
    assert len(many) == len(one)


def test_the_table_lists_the_newest_updates_and_the_chart_draws_them_all(cast, harbor):
    now = timezone.now()
    _counts(harbor, *((hour / 24, hour % 5) for hour in range(1, 71)), now=now)
    page = client_for(cast.coordinator).get(f"/services/{harbor.pk}/").content.decode()
    assert "70 updates of the beds count" in page
    assert page.count("<tr><td><time") == 60
    assert "And 10 earlier updates in the chart." in page
    span = selectors.capacity_history(capacities=harbor.capacities.all(), days=90, now=now)
    line = re.search(r'd="([^"]*)" class="chart-line"', capacity_chart(span.units[0], span))
    assert line.group(1).count(" V") == 69  # a step per change after the first


def test_an_update_in_place_shows_in_the_history_at_once(cast, harbor):
    _counts(harbor, (10, 4), now=timezone.now())
    client = client_for(cast.coordinator)
    panel = client.post(
        f"/services/{harbor.pk}/capacity/",
        {"unit": "beds", "available": "3", "maximum": "10"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "Capacity updated." in panel
    assert "2 updates of the beds count" in panel


def test_the_public_page_shows_the_count_but_not_its_history(client, cast, harbor):
    _counts(harbor, (10, 4), now=timezone.now())
    harbor.refresh_from_db()
    page = client.get(f"/directory/services/{harbor.hsds_id}/").content.decode()
    assert "4</strong> of 10 beds" in page
    assert "capacity-history" not in page and '<svg class="chart"' not in page


# --- the API -----------------------------------------------------------------------------------


def _history(raw, service, **params):
    return client_for(None).get(
        f"/api/v1/directory/services/{service.pk}/capacity/history",
        params,
        headers={"Authorization": f"Bearer {raw}"},
    )


def test_the_api_gives_each_unit_over_a_span(cast, harbor):
    _counts(harbor, (100, 2), (60, 5), (10, 4), now=timezone.now())
    raw = api_token_create(user=cast.coordinator, agency=cast.agency_a)[1]

    body = _history(raw, harbor).json()
    assert body["until"] > body["since"]
    [beds] = body["units"]
    assert (beds["unit"], beds["available"], beds["maximum"]) == ("beds", 4, 10)
    assert beds["in_force_at_since"]["available"] == 2
    assert [reading["available"] for reading in beds["readings"]] == [5, 4]

    month = _history(raw, harbor, days=30).json()["units"][0]
    assert month["in_force_at_since"]["available"] == 5
    assert [reading["available"] for reading in month["readings"]] == [4]


def test_the_api_history_is_the_networks_only_and_checks_its_span(cast, harbor):
    _counts(harbor, (10, 4), now=timezone.now())
    other_network = factories.service(
        organization=factories.organization(network=cast.other_network, agency=cast.agency_c)
    )
    raw = api_token_create(user=cast.coordinator, agency=cast.agency_a)[1]
    assert _history(raw, other_network).status_code == 404
    assert _history(raw, harbor, days=0).status_code == 422
    assert _history(raw, harbor, days="a week").status_code == 422
    assert (
        client_for(None).get(f"/api/v1/directory/services/{harbor.pk}/capacity/history").status_code
        == 401
    )
    # Another agency of the same network sees the shared directory's history.
    raw_b = api_token_create(user=cast.admin_b, agency=cast.agency_b)[1]
    assert _history(raw_b, harbor).json()["units"][0]["available"] == 4


def test_the_api_history_makes_as_many_queries_for_many_updates_as_for_one(cast, harbor):
    raw = api_token_create(user=cast.coordinator, agency=cast.agency_a)[1]
    now = timezone.now()
    _counts(harbor, (40, 1), now=now)
    _history(raw, harbor)  # warm-up
    with CaptureQueriesContext(connection) as one:
        _history(raw, harbor)
    _counts(harbor, *((day, day % 5) for day in range(1, 31)), now=now)
    _counts(harbor, (2, 1), unit="slots", now=now)
    with CaptureQueriesContext(connection) as many:
        body = _history(raw, harbor).json()
    assert [len(unit["readings"]) for unit in body["units"]] == [31, 1]
    assert len(many) == len(one)
