"""`referloop import capacity FILE`: counts an agency publishes elsewhere, imported into the
listings it runs with their history — Toronto-style daily occupancy (long, beds and rooms), CRD
wide bed lists (a column per kind of bed), a `;` file in Windows-1252, an XLSX, the real CRD
shelter list, and ~12,000 rows over three months."""

import csv
import json
import time
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from referloop.core.models import Agency, AuditEvent
from referloop.core.permissions import Role
from referloop.core.services import api_token_create
from referloop.directory.capacity_feed import capacity_feed_import
from referloop.directory.capacity_feed.values import BadValue, Moments
from referloop.directory.models import CapacityReading, Organization, Service, ServiceCapacity
from tests.conftest import client_for, make_member
from tests.directory import factories

FIXTURES = Path(__file__).parent / "fixtures" / "capacity"
EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
CRD_SHELTERS = (
    Path(__file__).parents[2] / ".." / "shared" / "data" / "crd-shelter-beds" / "data"
) / "shelter_list.csv"
TORONTO_MAPPING = EXAMPLES / "capacity-toronto-daily-occupancy.json"
CRD_MAPPING = EXAMPLES / "capacity-crd-shelter-list.json"


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import", "capacity", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def causes(report) -> set[tuple[str, str, str, int]]:
    return {(g.severity, g.field, g.cause, g.count) for g in report.groups()}


def readings(service, name="") -> list[tuple]:
    rows = CapacityReading.objects.filter(capacity__service=service, capacity__name=name)
    return list(rows.order_by("recorded_at").values_list("recorded_at", "available", "maximum"))


def listing(agency, name, *, address=None, city="Toronto", state="ON", site=""):
    organization = Organization.objects.filter(agency=agency).first() or factories.organization(
        network=agency.network, agency=agency, name=f"{agency.name} (organization)"
    )
    places = []
    if address:
        places.append(
            factories.location(
                organization=organization,
                latitude=None,
                longitude=None,
                name=site or f"{name} site",
                address_1=address,
                city=city,
                state_province=state,
                postal_code="",
            )
        )
    return factories.service(organization=organization, name=name, locations=places)


# --- Toronto's daily shelter occupancy: long, beds and rooms -----------------------------------


@pytest.fixture
def toronto(cast):
    cast.agency_a.time_zone = "America/Toronto"
    cast.agency_a.save(update_fields=["time_zone"])
    return {
        name: listing(cast.agency_a, name, address=address, site=site)
        for name, site, address in (
            ("COSTI Reception Centre CITY Program", "COSTI Reception Centre", "100 Lippincott St"),
            ("Seaton House - Hostel Program", "Seaton House", "339 George St"),
            ("Family Residence - Rooms", "Family Residence", "4222 Kingston Rd"),
        )
    }


def test_toronto_daily_occupancy_becomes_each_programs_history(cast, toronto):
    path = FIXTURES / "toronto-daily-occupancy.csv"
    report = capacity_feed_import(path=path, agency=cast.agency_a, mapping_path=TORONTO_MAPPING)

    assert report.written and report.totals() == {
        "read": 12,
        "imported": 12,
        "skipped": 0,
        "defaulted": 1,
        "errors": 0,
        "warnings": 0,
    }
    # Seaton House's 3 November row left UNOCCUPIED_BEDS blank: 120 less 118 occupied.
    assert causes(report) == {
        ("default", "UNOCCUPIED_BEDS", "available not given: total less occupied", 1)
    }
    [computed] = report.defaults
    assert (computed.row, computed.reason) == (
        9,
        "available not given: 2, the total 120 less 118 occupied",
    )
    assert report.notes[0] == (
        "Columns not read: _id, ORGANIZATION_NAME, SHELTER_NAME, LOCATION_CITY, SECTOR, "
        "CAPACITY_TYPE, UNAVAILABLE_BEDS"
    )
    assert "Current counts: 3 unit(s) added, 0 moved to a newer count, 0 kept" in report.notes[1]

    # Dates alone are the start of the day in the agency's time zone (EDT, then EST).
    seaton = toronto["Seaton House - Hostel Program"]
    assert readings(seaton) == [
        (datetime(2025, 11, 1, 4, tzinfo=UTC), 3, 120),
        (datetime(2025, 11, 2, 4, tzinfo=UTC), 1, 120),
        (datetime(2025, 11, 3, 5, tzinfo=UTC), 2, 120),
        (datetime(2025, 11, 4, 5, tzinfo=UTC), 0, 120),
    ]
    rooms = ServiceCapacity.objects.get(service=toronto["Family Residence - Rooms"])
    assert (rooms.unit, rooms.name, rooms.available, rooms.maximum) == ("slots", "Rooms", 2, 55)
    assert rooms.updated_at == datetime(2025, 11, 4, 5, tzinfo=UTC) and rooms.updated_by is None
    costi = toronto["COSTI Reception Centre CITY Program"]
    costi.refresh_from_db()
    assert costi.capacity_updated_at == datetime(2025, 11, 4, 5, tzinfo=UTC)
    assert not costi.has_capacity  # 0 of 40 on the last day
    event = AuditEvent.objects.get(action="import", object_type="directory.capacity_feed")
    assert event.agency == cast.agency_a and event.detail["created"] == 12

    again = capacity_feed_import(path=path, agency=cast.agency_a, mapping_path=TORONTO_MAPPING)
    assert again.counts["capacity readings"].as_dict() == {
        "created": 0,
        "updated": 0,
        "unchanged": 12,
        "rejected": 0,
    }
    assert "0 unit(s) added, 0 moved to a newer count, 3 kept" in again.notes[1]
    assert CapacityReading.objects.filter(capacity__service__in=toronto.values()).count() == 12


