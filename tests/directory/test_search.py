"""directory_search: hard filters, the reasons for each criterion, ranking, distance and ZIP codes,
full-text search on both engines (hostile input included) and a constant number of queries."""

import math
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referloop.core.errors import DomainError
from referloop.directory import fulltext
from referloop.directory.models import PostalCode, Service, Status
from referloop.directory.search import (
    DirectoryQuery,
    Origin,
    bounding_box,
    directory_search,
    great_circle_miles,
)
from tests.directory import factories

SPRINGFIELD = (39.8017, -89.6436)  # downtown Springfield, IL (ZIP 62701 is ~0.3 mi away)
CHATHAM = (39.6761, -89.7043)  # ~9 miles south-west
PETERSBURG = (40.0117, -89.8482)  # ~18 miles north-west
PEORIA = (40.6936, -89.5890)  # ~62 miles north


def search(network, **criteria):
    return directory_search(network=network, query=DirectoryQuery(**criteria))


def only(page, name):
    (result,) = [r for r in page.results if r.service.name == name]
    return result


def names(page):
    return [result.service.name for result in page.results]


@pytest.fixture
def org(cast):
    return factories.organization(network=cast.network, agency=cast.agency_a, name="Riverbend")


@pytest.fixture
def zips(db):
    factories.postal_code("62701", 39.8000, -89.6495, city="Springfield", state="IL")
    factories.postal_code("61602", 40.6936, -89.5890, city="Peoria", state="IL")


# --- hard filters ------------------------------------------------------------------------------


def test_everything_active_in_the_network_by_name_when_nothing_is_asked(cast, org):
    factories.service(organization=org, name="Bravo detox")
    factories.service(organization=org, name="Alpha counseling")
    factories.service(organization=org, name="Closed house", status=Status.TEMPORARILY_CLOSED)
    factories.service(organization=org, name="Gone", status=Status.DEFUNCT)
    other = factories.organization(network=cast.other_network, name="Elsewhere")
    factories.service(organization=other, name="Other network")

    page = search(cast.network)

    assert names(page) == ["Alpha counseling", "Bravo detox"]
    assert page.total == 2 and page.page == 1 and page.num_pages == 1
    assert all(not r.failed for r in page.results)


def test_no_network_means_every_network(cast, org):
    factories.service(organization=org, name="North")
    factories.service(organization=factories.organization(network=cast.other_network), name="South")
    assert names(search(None)) == ["North", "South"]


def test_inactive_only_when_asked_and_then_ranked_below_with_a_reason(cast, org):
    factories.service(organization=org, name="Open")
    factories.service(organization=org, name="Aaa closed", status=Status.TEMPORARILY_CLOSED)

    assert names(search(cast.network)) == ["Open"]
    page = search(cast.network, include_inactive=True)
    assert names(page) == ["Open", "Aaa closed"]
    assert only(page, "Aaa closed").failed == ["✗ temporarily closed"]


def test_need_is_a_hard_filter_with_its_reason(cast, org):
    factories.service(organization=org, name="Detox", needs=["detox", "addiction-treatment"])
    factories.service(organization=org, name="Food pantry", needs=["food"])

    page = search(cast.network, need="detox")

    assert names(page) == ["Detox"]
    assert "✓ Detox / withdrawal management" in page.results[0].matched


def test_unknown_term_codes_are_errors_naming_the_field(cast, org):
    for field in ("need", "population", "insurance"):
        with pytest.raises(DomainError) as error:
            search(cast.network, **{field: "no-such-thing"})
        assert error.value.field == field
        assert "no-such-thing" in error.value.message


def test_has_capacity_keeps_only_services_with_a_place_free(cast, org):
    free = factories.service(organization=org, name="Free")
    full = factories.service(organization=org, name="Full")
    factories.service(organization=org, name="Unknown")
    factories.capacity(service=free, available=3, maximum=10)
    factories.capacity(service=full, available=0, maximum=10, waitlist=True)

    page = search(cast.network, has_capacity=True)

    assert names(page) == ["Free"]
    assert "✓ 3 beds available" in page.results[0].matched
    everything = search(cast.network)
    assert "no beds free now: waitlist" in only(everything, "Full").notes


