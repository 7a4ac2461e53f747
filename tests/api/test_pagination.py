"""Cursor pagination: pages by position in the list's order, stable while rows come and go; a
cursor only continues the list (agency, path, filters) it came from; constant query counts."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referloop.core.pagination import CursorPagination, Ranked
from referloop.core.services import api_token_create
from referloop.referrals.models import Referral
from tests.partners import factories as partner_factories
from tests.referrals import factories

CLIENTS = "/api/v1/clients"


def token(user, agency) -> str:
    return api_token_create(user=user, agency=agency)[1]


def get(path, raw, **params):
    return HttpClient().get(path, params, headers={"Authorization": f"Bearer {raw}"})


def every_page(path, raw, limit, between=None, **params) -> list[list[str]]:
    """Each page's display names, following next_cursor to the end; `between(n)` runs after
    page n."""
    pages, cursor = [], None
    while True:
        extra = {"cursor": cursor} if cursor else {}
        body = get(path, raw, limit=limit, **params, **extra).json()
        pages.append([item.get("display_name") or item["id"] for item in body["items"]])
        if between:
            between(len(pages))
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def client_at(cast, name, moment, agency=None):
    with time_machine.travel(moment, tick=False):
        return factories.client(agency=agency or cast.agency_a, first_name=name, last_name="X")


def test_rows_inserted_while_paging_move_no_row_between_pages(cast):
    """Newest first: a client recorded after page 1 is before the cursor, so not repeated or
    shifting; one backdated into the unseen part shows up once."""
    start = timezone.now() - timedelta(days=30)
    for day in range(6):
        client_at(cast, f"Day{day}", start + timedelta(days=day))
    raw = token(cast.coordinator, cast.agency_a)

    def insert(page):
        if page == 1:
            factories.client(agency=cast.agency_a, first_name="Newest", last_name="X")
            client_at(cast, "Between", start + timedelta(days=2, hours=12))

    pages = every_page(CLIENTS, raw, 2, between=insert)

    assert pages == [
        ["Day5 X", "Day4 X"],
        ["Day3 X", "Between X"],
        ["Day2 X", "Day1 X"],
        ["Day0 X"],
    ]


def test_rows_of_the_same_time_are_ordered_by_id_and_each_listed_once(cast):
    moment = timezone.now() - timedelta(days=1)
    made = [client_at(cast, f"Same{n}", moment) for n in range(5)]
    raw = token(cast.coordinator, cast.agency_a)

    pages = every_page(CLIENTS, raw, 2)

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [name for page in pages for name in page] == [f"Same{n} X" for n in reversed(range(5))]
    assert len({client.created_at for client in made}) == 1


def test_a_deleted_row_does_not_shift_the_next_page(cast):
    start = timezone.now() - timedelta(days=10)
    made = [client_at(cast, f"Day{day}", start + timedelta(days=day)) for day in range(5)]
    raw = token(cast.coordinator, cast.agency_a)
    first = get(CLIENTS, raw, limit=2).json()

    made[4].delete()  # on the page already read

    second = get(CLIENTS, raw, limit=2, cursor=first["next_cursor"]).json()
    assert [item["display_name"] for item in second["items"]] == ["Day2 X", "Day1 X"]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "eyJ4IjoxfQ",  # base64 JSON, unsigned
        "W1t7InQiOiIyMDI2LTAxLTAxIn1dXQ:1vABCD:abcdefghijklmnopqrstuvwxyz0",
    ],
)
def test_a_cursor_that_is_not_one_is_a_422_naming_cursor(cast, cursor):
    raw = token(cast.coordinator, cast.agency_a)
    response = get(CLIENTS, raw, cursor=cursor)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "cursor"]
    assert "not a cursor of this list" in error["msg"]


def _next_cursor(cast, path, raw, **params) -> str:
    for number in range(3):
        client_at(cast, f"Page{number}", timezone.now() - timedelta(days=number + 1))
    cursor = get(path, raw, limit=1, **params).json()["next_cursor"]
    assert cursor
    return cursor


def test_an_edited_cursor_is_refused(cast):
    raw = token(cast.coordinator, cast.agency_a)
    cursor = _next_cursor(cast, CLIENTS, raw)
    edited = cursor[:3] + ("A" if cursor[3] != "A" else "B") + cursor[4:]
    assert get(CLIENTS, raw, cursor=edited).status_code == 422


def test_a_cursor_continues_only_its_own_list_and_filters(cast):
    raw = token(cast.coordinator, cast.agency_a)
    cursor = _next_cursor(cast, CLIENTS, raw)
    referral = factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator)
    factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator, name="Second")

    assert get(CLIENTS, raw, cursor=cursor).status_code == 200
    assert get("/api/v1/referrals", raw, cursor=cursor).status_code == 422
    assert get("/api/v1/members", raw, cursor=cursor).status_code == 422
    timeline = f"/api/v1/referrals/{referral.pk}/timeline"
    assert get(timeline, raw, cursor=cursor).status_code == 422
    by_status = get("/api/v1/referrals", raw, limit=1, status="requested").json()["next_cursor"]
    assert get("/api/v1/referrals", raw, status="requested", cursor=by_status).status_code == 200
    refused = get("/api/v1/referrals", raw, status="draft", cursor=by_status)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_another_agencys_cursor_is_refused_and_pages_stay_in_the_agency(cast):
    """Agency B cannot continue A's list with A's cursor; paging B's own list never reaches A."""
    raw_a = token(cast.coordinator, cast.agency_a)
    raw_b = token(cast.admin_b, cast.agency_b)
    cursor_a = _next_cursor(cast, CLIENTS, raw_a)
    for number in range(3):
        client_at(cast, f"Bravo{number}", timezone.now(), agency=cast.agency_b)

    refused = get(CLIENTS, raw_b, cursor=cursor_a)

    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "cursor"]
    pages = every_page(CLIENTS, raw_b, 1)
    assert pages == [["Bravo2 X"], ["Bravo1 X"], ["Bravo0 X"]]