@time_machine.travel(datetime(2025, 12, 1, 12, tzinfo=UTC), tick=False)
def test_a_named_unit_shows_by_name_on_the_page_and_in_the_api(cast, toronto):
    capacity_feed_import(
        path=FIXTURES / "toronto-daily-occupancy.csv",
        agency=cast.agency_a,
        mapping_path=TORONTO_MAPPING,
    )
    rooms = toronto["Family Residence - Rooms"]
    page = client_for(cast.coordinator).get(f"/services/{rooms.pk}/").content.decode()
    assert "2</strong> of 55 Rooms" in page
    assert "4 updates of the Rooms count" in page and "Rooms free over the last 90 days" in page
    raw = api_token_create(user=cast.coordinator, agency=cast.agency_a)[1]
    body = client_for(None).get(
        f"/api/v1/directory/services/{rooms.pk}/capacity/history",
        {"days": 90},
        headers={"Authorization": f"Bearer {raw}"},
    )
    [unit] = body.json()["units"]
    assert (unit["unit"], unit["name"], unit["available"]) == ("slots", "Rooms", 2)
    assert [reading["available"] for reading in unit["readings"]] == [5, 3, 0, 2]


def test_without_its_mapping_the_toronto_file_says_what_to_do(cast, toronto):
    with pytest.raises(CommandError) as failed:
        run(FIXTURES / "toronto-daily-occupancy.csv", "--agency", "alpha")
    assert str(failed.value) == (
        "Capacity import failed: toronto-daily-occupancy.csv, row 1, PROGRAM_NAME: two columns "
        "mean Service ('SHELTER_NAME' and 'PROGRAM_NAME'): rename one, or say which to read "
        "with --mapping"
    )
    assert not ServiceCapacity.objects.exists()


def test_the_command_prints_its_report(cast, toronto, tmp_path):
    report_path = tmp_path / "report.json"
    out, err = run(
        FIXTURES / "toronto-daily-occupancy.csv",
        "--agency",
        "alpha",
        "--mapping",
        TORONTO_MAPPING,
        "--report",
        report_path,
    )
    assert "Capacity import from toronto-daily-occupancy.csv" in out
    assert "  capacity readings: 12 created, 0 updated, 0 unchanged" in out
    assert "Read 12 · imported 12 · skipped 0 · defaults applied 1" in out
    assert "Defaults applied (1):" in err
    saved = json.loads(report_path.read_text())
    assert saved["totals"]["imported"] == 12 and saved["groups"][0]["field"] == "UNOCCUPIED_BEDS"