# --- soft criteria and their reasons -----------------------------------------------------------


def test_age_reasons(cast, org):
    factories.service(organization=org, name="Adults", minimum_age=18, maximum_age=65)
    factories.service(organization=org, name="Youth", maximum_age=17)
    factories.service(organization=org, name="Anyone")
    factories.service(organization=org, name="Seniors", minimum_age=55)

    page = search(cast.network, age=17)
    assert only(page, "Adults").failed == ["✗ age 17 below minimum 18"]
    assert "✓ ages up to 17" in only(page, "Youth").matched
    assert "✓ no age limits listed" in only(page, "Anyone").matched
    assert only(page, "Seniors").failed == ["✗ age 17 below minimum 55"]

    page = search(cast.network, age=30)
    assert "✓ ages 18–65" in only(page, "Adults").matched
    assert only(page, "Youth").failed == ["✗ age 30 above maximum 17"]
    assert names(page)[-2:] == ["Seniors", "Youth"]  # the failures come last

    page = search(cast.network, age=70)
    assert "✓ ages 55 and up" in only(page, "Seniors").matched


def test_gender_counts_only_for_gender_specific_programs(cast, org):
    factories.service(organization=org, name="Women's house", genders_served=["female"])
    factories.service(organization=org, name="Men's house", genders_served=["Male"])
    factories.service(organization=org, name="Open house")

    page = search(cast.network, gender="female")

    assert "✓ women's program" in only(page, "Women's house").matched
    assert only(page, "Men's house").failed == ["✗ serves men only"]
    open_house = only(page, "Open house")
    assert not open_house.failed
    assert "gender not considered: the program is open to all genders" in open_house.notes
    assert names(page)[-1] == "Men's house"

    page = search(cast.network, gender="nonbinary")
    assert only(page, "Women's house").failed == ["✗ serves women only"]


def test_population_insurance_and_court_ordered_reasons(cast, org):
    factories.service(
        organization=org,
        name="Vet center",
        populations=["veterans"],
        payment=["medicaid"],
        court_ordered_accepted=True,
    )
    factories.service(organization=org, name="Private clinic", court_ordered_accepted=False)
    factories.service(organization=org, name="Unknown rules")

    page = search(cast.network, population="veterans", insurance="medicaid", court_ordered=True)

    vet = only(page, "Vet center")
    assert {"✓ serves veterans", "✓ takes Medicaid", "✓ accepts court-ordered clients"} <= set(
        vet.matched
    )
    assert vet.failed == [] and vet.score == 100
    private = only(page, "Private clinic")
    assert private.failed == [
        "✗ does not list Medicaid",
        "✗ does not accept court-ordered clients",
    ]
    assert "? does not list veterans among the people it serves" in private.notes
    unknown = only(page, "Unknown rules")
    assert unknown.failed == ["✗ does not list Medicaid"]
    assert "? court-ordered acceptance unknown" in unknown.notes
    # Fewer failures first; the same failures: fewer unknowns first.
    assert names(page) == ["Vet center", "Unknown rules", "Private clinic"]
    assert vet.score > unknown.score > private.score


def test_language_reasons(cast, org):
    factories.service(organization=org, name="Bilingual", languages=["en", "es"])
    factories.service(organization=org, name="English only", languages=["en"])
    factories.service(organization=org, name="Not listed")

    page = search(cast.network, language="es")

    assert "✓ Spanish" in only(page, "Bilingual").matched
    assert only(page, "English only").failed == ["✗ no Spanish listed (offers English)"]
    assert "? languages not listed: Spanish unknown" in only(page, "Not listed").notes
    assert names(page) == ["Bilingual", "Not listed", "English only"]


def test_language_subtags_match_their_language(cast, org):
    factories.service(organization=org, name="Mexican Spanish", languages=["es-MX"])
    assert "✓ Spanish" in only(search(cast.network, language="ES"), "Mexican Spanish").matched