def test_a_later_page_costs_the_same_queries_for_3_or_30_rows(cast, django_assert_max_num_queries):
    raw = token(cast.coordinator, cast.agency_a)
    start = timezone.now() - timedelta(days=60)

    def add(first, count):
        for day in range(first, first + count):
            client_at(cast, f"Day{day}", start + timedelta(days=day))

    def second_page():
        cursor = get(CLIENTS, raw, limit=2).json()["next_cursor"]
        with CaptureQueriesContext(connection) as captured:
            response = get(CLIENTS, raw, limit=2, cursor=cursor)
        assert response.status_code == 200
        return len(captured), response.json()

    add(0, 3)
    with time_machine.travel(timezone.now(), tick=False):
        get(CLIENTS, raw)  # the token's first use writes its last_used_at
        baseline, _ = second_page()
        add(3, 27)
        cursor = get(CLIENTS, raw, limit=20).json()["next_cursor"]
        with django_assert_max_num_queries(baseline):
            body = get(CLIENTS, raw, limit=2, cursor=cursor).json()
    assert body["count"] == 30
    assert [item["display_name"] for item in body["items"]] == ["Day9 X", "Day8 X"]


def test_a_ranked_list_pages_by_its_key(cast):
    """The partner list is ranked in Python (here by name): its pages follow the same key."""
    for name in ("Delta House", "alpha clinic", "Charlie Court", "Bravo Hall"):
        partner_factories.relationship(agency=cast.agency_a, actor=cast.coordinator, name=name)
    raw = token(cast.coordinator, cast.agency_a)
    path = "/api/v1/partners/relationships"

    pages, cursor = [], None
    while True:
        extra = {"cursor": cursor} if cursor else {}
        body = get(path, raw, limit=3, sort="name", **extra).json()
        pages.append([item["organization"]["name"] for item in body["items"]])
        if len(pages) == 1:  # one among the rows read already, one after them
            partner_factories.relationship(agency=cast.agency_a, name="Beech Lodge")
            partner_factories.relationship(agency=cast.agency_a, name="Echo Point")
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == [
        ["alpha clinic", "Bravo Hall", "Charlie Court"],
        ["Delta House", "Echo Point"],
    ]
    other_sort = get(path, raw, limit=3, sort="name").json()["next_cursor"]
    assert get(path, raw, sort="received", cursor=other_sort).status_code == 422


def _page(queryset, request, *, limit, cursor=None):
    given = CursorPagination.Input.model_validate(
        {"limit": limit, **({"cursor": cursor} if cursor else {})}, context={"request": request}
    )
    return CursorPagination().paginate_queryset(queryset, given, request)


@pytest.mark.parametrize("order", ["next_due_at", "-next_due_at"])
def test_a_column_that_may_be_null_pages_with_its_nulls_last(cast, order):
    """Each database puts nulls where it likes unless told: they go last, on both."""
    for sent in (False, False, True, True, True):
        factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator, sent=sent)
    request = RequestFactory().get("/api/v1/referrals")
    request.agency = cast.agency_a
    rows = Referral.objects.for_agency(cast.agency_a).order_by(order)

    seen, cursor = [], None
    while True:
        page = _page(rows, request, limit=2, cursor=cursor)
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert sorted(r.pk for r in seen) == sorted(rows.values_list("pk", flat=True))
    dues = [r.next_due_at for r in seen]
    assert dues[3:] == [None, None]
    assert dues[:3] == sorted(dues[:3], reverse=order.startswith("-"))


def test_a_ranked_list_with_a_key_of_other_types_is_refused(cast):
    request = RequestFactory().get("/api/v1/anything")
    request.agency = cast.agency_a
    named = Ranked([(("a", 1), "first"), (("b", 2), "second")])
    cursor = _page(named, request, limit=1)["next_cursor"]
    counted = Ranked([((1, 1), "first"), ((2, 2), "second")])

    with pytest.raises(Exception, match="cursor") as refused:
        _page(counted, request, limit=1, cursor=cursor)
    assert refused.value.errors[0]["loc"] == ["query", "cursor"]