def test_an_unknown_agency_or_mapping_header_is_one_line(cast, toronto, tmp_path):
    with pytest.raises(CommandError, match="agency: no agency 'nope' \\(there are: alpha"):
        run(FIXTURES / "toronto-daily-occupancy.csv", "--agency", "nope")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"service": "PROGRAM", "units": {"beds": {"total": "BEDS"}}}))
    missing = "the mapping names the header 'PROGRAM' \\(service\\), which is not in the file"
    with pytest.raises(CommandError, match=missing):
        run(FIXTURES / "toronto-daily-occupancy.csv", "--agency", "alpha", "--mapping", mapping)
    mapping.write_text(json.dumps({"units": {"Men's beds": {"free": "x"}}}))
    report = capacity_feed_import(
        path=FIXTURES / "toronto-daily-occupancy.csv", agency=cast.agency_a, mapping_path=mapping
    )
    assert [str(p) for p in report.errors] == [
        "mapping mapping.json: units, Men's beds: give the headers of available, total, "
        "occupied (any of them)"
    ]


# --- messy rows: a ';' file in Windows-1252 ----------------------------------------------------


@pytest.fixture
def houses(cast):
    mine = {name: listing(cast.agency_a, name) for name in ("Maison Thérèse", "Casa Esperanza")}
    bravo = listing(cast.agency_b, "Bravo Detox")
    return mine, bravo


MESSY = FIXTURES / "messy-semicolon-cp1252.csv"
MESSY_CAUSES = {
    ("error", "Available", "a negative count", 1),
    ("error", "Available", "not a whole number", 1),
    ("error", "Available", "more available than the total", 1),
    ("error", "Program", "not a listing of Alpha Recovery", 1),
    ("error", "Program", "no such listing in the directory", 1),
    ("error", "Date", "in the future", 1),
    ("error", "Date", "no date", 1),
    ("error", "Occupied", "more occupied than the total", 1),
    ("warning", "", "is not UTF-8: encoding guessed", 1),
    ("warning", "", "repeats a row", 1),
    ("default", "Available", "available not given: total less occupied", 1),
}


def test_messy_rows_are_errors_per_row_and_nothing_is_written(cast, houses):
    report = capacity_feed_import(path=MESSY, agency=cast.agency_a)
    assert not report.written
    assert report.totals() == {
        "read": 12,
        "imported": 0,
        "skipped": 12,
        "defaulted": 1,
        "errors": 8,
        "warnings": 2,
    }
    assert causes(report) == MESSY_CAUSES
    by_row = {problem.row: problem for problem in report.errors}
    assert (by_row[4].field, by_row[4].value, by_row[4].reason) == (
        "Available",
        "-2",
        "-2 is negative",
    )
    assert by_row[6].reason == "9 available is more than the total 8"
    assert (
        by_row[7].reason
        == "'Bravo Detox' is Bravo Treatment's listing, not a listing of Alpha Recovery"
    )
    assert by_row[9].value == "01.01.2031"
    assert by_row[13].reason == "9 occupied is more than the total 8"
    assert not ServiceCapacity.objects.exists() and not CapacityReading.objects.exists()


def test_with_partial_the_valid_rows_are_imported_and_never_another_agencys(cast, houses):
    (mine, bravo) = houses
    report = capacity_feed_import(path=MESSY, agency=cast.agency_a, partial=True)
    assert report.written
    assert report.totals() == {
        "read": 12,
        "imported": 3,
        "skipped": 8,
        "defaulted": 1,
        "errors": 8,
        "warnings": 2,
    }
    assert causes(report) == MESSY_CAUSES
    maison = mine["Maison Thérèse"]
    units = {c.name: (c.unit, c.available, c.maximum) for c in maison.capacities.all()}
    assert units == {"Women's beds": ("beds", 3, 10), "Men's beds": ("beds", 3, 12)}
    # 14.11.2025 is day.month.year; 08:00 is the agency's (Chicago) time.
    assert readings(maison, "Women's beds") == [(datetime(2025, 11, 14, 14, tzinfo=UTC), 3, 10)]
    assert readings(mine["Casa Esperanza"]) == [(datetime(2025, 11, 17, 6, tzinfo=UTC), 4, None)]
    assert not ServiceCapacity.objects.filter(service=bravo).exists()

    again = capacity_feed_import(path=MESSY, agency=cast.agency_a, partial=True)
    assert again.counts["capacity readings"].as_dict() == {
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "rejected": 8,
    }
    assert CapacityReading.objects.count() == 3