def test_capacity_reasons_and_stale_counts(cast, org):
    one = factories.service(organization=org, name="One bed")
    slots = factories.service(organization=org, name="Slots")
    factories.capacity(service=one, available=1, maximum=4)
    factories.capacity(
        service=slots, unit="slots", available=0, at=timezone.now() - timedelta(days=12)
    )

    page = search(cast.network)

    assert "✓ 1 bed available" in only(page, "One bed").matched
    assert only(page, "Slots").notes == [
        "no slots free now",
        "? slot count is 12 days old (may be out of date)",
    ]
    fresher = directory_search(network=cast.network, query=DirectoryQuery(), capacity_stale_days=30)
    assert only(fresher, "Slots").notes == ["no slots free now"]


# --- distance and ZIP codes --------------------------------------------------------------------


def test_distance_filters_ranks_and_explains(cast, org):
    factories.service(organization=org, name="Chatham", at=CHATHAM)
    factories.service(organization=org, name="Downtown", at=SPRINGFIELD)
    factories.service(organization=org, name="Petersburg", at=PETERSBURG)
    factories.service(organization=org, name="Peoria", at=PEORIA)
    factories.service(organization=org, name="No address")

    page = search(cast.network, near_lat=SPRINGFIELD[0], near_lon=SPRINGFIELD[1])

    assert names(page) == ["Downtown", "Chatham", "Petersburg"]  # default 25 miles
    assert page.origin.within_miles == 25
    chatham = only(page, "Chatham")
    assert 8 < chatham.distance_miles < 10
    assert f"✓ {chatham.distance_miles:.1f} mi away" in chatham.matched
    assert chatham.location.name == "Riverbend site"
    assert chatham.address.city == "Springfield"
    assert only(page, "Downtown").distance_miles == 0.0

    wide = search(cast.network, near_lat=SPRINGFIELD[0], near_lon=SPRINGFIELD[1], within_miles=100)
    assert names(wide) == ["Downtown", "Chatham", "Petersburg", "Peoria"]
    narrow = search(cast.network, near_lat=SPRINGFIELD[0], near_lon=SPRINGFIELD[1], within_miles=5)
    assert names(narrow) == ["Downtown"]


def test_the_nearest_of_several_locations_counts(cast, org):
    far = factories.location(organization=org, latitude=PEORIA[0], longitude=PEORIA[1])
    near = factories.location(organization=org, latitude=CHATHAM[0], longitude=CHATHAM[1])
    factories.service(organization=org, name="Two sites", locations=[far, near])

    page = search(cast.network, near_lat=SPRINGFIELD[0], near_lon=SPRINGFIELD[1], within_miles=200)

    assert page.total == 1
    assert page.results[0].location == near
    assert page.results[0].distance_miles < 10


def test_pages_near_a_point_are_the_nearest_whatever_the_first_circle(cast, org):
    # Three downtown and a cluster near the edge of the radius: the first circle (sized as if
    # the 17 were spread evenly) holds only the three, so pages come from widened circles.
    for number in range(3):
        factories.service(
            organization=org,
            name=f"Downtown {number}",
            at=(SPRINGFIELD[0] + number * 0.0005, SPRINGFIELD[1]),
        )
    for number in range(14):
        factories.service(
            organization=org,
            name=f"Edge {number:02}",
            at=(PETERSBURG[0] + number * 0.01, PETERSBURG[1]),
        )
    near = {"near_lat": SPRINGFIELD[0], "near_lon": SPRINGFIELD[1], "within_miles": 30}
    everything = search(cast.network, **near, per_page=100)
    assert len(everything.results) == everything.total == 17
    distances = [result.distance_miles for result in everything.results]
    assert distances == sorted(distances)

    paged = [search(cast.network, **near, per_page=5, page=n) for n in (1, 2, 3, 4)]

    assert [name for page in paged for name in names(page)] == names(everything)
    assert [(page.total, page.num_pages, page.more) for page in paged] == [(17, 4, False)] * 4


def test_a_search_near_a_point_counts_up_to_the_cap(cast, org, monkeypatch):
    monkeypatch.setattr("referloop.directory.search.COUNT_CAP", 4)
    for number in range(7):
        factories.service(
            organization=org,
            name=f"Site {number}",
            at=(SPRINGFIELD[0] + number * 0.01, SPRINGFIELD[1]),
        )
    near = {"near_lat": SPRINGFIELD[0], "near_lon": SPRINGFIELD[1], "per_page": 2}

    first = search(cast.network, **near)
    assert (first.total, first.more, first.num_pages) == (4, True, 2)
    assert names(first) == ["Site 0", "Site 1"] and first.has_next
    # A page past the count counts on to it.
    third = search(cast.network, **near, page=3)
    assert names(third) == ["Site 4", "Site 5"]
    assert (third.total, third.more, third.page, third.has_next) == (6, True, 3, True)
    last = search(cast.network, **near, page=4)
    assert names(last) == ["Site 6"]
    assert (last.total, last.more, last.has_next) == (7, False, False)
    # Without a point the count is exact.
    assert (search(cast.network, per_page=2).total, search(cast.network).more) == (7, False)


def test_fit_comes_before_distance_then_freshness_then_name(cast, org):
    now = timezone.now()
    factories.service(organization=org, name="Near but too old", at=SPRINGFIELD, maximum_age=25)
    factories.service(organization=org, name="Far fits", at=PETERSBURG)
    factories.service(organization=org, name="Zeta fresh", at=CHATHAM, last_verified_at=now)
    factories.service(
        organization=org, name="Alpha stale", at=CHATHAM, last_verified_at=now - timedelta(days=90)
    )
    factories.service(organization=org, name="Beta never", at=CHATHAM)

    page = search(cast.network, near_lat=SPRINGFIELD[0], near_lon=SPRINGFIELD[1], age=40)

    assert names(page) == [
        "Zeta fresh",
        "Alpha stale",
        "Beta never",
        "Far fits",
        "Near but too old",
    ]


def test_freshness_ranks_without_a_point_too(cast, org):
    now = timezone.now()
    old = factories.service(
        organization=org, name="A old", last_verified_at=now - timedelta(days=9)
    )
    factories.service(organization=org, name="B verified", last_verified_at=now)
    factories.capacity(service=old, available=2, at=now + timedelta(seconds=1))

    assert names(search(cast.network)) == ["A old", "B verified"]  # capacity updated later


def test_zip_code_search(cast, org, zips):
    factories.service(organization=org, name="Downtown", at=SPRINGFIELD)
    factories.service(organization=org, name="Peoria", at=PEORIA)

    page = search(cast.network, postal_code="62701")
    assert names(page) == ["Downtown"]
    assert page.origin.label == "ZIP 62701 (Springfield, IL)"

    page = search(cast.network, postal_code="61602-1234", within_miles=10)
    assert names(page) == ["Peoria"]


def test_unknown_zip_code_is_a_clear_error(cast, org):
    with pytest.raises(DomainError) as error:
        search(cast.network, postal_code="00000")
    assert error.value.field == "postal_code"
    assert "00000" in error.value.message
    with pytest.raises(DomainError) as error:
        search(cast.network, postal_code="6270")
    assert error.value.field == "postal_code"


def test_a_zip_missing_from_the_table_falls_back_to_the_package(cast, org):
    PostalCode.objects.filter(code="62704").delete()
    factories.service(organization=org, name="Downtown", at=SPRINGFIELD)
    assert names(search(cast.network, postal_code="62704")) == ["Downtown"]


def test_the_zip_migration_loads_the_package_table_and_can_run_again(db):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("referloop.directory.migrations.0004_postal_codes")
    PostalCode.objects.filter(code__in=["62701", "99546"]).delete()
    # What the migration uses of a schema editor (a real one cannot open inside a test's
    # transaction on SQLite).
    editor = SimpleNamespace(connection=connection, quote_name=connection.ops.quote_name)
    migration.load(apps, editor)
    migration.load(apps, editor)  # nothing twice: ON CONFLICT DO NOTHING

    assert PostalCode.objects.filter(country="US").count() > 40_000
    springfield = PostalCode.objects.get(code="62701")
    assert (springfield.city, springfield.state) == ("Springfield", "IL")
    assert abs(springfield.latitude - 39.8) < 0.1 and abs(springfield.longitude + 89.65) < 0.1