def test_the_command_fails_with_one_line_and_the_rows_grouped_by_cause(cast, houses):
    err = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command(
            "import", "capacity", str(MESSY), "--agency", "alpha", stdout=StringIO(), stderr=err
        )
    assert str(failed.value) == (
        "Capacity import failed with 8 error(s); nothing was written "
        "(fix the rows above, or pass --partial to import the valid rows)"
    )
    assert "Errors (8, 8 causes):" in err.getvalue()
    assert "Traceback" not in err.getvalue()
    with pytest.raises(CommandError, match="8 error\\(s\\): those rows were left out"):
        run(MESSY, "--agency", "alpha", "--partial")
    assert CapacityReading.objects.count() == 3


def test_a_dry_run_changes_nothing(cast, houses):
    report = capacity_feed_import(path=MESSY, agency=cast.agency_a, partial=True, dry_run=True)
    assert not report.written and report.counts["capacity readings"].created == 3
    assert not ServiceCapacity.objects.exists() and not AuditEvent.objects.filter(action="import")


# --- CRD bed lists: wide, a column per kind of bed, no dates -----------------------------------


@pytest.fixture
def victoria(cast):
    cast.agency_a.time_zone = "America/Vancouver"
    cast.agency_a.save(update_fields=["time_zone"])
    spot = {"city": "Victoria", "state": "BC"}
    return {
        "wharf": listing(cast.agency_a, "Wharf Street Shelter", address="10 Wharf St", **spot),
        "men": listing(cast.agency_a, "Pandora Men's", address="200 Pandora Ave", **spot),
        "women": listing(cast.agency_a, "Pandora Women's", address="200 Pandora Ave", **spot),
        "quadra": listing(
            cast.agency_a, "Quadra Drop-in", address="5 Quadra St", city="Saanich", state="BC"
        ),
    }


CRD_STYLE = FIXTURES / "crd-style-shelter-list.csv"


def test_a_wide_bed_list_counts_each_kind_of_bed_as_of_its_date(cast, victoria, tmp_path):
    with pytest.raises(CommandError):
        run(CRD_STYLE, "--agency", "alpha", "--mapping", CRD_MAPPING)
    report = capacity_feed_import(
        path=CRD_STYLE,
        agency=cast.agency_a,
        mapping_path=CRD_MAPPING,
        as_of="2025-10-14",
        partial=True,
    )
    assert report.totals() == {
        "read": 4,
        "imported": 2,
        "skipped": 2,
        "defaulted": 2,
        "errors": 2,
        "warnings": 0,
    }
    assert causes(report) == {
        ("error", "physical_address", "several listings of Alpha Recovery at this location", 1),
        ("error", "physical_address", "no listing of Alpha Recovery at this location", 1),
        ("default", "beds_yr_rnd_all", "available not given: the count in force kept", 1),
        ("default", "beds_extr_wthr", "available not given: the count in force kept", 1),
    }
    ambiguous = next(p for p in report.errors if p.row == 3)
    assert ambiguous.reason == (
        "2 listings of Alpha Recovery are at '200 Pandora Ave, Victoria, BC' "
        f"(Pandora Men's #{victoria['men'].pk}, Pandora Women's #{victoria['women'].pk}): "
        "add a Service column to say which"
    )
    assert report.notes[0] == "Columns not read: community, operator_name, coordinates, beds_total"
    # Five kinds the Wharf St shelter has none of, and all seven on Quadra St, are not added.
    assert report.notes[2] == (
        "12 kind(s) counted as none (0 of 0) were not added to listings that do not have them"
    )
    wharf = victoria["wharf"]
    october = datetime(2025, 10, 14, 7, tzinfo=UTC)  # midnight in Victoria (PDT)
    units = {c.name: (c.available, c.maximum, c.updated_at) for c in wharf.capacities.all()}
    assert units == {"Year-round beds": (0, 20, october), "Extreme weather beds": (0, 10, october)}
    assert not victoria["quadra"].capacities.exists()

    # A later count of available beds keeps the total; importing the list again changes nothing.
    later = tmp_path / "later.csv"
    later.write_text(
        "Service,Date,Unit,Available\nWharf Street Shelter,2025-11-01,Year-round beds,6\n"
    )
    assert capacity_feed_import(path=later, agency=cast.agency_a).ok
    again = capacity_feed_import(
        path=CRD_STYLE,
        agency=cast.agency_a,
        mapping_path=CRD_MAPPING,
        as_of="2025-10-14",
        partial=True,
    )
    assert (
        again.counts["capacity readings"].created,
        again.counts["capacity readings"].unchanged,
    ) == (0, 2)
    assert readings(wharf, "Year-round beds") == [
        (october, 0, 20),
        (datetime(2025, 11, 1, 7, tzinfo=UTC), 6, 20),
    ]
    year_round = wharf.capacities.get(name="Year-round beds")
    assert (year_round.available, year_round.maximum) == (6, 20)