def test_distance_works_across_the_antimeridian(cast, org):
    factories.service(organization=org, name="East of 180", at=(51.88, -179.95))
    factories.service(organization=org, name="Far west", at=(51.88, 170.0))

    page = search(cast.network, near_lat=51.88, near_lon=179.95, within_miles=10)

    assert names(page) == ["East of 180"]
    assert page.results[0].distance_miles < 5


def test_the_bounding_box_holds_the_whole_circle():
    from referloop.directory.models import Location

    origin = Origin(39.8, -89.65, "here", 25)
    box = bounding_box(origin)
    for bearing in range(0, 360, 15):
        # A point 24.9 miles away in each direction must be inside the box.
        lat = 39.8 + 24.9 / 69.05 * math.cos(math.radians(bearing))
        lon = -89.65 + 24.9 / (69.17 * math.cos(math.radians(lat))) * math.sin(
            math.radians(bearing)
        )
        if great_circle_miles(39.8, -89.65, lat, lon) <= 25:
            assert _in_box(box, Location(latitude=lat, longitude=lon)), bearing


def _in_box(box, location) -> bool:
    def check(node) -> bool:
        results = []
        for child in node.children:
            if hasattr(child, "children"):
                results.append(check(child))
            else:
                lookup, value = child
                field, op = lookup.split("__")
                actual = getattr(location, field)
                results.append(actual >= value if op == "gte" else actual <= value)
        return any(results) if node.connector == "OR" else all(results)

    return check(box)


def test_point_and_radius_are_validated(cast):
    bad = [
        ({"near_lat": 91, "near_lon": 0}, "lat"),
        ({"near_lat": 0, "near_lon": -181}, "lon"),
        ({"near_lat": 10}, "lat"),
        ({"near_lat": 10, "near_lon": 10, "within_miles": 0}, "within_miles"),
        ({"near_lat": 10, "near_lon": 10, "within_miles": 501}, "within_miles"),
        ({"near_lat": float("nan"), "near_lon": 10}, "lat"),
        ({"near_lat": 10, "near_lon": 10, "postal_code": "62701"}, "postal_code"),
        ({"age": 121}, "age"),
        ({"age": -1}, "age"),
        ({"gender": "x"}, "gender"),
        ({"language": "español"}, "language"),
        ({"page": 0}, "page"),
        ({"per_page": 101}, "per_page"),
        ({"text": "x" * 501}, "q"),
    ]
    for criteria, field in bad:
        with pytest.raises(DomainError) as error:
            search(cast.network, **criteria)
        assert error.value.field == field, criteria


# --- full text ---------------------------------------------------------------------------------


@pytest.fixture
def texts(cast, org):
    factories.service(
        organization=org,
        name="Medically monitored detox",
        description="24/7 withdrawal management with nursing staff.",
    )
    factories.service(
        organization=org,
        name="Sober living for women",
        description="A women's recovery residence: house meetings, curfew.",
        needs=["sober-living"],
    )
    factories.service(organization=org, name="Legal aid clinic", description="Expungement help.")


def test_text_finds_every_word_with_stemming_and_says_so(cast, texts):
    assert names(search(cast.network, text="detox")) == ["Medically monitored detox"]
    assert names(search(cast.network, text="DETOX nursing")) == ["Medically monitored detox"]
    assert names(search(cast.network, text="detox legal")) == []
    assert names(search(cast.network, text="meeting houses")) == ["Sober living for women"]
    # Words of the organization and of the terms are searched too.
    assert names(search(cast.network, text="recovery housing")) == ["Sober living for women"]
    assert len(search(cast.network, text="Riverbend").results) == 3
    page = search(cast.network, text="  detox  ")
    assert "✓ matches 'detox'" in page.results[0].matched
    assert page.words == ["detox"]


def test_text_search_follows_updates_and_deletes(cast, org):
    made = factories.service(organization=org, name="Food pantry")
    assert names(search(cast.network, text="pantry")) == ["Food pantry"]
    made.name = "Grocery shelf"
    made.save()
    from referloop.directory.services import search_text_refresh

    search_text_refresh(service_ids=[made.pk])
    assert names(search(cast.network, text="pantry")) == []
    assert names(search(cast.network, text="grocery")) == ["Grocery shelf"]
    Service.objects.filter(pk=made.pk).delete()
    assert names(search(cast.network, text="grocery")) == []