def test_the_real_crd_shelter_list(cast):
    if not CRD_SHELTERS.is_file():
        pytest.skip(f"{CRD_SHELTERS} is not here")
    cool_aid = Agency.objects.create(
        network=cast.network,
        name="The Victoria Cool Aid Society",
        slug="cool-aid",
        time_zone="America/Vancouver",
    )
    make_member(cool_aid, Role.COORDINATOR, "coordinator@coolaid.example.org")
    spot = {"city": "Victoria", "state": "BC"}
    shelters = {
        address: listing(cool_aid, name, address=address, **spot)
        for name, address in (
            ("Mike Sheehan Shelter", "2317 Dowler Pl"),
            ("Rock Bay Landing", "535 Ellice St"),
            ("Sandy Merriman House", "809 Burdett Ave"),
        )
    }
    listing(cast.agency_b, "Our Place Shelter", address="919 Pandora Ave", **spot)

    def once():
        return capacity_feed_import(
            path=CRD_SHELTERS,
            agency=cool_aid,
            mapping_path=CRD_MAPPING,
            as_of="2025-10-14",
            partial=True,
        )

    report = once()
    assert report.totals() == {
        "read": 11,
        "imported": 3,
        "skipped": 8,
        "defaulted": 3,
        "errors": 8,
        "warnings": 0,
    }
    cause = "no listing of The Victoria Cool Aid Society at this location"
    assert ("error", "physical_address", cause, 8) in causes(report)
    counted = {
        address: [(c.name, c.available, c.maximum) for c in service.capacities.all()]
        for address, service in shelters.items()
    }
    assert counted == {
        "2317 Dowler Pl": [("Year-round beds", 0, 15)],
        "535 Ellice St": [("Year-round beds", 0, 114)],
        "809 Burdett Ave": [("Women's beds", 0, 25)],
    }
    again = once()
    assert again.counts["capacity readings"].as_dict() == {
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "rejected": 8,
    }


# --- an XLSX with ids and spreadsheet dates ----------------------------------------------------


def test_an_xlsx_names_listings_by_id_and_holds_real_dates(cast, houses, tmp_path):
    from openpyxl import Workbook

    maison = houses[0]["Maison Thérèse"]
    book = Workbook()
    sheet = book.active
    sheet.append(["Service ID", "Updated", "Beds available", "Bed capacity"])
    sheet.append([maison.pk, datetime(2025, 11, 5, 9, 30), 4, 10])
    excel_day = (date(2025, 11, 6) - date(1899, 12, 30)).days
    sheet.append([str(maison.hsds_id), excel_day + 0.75, 3, 10])
    sheet.append([float(maison.pk), "11/7/2025 6:15 PM", 2, 10])
    path = tmp_path / "counts.xlsx"
    book.save(path)

    report = capacity_feed_import(path=path, agency=cast.agency_a)
    assert report.ok and report.totals()["imported"] == 3
    chicago = ZoneInfo("America/Chicago")
    assert readings(maison) == [
        (datetime(2025, 11, 5, 9, 30, tzinfo=chicago), 4, 10),
        (datetime(2025, 11, 6, 18, 0, tzinfo=chicago), 3, 10),
        (datetime(2025, 11, 7, 18, 15, tzinfo=chicago), 2, 10),
    ]


# --- the current count and the history ---------------------------------------------------------


def test_an_older_row_never_overwrites_a_newer_current_count(cast, houses, tmp_path):
    casa = houses[0]["Casa Esperanza"]
    factories.capacity(service=casa, available=7, maximum=10)
    path = tmp_path / "older.csv"
    path.write_text("Program,Date,Available,Total\nCasa Esperanza,2025-11-01,2,10\n")

    report = capacity_feed_import(path=path, agency=cast.agency_a)
    assert "0 moved to a newer count, 1 kept" in report.notes[0]
    current = casa.capacities.get()
    assert current.available == 7
    assert [available for _, available, _ in readings(casa)] == [2, 7]
    casa.refresh_from_db()
    assert casa.has_capacity and casa.capacity_updated_at == current.updated_at