@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        '""',
        "AND OR",
        "NOT",
        "*",
        "detox*",
        "NEAR(",
        "NEAR(detox women, 2)",
        "women's",
        "'",
        "O'Brien",
        "detox\x00",
        "\x00",
        "search_text:detox",
        "^detox",
        "-detox",
        "detox OR legal",
        "(detox",
        "{search_text}: detox",
        "a & b | !c <-> d",
        "'; DROP TABLE directory_service; --",
        "x" * 300,
        "日本語 ελληνικά",
        "🙂",
    ],
)
def test_hostile_text_never_raises(cast, texts, hostile):
    page = search(cast.network, text=hostile)
    assert page.total >= 0
    assert Service.objects.count() == 3


def test_hostile_text_means_the_same_on_both_engines(cast, texts):
    assert names(search(cast.network, text="women's")) == ["Sober living for women"]
    assert names(search(cast.network, text="NEAR(detox")) == []  # "near" is a word like any
    assert names(search(cast.network, text="detox*")) == ["Medically monitored detox"]
    # Only stop words / punctuation: no text criterion at all (as PostgreSQL does).
    assert search(cast.network, text="AND OR").total == 3
    assert search(cast.network, text='"*"').total == 3


def test_the_words_searched(cast):
    assert fulltext.search_words('The "detox"* AND women\'s NEAR( o_o') == [
        "detox",
        "women",
        "near",
        "o",
    ]
    assert fulltext.search_words("\x00") == []