def test_two_counts_of_one_unit_at_one_time_are_refused(cast, houses, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text(
        "Program,Date,Available,Total\n"
        "Casa Esperanza,2025-11-01 08:00,2,10\n"
        "Casa Esperanza,2025-11-01 08:00,3,10\n"
    )
    report = capacity_feed_import(path=path, agency=cast.agency_a)
    assert causes(report) == {("error", "", "two counts of one unit at one time", 1)}
    assert report.errors[0].reason == "other numbers for the unit and time of row 2"


def test_a_name_two_listings_share_is_told_apart_by_the_address(cast, tmp_path):
    north = listing(cast.agency_a, "Night shelter", address="1 North Rd")
    south = listing(cast.agency_a, "Night shelter", address="9 South Rd")
    path = tmp_path / "counts.csv"
    path.write_text(
        "Program,Address,Date,Available\n"
        "Night shelter,9 South Rd,2025-11-01,4\n"
        "Night shelter,,2025-11-01,2\n"
        "Night shelter,1 North Rd,,3\n"
    )
    report = capacity_feed_import(
        path=path, agency=cast.agency_a, as_of="2025-11-02 06:00", partial=True
    )
    assert causes(report) == {
        ("error", "Program", "names several listings of Alpha Recovery", 1),
        ("default", "Date", "no date: --as-of", 1),
    }
    assert report.errors[0].reason == (
        f"'Night shelter' names 2 listings of Alpha Recovery (Night shelter #{north.pk}, "
        f"Night shelter #{south.pk}): give its id, or its location"
    )
    chicago = ZoneInfo("America/Chicago")
    assert readings(south) == [(datetime(2025, 11, 1, tzinfo=chicago), 4, None)]
    assert readings(north) == [(datetime(2025, 11, 2, 6, tzinfo=chicago), 3, None)]


def test_as_of_and_a_csv_mapping(cast, houses, tmp_path):
    path = tmp_path / "tonight.csv"
    path.write_text("Shelter program,Free tonight\nCasa Esperanza,5\n")
    mapping = tmp_path / "mapping.csv"
    mapping.write_text("our column,your header\nservice,Shelter program\navailable,Free tonight\n")
    with pytest.raises(CommandError, match="no column says when each count was taken"):
        run(path, "--agency", "alpha", "--mapping", mapping)
    with pytest.raises(CommandError) as future:
        run(path, "--agency", "alpha", "--mapping", mapping, "--as-of", "2031-01-01")
    assert str(future.value) == "Capacity import failed: --as-of: '2031-01-01' is in the future"
    out, _ = run(path, "--agency", "alpha", "--mapping", mapping, "--as-of", "11/20/2025 21:00")
    assert "Read 1 · imported 1" in out
    casa = houses[0]["Casa Esperanza"]
    chicago = ZoneInfo("America/Chicago")
    assert readings(casa) == [(datetime(2025, 11, 20, 21, tzinfo=chicago), 5, None)]


# --- ~12,000 rows over three months ------------------------------------------------------------


def test_three_months_of_daily_occupancy_import_in_seconds(cast, tmp_path, capsys):
    cast.agency_a.time_zone = "America/Toronto"
    cast.agency_a.save(update_fields=["time_zone"])
    organization = factories.organization(network=cast.network, agency=cast.agency_a)
    programs = Service.objects.bulk_create(
        Service(
            network=cast.network,
            organization=organization,
            agency=cast.agency_a,
            name=f"Shelter program {number:03}",
        )
        for number in range(130)
    )
    today = timezone.now().astimezone(ZoneInfo("America/Toronto")).date()
    days = [today - timedelta(days=back) for back in range(91, -1, -1)]
    path = tmp_path / "daily-shelter-occupancy.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "_id",
                "OCCUPANCY_DATE",
                "PROGRAM_NAME",
                "LOCATION_NAME",
                "LOCATION_ADDRESS",
                "CAPACITY_ACTUAL_BED",
                "OCCUPIED_BEDS",
                "UNOCCUPIED_BEDS",
                "CAPACITY_ACTUAL_ROOM",
                "OCCUPIED_ROOMS",
                "UNOCCUPIED_ROOMS",
            ]
        )
        number = 0
        for day in days:
            for index, program in enumerate(programs):
                number += 1
                occupied = (index * 7 + day.toordinal()) % 41
                writer.writerow(
                    [number, day, program.name, "", "", 40, occupied, 40 - occupied, "", "", ""]
                )
    rows = len(days) * len(programs)
    assert rows == 11_960

    started = time.perf_counter()
    report = capacity_feed_import(path=path, agency=cast.agency_a, mapping_path=TORONTO_MAPPING)
    first = time.perf_counter() - started
    assert report.totals() == {
        "read": rows,
        "imported": rows,
        "skipped": 0,
        "defaulted": 0,
        "errors": 0,
        "warnings": 0,
    }
    assert ServiceCapacity.objects.filter(service__in=programs).count() == 130
    started = time.perf_counter()
    again = capacity_feed_import(path=path, agency=cast.agency_a, mapping_path=TORONTO_MAPPING)
    second = time.perf_counter() - started
    assert again.counts["capacity readings"].as_dict() == {
        "created": 0,
        "updated": 0,
        "unchanged": rows,
        "rejected": 0,
    }
    assert CapacityReading.objects.count() == rows
    with capsys.disabled():
        print(
            f"\n  capacity feed: {rows:,} rows imported in {first:.2f} s, again in {second:.2f} s"
        )

    # The service page's 90-day chart and table show the imported days.
    program = programs[0]
    since = timezone.now() - timedelta(days=90)
    in_span = CapacityReading.objects.filter(capacity__service=program, recorded_at__gte=since)
    assert in_span.count() >= 89
    page = client_for(cast.coordinator).get(f"/services/{program.pk}/").content.decode()
    assert "Over the last 90 days" in page
    assert f"{in_span.count()} updates of the beds count" in page
    assert '<svg class="chart"' in page and "Beds free over the last 90 days" in page
    assert page.count("<tr><td><time") == 60  # the newest; the chart draws them all