def test_every_word_must_match_so_none_is_dropped(cast, org):
    factories.service(organization=org, name="Medically monitored detox")
    assert names(search(cast.network, text="detox " + "z" * 150)) == []  # no word that long
    sixteen = " ".join(["detox", *(f"w{i}" for i in range(15))])
    assert names(search(cast.network, text=sixteen)) == []
    with pytest.raises(DomainError) as refused:
        search(cast.network, text=f"{sixteen} w15")
    assert refused.value.field == "q"
    assert refused.value.message.startswith("Search words: at most 16 words")
    # Stop words and repeats are not words searched: they count for nothing.
    assert names(search(cast.network, text="the detox " * 20)) == ["Medically monitored detox"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 triggers")
def test_sqlite_triggers_come_back_after_a_table_rebuild(cast, org):
    factories.service(organization=org, name="Detox before")
    with connection.cursor() as cursor:
        for name in fulltext.TRIGGERS:
            cursor.execute(f"DROP TRIGGER {name}")
    Service.objects.filter(name="Detox before").update(search_text="Renamed while unsynced")

    assert fulltext.sqlite_fts_ensure(connection) is True
    assert fulltext.sqlite_fts_ensure(connection) is False
    assert names(search(cast.network, text="unsynced")) == ["Detox before"]
    assert names(search(cast.network, text="detox")) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's GIN index")
def test_postgresql_text_search_uses_the_gin_index(cast, texts):
    queryset = Service.objects.filter(fulltext.text_filter(["detox"])).order_by()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a 3-row table: force the choice
    assert fulltext.PG_INDEX in queryset.explain()
    assert list(queryset.values_list("name", flat=True)) == ["Medically monitored detox"]


# --- pages and query counts --------------------------------------------------------------------


def test_pages(cast, org):
    for number in range(7):
        factories.service(organization=org, name=f"Service {number}")

    page = search(cast.network, per_page=3, page=2)
    assert names(page) == ["Service 3", "Service 4", "Service 5"]
    assert (page.total, page.page, page.num_pages) == (7, 2, 3)
    assert page.has_previous and page.has_next
    last = search(cast.network, per_page=3, page=99)
    assert names(last) == ["Service 6"] and last.page == 3 and last.query.page == 3
    assert search(cast.network, text="nothing-matches").num_pages == 1


def _build(org, count: int):
    for number in range(count):
        made = factories.service(
            organization=org,
            name=f"Program {number:02}",
            needs=["detox"],
            populations=["veterans"] if number % 2 else [],
            payment=["medicaid"],
            languages=["es"] if number % 3 else ["en"],
            at=(SPRINGFIELD[0] + number * 0.001, SPRINGFIELD[1]),
            minimum_age=18,
            genders_served=["female"] if number % 4 == 0 else [],
        )
        factories.capacity(service=made, available=number % 3, maximum=5)


FULL_QUERY = {
    "text": "program",
    "need": "detox",
    "population": "veterans",
    "insurance": "medicaid",
    "age": 30,
    "gender": "male",
    "court_ordered": True,
    "language": "es",
    "per_page": 50,
}


@pytest.mark.parametrize(
    "criteria",
    [
        {},
        FULL_QUERY,
        {**FULL_QUERY, "near_lat": SPRINGFIELD[0], "near_lon": SPRINGFIELD[1]},
        {**FULL_QUERY, "postal_code": "62701", "has_capacity": True},
    ],
    ids=["nothing", "everything", "near-point", "near-zip"],
)
def test_a_page_costs_the_same_number_of_queries_for_5_or_40_services(cast, org, zips, criteria):
    def count_queries():
        with CaptureQueriesContext(connection) as captured:
            page = search(cast.network, **criteria)
            for result in page.results:  # everything a result page shows
                str(result.service.organization.name)
                [c.available for c in result.capacities]
                [language.name for language in result.languages]
                [a.city for a in result.addresses]
        return len(captured), page

    _build(org, 5)
    few, small = count_queries()
    _build(org, 35)
    many, large = count_queries()

    assert large.total > small.total > 0
    # Near a point, the count comes first; candidates it counts all (no more than COUNT_CAP) are
    # then ranked by one query. (Beyond, tiers rank them: the next test.)
    assert few == many <= (9 if "near_lat" in criteria or "postal_code" in criteria else 8)


# --- ranking by tiers of fit -------------------------------------------------------------------


def _varied(org, count: int):
    """Services of many kinds of fit (and of freshness), a few alike, spread around Springfield."""
    now = timezone.now()
    for number in range(count):
        factories.service(
            organization=org,
            name=f"Varied {number:02}",
            needs=["detox"] if number % 4 else [],
            minimum_age=[None, 18, 40][number % 3],
            genders_served=[[], ["female"], ["Male"]][number % 4 % 3],
            court_ordered_accepted=[None, True, False][number % 5 % 3],
            populations=["veterans"] if number % 2 else [],
            payment=["medicaid"] if number % 3 else [],
            languages=[[], ["es"], ["en"]][number % 7 % 3],
            at=(SPRINGFIELD[0] + (number % 11) * 0.01, SPRINGFIELD[1]),
            last_verified_at=now - timedelta(days=number % 6),
        )


def _every_candidate_scored(network, **asked) -> list[str]:
    """The ranking that scores every candidate with the criteria (what tiers must reproduce)."""
    from referloop.directory import search as engine

    query = engine._normalize(DirectoryQuery(**asked))
    terms = engine._resolve_terms(query)
    origin = engine._resolve_origin(query)
    words = fulltext.search_words(query.text)
    services = engine._hard_filtered(
        engine._column_filtered(network=network, query=query), terms=terms, words=words
    )
    ranked = engine._ranked(services, engine._criteria(query, terms), origin, words=words)
    return list(ranked.values_list("name", flat=True))


@pytest.mark.parametrize(
    "asked",
    [
        {"age": 30, "gender": "male", "court_ordered": True, "insurance": "medicaid"},
        {"population": "veterans", "language": "es", "include_inactive": True},
        {"age": 50, "language": "es", "near_lat": SPRINGFIELD[0], "near_lon": SPRINGFIELD[1]},
        {"gender": "female", "insurance": "medicaid", "postal_code": "62701", "within_miles": 5},
        {"need": "detox", "age": 30, "language": "es", "postal_code": "62701"},
        {
            "text": "varied",
            "court_ordered": True,
            "near_lat": SPRINGFIELD[0],
            "near_lon": SPRINGFIELD[1],
        },
    ],
    ids=["eligibility", "inactive-too", "near-point", "near-zip", "need-near", "words-near"],
)
@pytest.mark.parametrize("keys_max", [500, 2], ids=["tiers", "too-many-keys"])
@pytest.mark.parametrize("public", [False, True], ids=["network", "public"])
def test_every_page_ranked_by_tiers_is_the_page_of_scoring_every_candidate(
    cast, org, zips, asked, keys_max, public, monkeypatch
):
    from referloop.directory import search as engine

    monkeypatch.setattr(engine, "TIER_KEYS_MAX", keys_max)
    # Near a point, tiers rank the candidates when there are more than the count goes to: so
    # that early pages go by tiers and the last ones score every candidate.
    monkeypatch.setattr(engine, "COUNT_CAP", 5)
    _varied(org, 45)
    Service.objects.filter(name__in=["Varied 03", "Varied 17"]).update(status=Status.INACTIVE)
    network = None if public else cast.network  # the public directory: every network's

    pages, page = [], search(network, per_page=7, **asked)
    while True:
        pages.extend(names(page))
        if not page.has_next:
            break
        page = search(network, per_page=7, page=page.page + 1, **asked)

    assert pages == _every_candidate_scored(network, **asked)
    assert len(pages) == page.total


def test_the_loose_index_scan_finds_the_keys_grouping_finds_each_scored_as_its_services(cast, org):
    from referloop.directory import search as engine

    _varied(org, 45)
    Service.objects.filter(name__endswith="3").update(status=Status.INACTIVE)
    Service.objects.filter(name__endswith="7").update(has_capacity=True)
    asked = {"age": 30, "gender": "male", "court_ordered": True, "insurance": "medicaid"}
    query = engine._normalize(DirectoryQuery(**asked, language="es"))
    criteria = engine._criteria(query, engine._resolve_terms(query))
    every = Service.objects.filter(network=cast.network)
    for services in (
        every.filter(status=Status.ACTIVE),
        every.filter(status=Status.ACTIVE, has_capacity=True),
        every,
        Service.objects.all(),  # the public directory: no network
    ):
        # Scoring every service: each key's services fit alike.
        scored = set(
            engine._with_criteria(services, criteria, each=False).values_list(
                "eligibility_key", "misfit"
            )
        )
        misfits = dict(scored)
        assert len(misfits) == len(scored)
        counts = Counter(services.values_list("eligibility_key", flat=True))

        grouped = engine._scored_keys(services, criteria, counted=True)
        found = engine._scored_keys(services, criteria, counted=False)

        assert {key: (count, misfit) for key, count, misfit in grouped} == {
            key: (counts[key], misfits[key]) for key in counts
        }
        assert sorted(found) == sorted((key, 0, misfits[key]) for key in counts)
    assert engine._scored_keys(every.none(), criteria, counted=False) == []
    assert engine._scored_keys(every.filter(pk__in=[]), criteria, counted=True) == []


@pytest.mark.parametrize("need", [None, "detox"], ids=["eligibility", "need-too"])
def test_near_a_point_with_criteria_the_queries_do_not_grow_with_the_services(
    cast, org, zips, monkeypatch, need
):
    # More candidates than the count goes to, so tiers rank them.
    monkeypatch.setattr("referloop.directory.search.COUNT_CAP", 3)

    def build(count: int):
        for number in range(count):
            factories.service(
                organization=org,
                name=f"Program {number:02}",
                minimum_age=18,
                needs=["detox"],
                payment=["medicaid"] if number < 2 else [],  # the best tier: 2, then 4
                at=(SPRINGFIELD[0] + number * 0.001, SPRINGFIELD[1]),
            )

    def count_queries():
        with CaptureQueriesContext(connection) as captured:
            page = search(
                cast.network,
                postal_code="62701",
                age=30,
                insurance="medicaid",
                need=need,
                per_page=5,
            )
        return len(captured), page

    build(6)
    few, small = count_queries()
    build(40)
    many, large = count_queries()

    assert small.more and large.more  # "5+ services": beyond the count
    assert len(small.results) == len(large.results) == 5
    # The page reaches both tiers both times: for each, a count and a page (one query for both
    # when a need narrows the candidates).
    assert few == many <= (10 if need else 12)