# --- dates -------------------------------------------------------------------------------------


TORONTO_ZONE = ZoneInfo("America/Toronto")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-31", datetime(2025, 3, 31, tzinfo=TORONTO_ZONE)),
        ("2025-03-31T14:05:00Z", datetime(2025, 3, 31, 14, 5, tzinfo=UTC)),
        ("2025-03-31 14:05", datetime(2025, 3, 31, 14, 5, tzinfo=TORONTO_ZONE)),
        ("3/31/2025", datetime(2025, 3, 31, tzinfo=TORONTO_ZONE)),
        ("3/31/25 2:05 PM", datetime(2025, 3, 31, 14, 5, tzinfo=TORONTO_ZONE)),
        ("31.03.2025 14:05", datetime(2025, 3, 31, 14, 5, tzinfo=TORONTO_ZONE)),
        ("03-31-2025", datetime(2025, 3, 31, tzinfo=TORONTO_ZONE)),
        ("Mar 31, 2025", datetime(2025, 3, 31, tzinfo=TORONTO_ZONE)),
        ("31 March 2025 08:00", datetime(2025, 3, 31, 8, tzinfo=TORONTO_ZONE)),
        ("31-Mar-25", datetime(2025, 3, 31, tzinfo=TORONTO_ZONE)),
        ("45747", datetime(2025, 3, 31, tzinfo=TORONTO_ZONE)),
        (45747.5, datetime(2025, 3, 31, 12, tzinfo=TORONTO_ZONE)),
        (datetime(2025, 3, 31, 8), datetime(2025, 3, 31, 8, tzinfo=TORONTO_ZONE)),
        (date(2025, 3, 31), datetime(2025, 3, 31, tzinfo=TORONTO_ZONE)),
    ],
)
def test_the_dates_feeds_write(value, expected):
    assert Moments(TORONTO_ZONE).read(value) == expected


def test_a_column_of_day_first_dates_reads_as_day_first():
    column = ["13/4/2025", "3/4/2025"]
    assert Moments(UTC, column).read("3/4/2025") == datetime(2025, 4, 3, tzinfo=UTC)
    assert Moments(UTC, ["3/4/2025"]).read("3/4/2025") == datetime(2025, 3, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", ["24-01-31", "13/13/2025", "25:00", "soon", 12, "1/2/2025 13:00 PM"]
)
def test_what_is_not_a_date(value):
    with pytest.raises(BadValue):
        Moments(UTC).read(value)
