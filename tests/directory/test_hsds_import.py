"""HSDS import: every example and sample in shared/data/hsds imports, twice without duplicates;
older layouts map; bad input gives a row error (file, row, field, reason) and writes nothing,
unless --partial; orphans are named; encodings, 12-hour times, coordinates, bulk writes."""

import codecs
import gc
import json
import time
from datetime import UTC, date, datetime
from datetime import time as clock

import pytest

from referloop.directory.hsds import parse
from referloop.directory.hsds.readers import read_dataset
from referloop.directory.hsds.services import hsds_import
from referloop.directory.models import (
    Address,
    CapacityReading,
    Contact,
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceAtLocation,
    ServiceAttribute,
    ServiceCapacity,
)
from referloop.directory.vocabulary import NEEDS
from tests.directory import factories
from tests.directory.hsds_support import (
    EXAMPLES,
    FIXTURES,
    SHARED,
    capacity_service,
    copy_fixture,
    directory_counts,
    global_counts,
    import_ok,
    make_network,
    needs_shared,
    sid,
    write_json,
)

SERVICE_FULL = EXAMPLES / "service_full.json"

# (example, what must be in the directory first): service_at_location_list.json nests its
# service without an organization, as an API list does, so it updates a service already known.
EXAMPLE_CASES = [
    ("v3.0/examples/service_full.json", ()),
    ("v3.0/examples/service_list.json", ()),
    ("v3.0/examples/organization_full.json", ()),
    ("v3.0/examples/organization_list.json", ()),
    ("v3.0/examples/location.json", ()),
    ("v3.0/examples/tabular.json", ()),
    ("v3.0/examples/service_at_location_full.json", ()),
    ("v3.0/examples/service_at_location_list.json", ("v3.0/examples/service_full.json",)),
    ("v3.0/examples/csv", ()),
    ("v3.0/examples/csv/datapackage.json", ()),
    ("sample-data-1.1/all_resources", ()),
]
FIXTURE_CASES = ["hsds-1.0", "hsds-1.1.1", "hsds-2.0.1"]


def _import_twice(path, network):
    first = import_ok(path, network)
    after_first = (directory_counts(network), global_counts())
    second = import_ok(path, network)
    assert (directory_counts(network), global_counts()) == after_first
    for table, counts in second.counts.items():
        assert (counts.created, counts.updated) == (0, 0), table
        assert counts.unchanged == first.counts[table].total, table
    return first


@needs_shared
@pytest.mark.parametrize(("example", "before"), EXAMPLE_CASES, ids=[c[0] for c in EXAMPLE_CASES])
def test_every_shared_example_imports_twice_without_duplicates(db, example, before):
    network = make_network()
    for path in before:
        import_ok(SHARED / path, network)
    report = _import_twice(SHARED / example, network)
    assert sum(counts.total for counts in report.counts.values()) > 0
    assert sum(directory_counts(network).values()) > 0


@pytest.mark.parametrize("fixture", FIXTURE_CASES)
def test_own_fixtures_in_older_layouts_import_twice_without_duplicates(db, fixture):
    network = make_network()
    _import_twice(FIXTURES / fixture, network)
    expected = {"hsds-1.0": 2, "hsds-1.1.1": 3, "hsds-2.0.1": 2}[fixture]
    assert directory_counts(network)["Service"] == expected


@needs_shared
def test_the_whole_examples_folder_imports_into_one_network_twice(db):
    network = make_network()
    paths = [*sorted(EXAMPLES.glob("*.json")), EXAMPLES / "csv"]
    for _ in range(2):
        for path in paths:
            import_ok(path, network)
    assert Service.objects.filter(network=network).count() == 1
    assert Organization.objects.filter(network=network).count() == 1


def test_a_service_given_without_organization_must_already_be_known(db, tmp_path):
    network = make_network()
    service = capacity_service(1)
    del service["organization"]
    sal = {
        "id": sid(1, "sal"),
        "service": service,
        "location": {"id": sid(1, "location"), "location_type": "physical"},  # as nested below
    }
    path = write_json(tmp_path, {"contents": [sal]})
    report = hsds_import(path=path, network=network)
    assert not report.written
    (error,) = report.errors
    assert (error.row, error.field) == (1, "service.organization_id")
    assert "no organization" in error.reason
    assert directory_counts(network)["Service"] == 0
    import_ok(write_json(tmp_path, [capacity_service(1)], name="first.json"), network)
    import_ok(path, network)  # now the service is known: its organization stays
    assert Service.objects.get().organization.name == "Recovery Homes 1"


@pytest.mark.parametrize(
    ("path", "version", "note"),
    [
        ("sample-data-1.1/all_resources", "1.1", "datapackage.json says 1.0"),
        ("v3.0/examples/csv", "3.0", "attributes.csv"),
        ("v3.0/examples/service_full.json", "3.0", "a single object of 1 service"),
        ("v3.0/examples/organization_list.json", "3.0", "a paginated API response"),
        ("v3.0/examples/tabular.json", "3.0", "tabular JSON"),
    ],
)
@needs_shared
def test_version_is_detected_from_the_files(path, version, note):
    dataset = read_dataset(SHARED / path)
    assert dataset.version == version
    assert note in dataset.version_note


@pytest.mark.parametrize(
    ("fixture", "version"), [("hsds-1.0", "1.0"), ("hsds-1.1.1", "1.1"), ("hsds-2.0.1", "2.0")]
)
def test_version_of_our_fixtures(fixture, version):
    assert read_dataset(FIXTURES / fixture).version == version


# --- mapping -------------------------------------------------------------------------------------


@needs_shared
def test_service_full_maps_onto_our_models(db):
    network = make_network()
    report = import_ok(SERVICE_FULL, network)
    service = Service.objects.get(network=network)
    assert str(service.hsds_id) == "ac148810-d857-441c-9679-408f346de14b"
    assert service.source_id == "ac148810-d857-441c-9679-408f346de14b"
    assert service.status == "active"
    assert service.alert.startswith("Following COVID-19")
    assert service.eligibility_description.startswith("This service is intended")
    assert (service.minimum_age, service.maximum_age) == (12, 100)
    assert service.fees_description.startswith("Non-NHS patients")
    assert service.last_verified_at == datetime(2005, 1, 1, tzinfo=UTC)  # assured_date
    organization = service.organization
    assert organization.name == "Example Organization Inc."
    assert organization.website == "http://example.com"
    assert organization.last_verified_at == datetime(2005, 1, 1, tzinfo=UTC)
    assert "Example Organization Inc." in service.search_text
    location = Location.objects.get(network=network)
    assert location.organization == organization
    assert (location.latitude, location.longitude) == (None, None)  # latitude 100 in the example
    assert any(
        d.field.endswith("latitude") and "outside -90..90" in d.reason for d in report.defaults
    )
    assert ServiceAtLocation.objects.get(network=network).location == location
    address = Address.objects.get(network=network)
    assert (address.address_type, address.city, address.country) == ("postal", "MyCity", "US")
    phone = Phone.objects.get(network=network)
    assert (phone.number, phone.extension) == ("+44 1234 234567", "100")
    assert (phone.service, phone.location, phone.organization) == (service, location, organization)
    assert phone.contact.name == "Ann Persona"
    language = Language.objects.get(network=network)
    assert (language.code, language.service, language.location, language.phone) == (
        "ur",
        service,
        location,
        phone,
    )
    schedule = Schedule.objects.get(network=network)
    assert (schedule.freq, schedule.byday) == ("WEEKLY", "TH,FR")
    assert (schedule.opens_at, schedule.closes_at) == (clock(10), clock(18))
    assert Contact.objects.get(network=network).service == service
    attribute = ServiceAttribute.objects.get(service=service)
    assert (attribute.term.code, attribute.term.taxonomy.name, attribute.value) == (
        "code",
        "name",
        "value",
    )
    # Nested structures Referloop does not keep are named by their table, like any field.
    assert {"organizations.funding", "services.funding", "services.cost_options"} <= set(
        report.not_imported
    )
    assert "organizations.logo" in report.not_imported


def test_hsds_1_0_layout_maps(db):
    network = make_network()
    report = import_ok(FIXTURES / "hsds-1.0", network)
    residential = Service.objects.get(network=network, source_id="svc-1")
    assert residential.eligibility_description == "adults 18 and over; Medicaid accepted"
    assert residential.fees_description == "Sliding scale"
    assert residential.wait_time == "2 weeks"
    legal = Service.objects.get(network=network, source_id="svc-2")
    assert legal.status == "inactive"
    assert legal.interpretation_services == "Somali"
    # 1.0 services name their location: that is a service_at_location.
    assert ServiceAtLocation.objects.get(service=residential).location.source_id == "loc-1"
    assert ServiceAtLocation.objects.get(service=legal).location.source_id == "loc-2"
    days = {
        s.source_id: (s.byday, s.opens_at, s.closes_at)
        for s in Schedule.objects.filter(network=network)
    }
    assert days == {
        "rs-1": ("MO", clock(8), clock(17)),
        "rs-2": ("TU", clock(8), clock(17, 30)),
        "rs-3": ("SU", clock(9), clock(12)),
    }
    terms = {a.term.code: a.term for a in ServiceAttribute.objects.filter(service=residential)}
    assert set(terms) == {"tx-detox", "tx-res"}
    assert terms["tx-detox"].parent.code == "tx-sud"
    assert terms["tx-detox"].taxonomy.name == "Imported terms"
    addresses = Address.objects.filter(network=network).order_by("address_type")
    assert [(a.address_type, a.country) for a in addresses] == [
        ("physical", "US"),
        ("postal", "US"),
    ]
    assert {x.code for x in Language.objects.filter(service=residential)} == {"en", "es"}
    harbor = Organization.objects.get(network=network, source_id="org-1")
    assert harbor.website == "https://harborlight.example.org"
    assert Contact.objects.get(network=network).organization == harbor
    assert "organizations.tax_id" in report.not_imported


def test_hsds_1_1_layout_maps(db):
    network = make_network()
    report = import_ok(FIXTURES / "hsds-1.1.1", network)
    women = Service.objects.get(source_id="7b1e9c3a-2f4d-4e8b-9a6c-0d1e2f3a4b01")
    workshop = Service.objects.get(source_id="7b1e9c3a-2f4d-4e8b-9a6c-0d1e2f3a4b03")
    assert Service.objects.get(name="Men's Recovery House").status == "temporarily closed"
    assert women.eligibility_description == "women 18+"
    assert women.fees_description == "$150 a week"
    house_phone = Phone.objects.get(number="(312) 555-0101")
    assert {x.code for x in house_phone.languages.all()} == {"en", "es"}
    desk = Phone.objects.get(number="(312) 555-0102")  # given by service_at_location_id only
    assert (desk.service, desk.location.name) == (workshop, "Workforce Center")
    assert Contact.objects.get(network=network).service == workshop
    by_day = {s.byday: s for s in Schedule.objects.filter(network=network)}
    assert (by_day["TU"].service, by_day["TU"].location.name) == (workshop, "Workforce Center")
    assert (by_day["TU"].opens_at, by_day["TU"].closes_at) == (clock(9, 30), clock(12))
    assert (by_day["SU"].opens_at, by_day["SU"].closes_at) == (clock(12), clock(20))
    attribute = ServiceAttribute.objects.get(service=women)
    assert (attribute.term.code, attribute.term.taxonomy.name) == ("BH-8000", "AIRS")
    assert attribute.value == "women only"
    assert "holiday_schedules" in report.not_imported
    parent_warning = next(w for w in report.warnings if w.field == "parent_id")
    assert (parent_warning.file, parent_warning.row) == ("taxonomy.csv", 2)


def test_hsds_2_0_layout_maps(db):
    network = make_network()
    report = import_ok(FIXTURES / "hsds-2.0.1", network)
    counseling = Service.objects.get(source_id="s-1")
    case = Service.objects.get(source_id="s-2")
    assert case.status == "defunct"
    schedules = {s.source_id: s for s in Schedule.objects.filter(network=network)}
    assert schedules["sc-1"].byday == "MO,TU,WE,TH"
    assert (schedules["sc-1"].opens_at, schedules["sc-1"].closes_at) == (clock(8), clock(17, 30))
    assert (schedules["sc-2"].service, schedules["sc-2"].location.source_id) == (case, "l-1")
    assert schedules["sc-2"].freq == "WEEKLY"
    assert (schedules["sc-2"].opens_at, schedules["sc-2"].closes_at) == (clock(7, 15), clock(15))
    term = ServiceAttribute.objects.get(service=counseling).term
    assert (term.name, term.taxonomy.name, term.parent.name) == (
        "Counseling",
        "Open Eligibility",
        "Behavioral health",
    )
    assert {x.code for x in Language.objects.filter(service=counseling)} == {"en", "vi"}
    assert Phone.objects.get().languages.get().code == "en"
    assert "other_attributes of organization records" in report.not_imported
    assert "funding" in report.not_imported


def test_capacity_units_map_and_set_the_service_summary(db, tmp_path):
    network = make_network()
    path = write_json(tmp_path, [capacity_service(1)])
    report = import_ok(path, network)
    assert "3.1" in report.version_note
    service = Service.objects.get(network=network)
    capacities = {c.unit: c for c in ServiceCapacity.objects.filter(service=service)}
    assert (capacities["beds"].available, capacities["beds"].maximum) == (3, 12)
    assert capacities["appointments"].waitlist is True
    assert service.has_capacity is True
    assert service.capacity_updated_at == datetime(2025, 5, 2, 10, tzinfo=UTC)
    assert CapacityReading.objects.count() == 2
    import_ok(path, network)
    assert CapacityReading.objects.count() == 2  # unchanged capacity: no new reading


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("bed", "beds"),
        ("Beds", "beds"),
        ("bed(s)", "beds"),
        ("Slot(s)", "slots"),
        ("places", "slots"),
        ("Appointment", "appointments"),
    ],
)
def test_unit_names(name, unit):
    assert parse.capacity_unit(name) == unit


def test_an_unknown_unit_is_a_row_error(db, tmp_path):
    network = make_network()
    service = capacity_service(1)
    service["capacities"][0]["unit"]["name"] = "Hours"
    report = hsds_import(path=write_json(tmp_path, [service]), network=network)
    assert not report.written
    (error,) = report.errors
    assert (error.file, error.row, error.field) == ("input.json", 1, "capacities[0].unit")
    assert "'Hours'" in error.reason
    assert directory_counts(network)["Service"] == 0


def test_available_above_maximum_is_a_row_error(db, tmp_path):
    service = capacity_service(1)
    service["capacities"][0]["available"] = 20
    report = hsds_import(path=write_json(tmp_path, [service]), network=make_network())
    assert [e.field for e in report.errors] == ["capacities[0].available"]


# --- all or nothing, partial, orphans ------------------------------------------------------------


def _break_status(folder):
    services = folder / "services.csv"
    text = services.read_text(encoding="utf-8")
    services.write_text(text.replace("temporarily closed", "open"), encoding="utf-8")


def test_one_bad_row_writes_nothing_and_names_file_row_field(db, tmp_path):
    network = make_network()
    folder = copy_fixture("hsds-1.1.1", tmp_path)
    _break_status(folder)
    before = global_counts()
    report = hsds_import(path=folder, network=network)
    assert not report.ok and not report.written
    (error,) = report.errors
    assert (error.file, error.row, error.field) == ("services.csv", 3, "status")
    assert "unknown status 'open'" in error.reason
    assert str(error).startswith("services.csv, row 3, status: unknown status 'open'")
    assert set(directory_counts(network).values()) == {0}
    assert global_counts() == before


def test_a_bad_row_checked_while_the_first_tables_are_written_still_writes_nothing(db, tmp_path):
    """Locations, schedules, addresses... are checked while the organizations, services, terms
    and capacities are being written: an error there takes those back too."""
    network = make_network()
    service = capacity_service(1)
    term = {
        "id": sid(1, "term"),
        "code": "sober-living-test",
        "name": "Sober living (test)",
        "taxonomy_detail": {"id": sid(1, "taxonomy"), "name": "Test needs"},
    }
    service["attributes"] = [
        {
            "id": sid(1, "attribute"),
            "link_id": service["id"],
            "link_entity": "service",
            "taxonomy_term_id": term["id"],
            "taxonomy_term": term,
        }
    ]
    service["schedules"] = [
        {"id": sid(1, "schedule"), "freq": "WEEKLY", "byday": "MO", "opens_at": "25:00"}
    ]
    path = write_json(tmp_path, [service])
    before = global_counts()
    report = hsds_import(path=path, network=network)
    (error,) = report.errors
    assert (error.row, error.field) == (1, "schedules[0].opens_at")
    assert not report.written and not report.counts
    assert "Nothing was written." in report.summary_lines()
    assert set(directory_counts(network).values()) == {0}
    assert global_counts() == before
    partial = hsds_import(path=path, network=network, partial=True)
    assert partial.written
    counts = directory_counts(network)
    assert (counts["Service"], counts["ServiceAttribute"], counts["ServiceCapacity"]) == (1, 1, 2)
    assert (counts["Location"], counts["Schedule"]) == (1, 0)


def test_partial_imports_the_valid_rows_and_reports_the_rest(db, tmp_path):
    network = make_network()
    folder = copy_fixture("hsds-1.1.1", tmp_path)
    _break_status(folder)
    report = hsds_import(path=folder, network=network, partial=True)
    assert report.written
    assert Service.objects.filter(network=network).count() == 2
    assert not Service.objects.filter(name="Men's Recovery House").exists()
    assert report.count("services").rejected == 1
    skipped = next(e for e in report.errors if e.file == "services_at_location.csv")
    assert skipped.row == 3
    assert "service '7b1e9c3a-2f4d-4e8b-9a6c-0d1e2f3a4b02' was not imported" in skipped.reason
    assert ServiceAtLocation.objects.filter(network=network).count() == 2


def test_a_service_whose_organization_is_missing_is_an_orphan(db, tmp_path):
    network = make_network()
    services = [
        {"id": "s-ok", "name": "Food Pantry", "status": "active", "organization_id": "o-1"},
        {"id": "s-orphan", "name": "Detox", "status": "active", "organization_id": "o-missing"},
    ]
    document = {
        "organizations.csv": [{"id": "o-1", "name": "Pantry", "description": ""}],
        "services.csv": services,
    }
    report = hsds_import(path=write_json(tmp_path, document), network=network)
    (error,) = report.errors
    assert error.field == "organization_id"
    assert "organization 'o-missing' is not in this file or the directory" in error.reason
    assert directory_counts(network)["Service"] == 0
    partial = hsds_import(path=write_json(tmp_path, document), network=network, partial=True)
    assert partial.written
    assert list(Service.objects.values_list("source_id", flat=True)) == ["s-ok"]


def test_a_phone_whose_service_is_missing_is_reported_not_dropped(db, tmp_path):
    network = make_network()
    folder = copy_fixture("hsds-1.1.1", tmp_path)
    with (folder / "phones.csv").open("a", encoding="utf-8") as phones:
        phones.write("e1e1e1e1-0000-4000-8000-000000000009,,no-such-service,,,,555-0199,,,,,\n")
    report = hsds_import(path=folder, network=network)
    (error,) = report.errors
    assert (error.file, error.row, error.field) == ("phones.csv", 4, "service_id")
    assert "service 'no-such-service'" in error.reason
    assert directory_counts(network)["Phone"] == 0


def test_links_to_rows_already_in_the_directory_resolve(db, tmp_path):
    network = make_network()
    import_ok(FIXTURES / "hsds-1.1.1", network)
    phones_only = tmp_path / "phones-only"
    phones_only.mkdir()
    (phones_only / "phones.csv").write_text(
        "id,service_id,number\nnew-phone,7b1e9c3a-2f4d-4e8b-9a6c-0d1e2f3a4b03,555-0123\n",
        encoding="utf-8",
    )
    import_ok(phones_only, network)
    assert Phone.objects.get(source_id="new-phone").service.name == "Job Readiness Workshop"


@needs_shared
def test_a_partial_object_does_not_erase_what_is_known(db):
    network = make_network()
    import_ok(SERVICE_FULL, network)
    # The list nests the location without its organization and without addresses.
    import_ok(EXAMPLES / "service_at_location_list.json", network)
    location = Location.objects.get(network=network)
    assert location.organization is not None
    assert location.addresses.count() == 1


def test_a_changed_row_is_updated_and_the_rest_left_alone(db, tmp_path):
    network = make_network()
    folder = copy_fixture("hsds-1.1.1", tmp_path)
    import_ok(folder, network)
    services = folder / "services.csv"
    services.write_text(
        services.read_text(encoding="utf-8").replace("Job Readiness Workshop", "Job Club"),
        encoding="utf-8",
    )
    report = import_ok(folder, network)
    assert (report.count("services").updated, report.count("services").unchanged) == (1, 2)
    assert report.count("organizations").unchanged == 2
    assert "Job Club" in Service.objects.get(name="Job Club").search_text


# --- bad input -----------------------------------------------------------------------------------


def _errors(tmp_path, document, **options):
    report = hsds_import(path=write_json(tmp_path, document), network=make_network(), **options)
    return report, {(e.row, e.field): e.reason for e in report.errors}


def test_unknown_status_and_location_type_are_row_errors(db, tmp_path):
    bad = capacity_service(1, status="open")
    bad["service_at_locations"][0]["location"]["location_type"] = "mobile"
    report, errors = _errors(tmp_path, [capacity_service(2), bad])
    assert "unknown status 'open'" in errors[(2, "status")]
    assert (
        "unknown location type 'mobile'"
        in errors[(2, "service_at_locations[0].location.location_type")]
    )
    assert not report.written


def test_ages_must_be_whole_numbers_in_order(db, tmp_path):
    _, errors = _errors(
        tmp_path,
        [
            capacity_service(1, minimum_age="twelve"),
            capacity_service(2, minimum_age=30, maximum_age=20),
            capacity_service(3, minimum_age=12.5),
        ],
    )
    assert errors[(1, "minimum_age")] == "'twelve' is not a whole number of years"
    assert "below the minimum age 30" in errors[(2, "maximum_age")]
    assert "whole" in errors[(3, "minimum_age")]


def test_coordinates_out_of_range_are_left_out_as_a_counted_default(db, tmp_path):
    far = capacity_service(1)
    far["service_at_locations"][0]["location"]["longitude"] = -200
    report = import_ok(write_json(tmp_path, [far]), make_network())
    (default,) = report.defaults
    assert default.field == "service_at_locations[0].location.longitude"
    assert "outside -180..180" in default.reason
    assert Location.objects.get().latitude is None
    assert report.totals()["defaulted"] == 1


def test_coordinates_that_are_not_numbers_leave_the_location_without_a_point(db, tmp_path):
    bad = capacity_service(1)
    bad["service_at_locations"][0]["location"]["latitude"] = "north"
    report = import_ok(write_json(tmp_path, [bad]), make_network())
    (problem,) = report.problems  # not also "longitude left out"
    assert problem.severity == "default"
    assert problem.field == "service_at_locations[0].location.latitude"
    assert "'north' is not a number" in problem.reason
    location = Location.objects.get()
    assert (location.latitude, location.longitude) == (None, None)


def test_missing_required_fields_are_row_errors(db, tmp_path):
    folder = copy_fixture("hsds-1.1.1", tmp_path)
    (folder / "regular_schedules.csv").write_text(
        "id,service_id,weekday,opens_at\n"
        "r-1,7b1e9c3a-2f4d-4e8b-9a6c-0d1e2f3a4b01,,9am\n"
        "r-2,7b1e9c3a-2f4d-4e8b-9a6c-0d1e2f3a4b01,Friday,25:00\n",
        encoding="utf-8",
    )
    organizations = folder / "organizations.csv"
    organizations.write_text(
        organizations.read_text(encoding="utf-8").replace("Second Chance Employment", ""),
        encoding="utf-8",
    )
    report = hsds_import(path=folder, network=make_network())
    errors = {(e.file, e.row, e.field): e.reason for e in report.errors}
    assert errors[("regular_schedules.csv", 2, "weekday")] == "is required"
    assert "'25:00' is not a time of day" in errors[("regular_schedules.csv", 3, "opens_at")]
    assert errors[("organizations.csv", 3, "name")] == "is required"


def test_malformed_json_is_one_clear_error(db, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"id": "x", "name": ]', encoding="utf-8")
    report = hsds_import(path=path, network=make_network())
    (error,) = report.errors
    assert error.file == "broken.json"
    assert "malformed JSON" in error.reason and "line 1" in error.reason


def test_json_only_pythons_reader_takes_is_read_and_checked_all_the_same(db, tmp_path):
    # The fast JSON reader refuses NaN; the file is read again by Python's, and the value is
    # then judged like any other.
    document = json.dumps([capacity_service(1)]).replace("39.78", "NaN")
    path = tmp_path / "nan.json"
    path.write_text(document, encoding="utf-8")
    report = import_ok(path, make_network())
    (default,) = report.defaults
    assert default.field == "service_at_locations[0].location.latitude"
    assert "'nan' is not a number" in default.reason


def test_uuid_ids_keep_their_value_in_any_case_and_one_spelt_twice_is_not_shared(db, tmp_path):
    upper = capacity_service(1)
    upper["id"] = upper["id"].upper()
    lower = capacity_service(2)
    lower["id"] = upper["id"].lower()
    import_ok(write_json(tmp_path, [upper, lower]), make_network())
    services = Service.objects.order_by("pk")
    assert [service.source_id for service in services] == [upper["id"], lower["id"]]
    assert str(services[0].hsds_id) == lower["id"]
    assert services[1].hsds_id != services[0].hsds_id


@pytest.mark.parametrize("outcome", ["imported", "refused"])
def test_an_import_leaves_the_garbage_collector_as_it_found_it(db, tmp_path, outcome):
    document = [capacity_service(1)] if outcome == "imported" else "[{"
    path = tmp_path / "input.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), "utf-8")
    assert gc.isenabled()
    hsds_import(path=path, network=make_network())
    assert gc.isenabled()
    gc.disable()
    try:
        hsds_import(path=path, network=make_network("south"))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_malformed_csv_rows_are_errors(db, tmp_path):
    folder = copy_fixture("hsds-1.1.1", tmp_path)
    with (folder / "locations.csv").open("a", encoding="utf-8") as locations:
        locations.write("loc-x,,Too,Many,Values,Here,1,2,3,4\n")
    with (folder / "contacts.csv").open("a", encoding="utf-8") as contacts:
        contacts.write('ct-x,,,,"unterminated\n')
    report = hsds_import(path=folder, network=make_network())
    reasons = {(e.file, e.row): e.reason for e in report.errors}
    assert "has 10 values but the header has 8 columns" in reasons[("locations.csv", 4)]
    assert "malformed CSV" in reasons[("contacts.csv", 3)]
    assert not report.written


def _only_error(path, network) -> str:
    report = hsds_import(path=path, network=network)
    (error,) = report.errors
    assert not report.written
    return error.reason


def test_files_that_would_break_the_reader_are_one_clear_error(db, tmp_path):
    network = make_network()
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 20000 + "]" * 20000, encoding="utf-8")
    assert _only_error(deep, network) == "malformed JSON: lists or objects nested too deeply"
    # Two "Git symlinks" naming each other: the first pointer is followed, not the second.
    (tmp_path / "a.json").write_text("b.json", encoding="utf-8")
    (tmp_path / "b.json").write_text("a.json", encoding="utf-8")
    assert _only_error(tmp_path / "a.json", network).startswith("malformed JSON")
    long_name = tmp_path / ("a" * 300 + ".json")
    assert _only_error(long_name, network) == "cannot read: File name too long"


def test_a_package_reads_only_its_own_folder_and_any_csv_name(db, tmp_path):
    folder = copy_fixture("hsds-1.1.1", tmp_path)
    (folder / "organizations.csv").rename(folder / "Organizations.CSV")
    (folder / "datapackage.json").write_text(
        json.dumps({"resources": [{"path": "/etc/hostname"}, {"path": "x" * 300 + ".csv"}]}),
        encoding="utf-8",
    )
    report = import_ok(folder, make_network())
    assert report.count("organizations").created > 0  # Organizations.CSV was read
    warnings = {(w.file, w.reason) for w in report.warnings}
    assert ("/etc/hostname", "outside the package's folder: not read") in warnings
    assert ("x" * 200, "listed in datapackage.json but not found") in warnings


def test_a_malformed_csv_row_is_its_own_error_and_the_other_rows_are_read(db, tmp_path):
    folder = copy_fixture("hsds-1.1.1", tmp_path)
    services = folder / "services.csv"
    lines = services.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(2, 'broken-svc,,,"Bad"x,,,,,active,,,,,,,\n')  # between rows 2 and 3
    services.write_text("".join(lines), encoding="utf-8")
    network = make_network()
    report = hsds_import(path=folder, network=network, partial=True)
    (error,) = [e for e in report.errors if e.file == "services.csv"]
    assert (error.row, error.reason) == (3, "malformed CSV: ',' expected after '\"'")
    assert report.written
    names = set(Service.objects.filter(network=network).values_list("name", flat=True))
    assert names == {"Women's Recovery House", "Men's Recovery House", "Job Readiness Workshop"}


def test_a_path_that_is_not_hsds_is_an_error(db, tmp_path):
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    for path in (tmp_path / "notes.txt", tmp_path / "missing.json"):
        report = hsds_import(path=path, network=make_network(slug=path.stem))
        assert len(report.errors) == 1 and not report.written


# --- encodings -----------------------------------------------------------------------------------

NAME = "Café Niño Recovery"


@pytest.mark.parametrize(
    ("encode", "warned"),
    [
        (lambda text: text.encode("utf-8"), False),
        (lambda text: codecs.BOM_UTF8 + text.encode("utf-8"), False),
        (lambda text: text.encode("latin-1"), True),
        (lambda text: text.encode("utf-16"), False),
    ],
    ids=["utf-8", "utf-8 with BOM", "latin-1", "utf-16"],
)
def test_encodings_and_embedded_newlines(db, tmp_path, encode, warned):
    network = make_network()
    folder = copy_fixture("hsds-1.1.1", tmp_path)
    organizations = folder / "organizations.csv"
    text = organizations.read_text(encoding="utf-8").replace("Northside Recovery House", NAME)
    text = text.replace("Sober living for men and women.", '"Sober living.\nTwo houses."')
    # A bad row after the multi-line field is reported at its spreadsheet row, not its line.
    text += "broken-org,,,,,,,,nineteen-ninety,\n"
    organizations.write_bytes(encode(text))
    report = hsds_import(path=folder, network=network)
    errors = {(e.file, e.row, e.field) for e in report.errors}
    assert errors == {
        ("organizations.csv", 4, "name"),
        ("organizations.csv", 4, "year_incorporated"),
    }
    assert any("not UTF-8" in w.reason for w in report.warnings) is warned
    assert not report.written
    hsds_import(path=folder, network=network, partial=True)
    organization = Organization.objects.get(network=network, name=NAME)
    assert organization.description == "Sober living.\nTwo houses."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08:00", clock(8)),
        ("8:00", clock(8)),
        ("8:00am", clock(8)),
        ("8am", clock(8)),
        ("8 AM", clock(8)),
        ("17:30:00", clock(17, 30)),
        ("5:30 PM", clock(17, 30)),
        ("5:30pm", clock(17, 30)),
        ("12am", clock(0)),
        ("12:15 pm", clock(12, 15)),
        ("8:00 a.m.", clock(8)),
        ("noon", clock(12)),
        ("10:00:00Z", clock(10)),
    ],
)
def test_twelve_and_twenty_four_hour_times_parse(text, expected):
    assert parse.clock_time(text) == expected


@pytest.mark.parametrize("text", ["25:00", "13pm", "8", "eight", "8:75"])
def test_bad_times_say_why(text):
    with pytest.raises(parse.BadValue, match=f"'{text}'"):
        parse.clock_time(text)


# --- bulk writes ---------------------------------------------------------------------------------


def test_two_thousand_services_import_in_a_bounded_number_of_queries(
    db, tmp_path, django_assert_max_num_queries
):
    """A smoke test of the bulk path (not a timing assertion): the number of queries does not
    grow with the number of rows."""
    network = make_network()
    path = write_json(tmp_path, {"contents": [capacity_service(n) for n in range(2000)]})
    started = time.perf_counter()
    with django_assert_max_num_queries(250):
        report = hsds_import(path=path, network=network)
    elapsed = time.perf_counter() - started
    assert report.ok, report.problem_lines(limit=5)
    assert report.count("services").created == 2000
    assert ServiceCapacity.objects.filter(network=network).count() == 4000
    print(f"\n2,000 services (16,000 rows) imported in {elapsed:.2f} s")
    with django_assert_max_num_queries(250):
        again = hsds_import(path=path, network=network)
    assert again.count("services").unchanged == 2000
    assert again.count("service_capacities").unchanged == 4000


def test_a_row_the_database_refuses_is_reported_and_nothing_is_written(db, tmp_path, monkeypatch):
    """What the checks cannot foresee (here a primary key another writer took) the database
    refuses, on PostgreSQL in the middle of the writer thread's COPYs. The report names the
    refusal itself, not the aborted transaction the next query met, and nothing is written."""
    from referloop.directory.hsds import services as importer

    import_ok(write_json(tmp_path, [capacity_service(1)], "south.json"), make_network("south"))
    taken = Location.objects.get().pk
    reserve_ids = importer.reserve_ids
    monkeypatch.setattr(
        importer,
        "reserve_ids",
        lambda model, count: [taken] * count if model is Location else reserve_ids(model, count),
    )
    network = make_network()
    report = hsds_import(path=write_json(tmp_path, [capacity_service(2)]), network=network)
    assert not report.written
    [refusal] = report.errors
    assert refusal.reason.startswith("the database refused the import (")
    assert "directory_location" in refusal.reason
    assert "aborted" not in refusal.reason
    assert set(directory_counts(network).values()) == {0}
    assert Location.objects.count() == 1  # the connection goes on


def test_after_an_import_links_are_checked_at_commit_again(db, tmp_path):
    """The writer checks each table's links as its COPY ends; afterwards the transaction checks
    them at commit again, as Django declares them, so a row may name one created after it."""
    network = make_network()
    import_ok(write_json(tmp_path, [capacity_service(1)]), network)
    later = Organization.objects.get().pk + 1000
    Service.objects.create(network=network, organization_id=later, name="Made first")
    Organization.objects.create(pk=later, network=network, name="Made second")
    assert Service.objects.get(name="Made first").organization.name == "Made second"


def test_imported_services_are_found_by_the_directory_search(db, tmp_path):
    from referloop.directory.search import DirectoryQuery, directory_search

    def found(text: str) -> list[str]:
        page = directory_search(network=network, query=DirectoryQuery(text=text))
        return [result.service.name for result in page.results]

    network = make_network()
    folder = copy_fixture("hsds-2.0.1", tmp_path)
    import_ok(folder, network)  # new services: their search text is written as they are inserted
    assert found("family therapy") == ["Outpatient Counseling"]
    organizations = folder / "organizations.csv"
    text = organizations.read_text(encoding="utf-8").replace("Riverbend", "Lakeside")
    organizations.write_text(text, encoding="utf-8")
    import_ok(folder, network)  # a renamed organization reaches its services' search text
    assert found("lakeside") == ["Outpatient Counseling"]
    assert found("riverbend") == []
    import_ok(FIXTURES / "hsds-1.1.1", network)
    assert found("homes") == ["Women's Recovery House"]  # only its taxonomy term says "Homes"


def test_a_file_never_overwrites_a_newer_capacity(cast, tmp_path):
    from referloop.directory.services import capacity_update

    network = cast.network
    path = write_json(tmp_path, [capacity_service(1)])  # 3 beds as of 2025-05-01
    import_ok(path, network)
    service = Service.objects.get(network=network)
    capacity_update(
        service=service, unit="beds", available=7, maximum=12, waitlist=False, actor=cast.admin_a
    )
    report = import_ok(path, network)
    beds = ServiceCapacity.objects.get(service=service, unit="beds")
    assert (beds.available, beds.updated_by) == (7, cast.admin_a)
    (warning,) = report.warnings
    assert warning.field == "capacities[0].updated"
    assert "is newer than this file's; kept it" in warning.reason
    newer = capacity_service(1)
    newer["capacities"][0].update(available=5, updated="2099-01-01T00:00:00Z")
    import_ok(write_json(tmp_path, [newer], name="newer.json"), network)
    beds.refresh_from_db()
    assert (beds.available, beds.updated_by) == (5, None)
    assert beds.readings.count() == 3  # imported, updated by hand, imported again


def test_an_import_never_rewrites_referloops_own_vocabularies(db, tmp_path):
    """Search matches on them in every network: one network's file only links to them."""
    (detox,) = factories.terms(NEEDS, ["detox"])
    needs = detox.taxonomy
    before = (detox.name, detox.description, needs.description, needs.version)
    service = capacity_service(1)
    service["attributes"] = [
        {
            "id": "attribute-1",
            "taxonomy_term_id": str(detox.hsds_id),
            "taxonomy_term": {
                "id": str(detox.hsds_id),
                "code": "detox",
                "name": "Renamed by another network",
                "description": "x",
                "taxonomy_detail": {"id": str(needs.hsds_id), "name": NEEDS, "version": "9"},
            },
        }
    ]
    import_ok(write_json(tmp_path, [service]), make_network())
    detox.refresh_from_db()
    needs.refresh_from_db()
    assert (detox.name, detox.description, needs.description, needs.version) == before
    assert ServiceAttribute.objects.get().term == detox  # linked all the same


def test_one_id_given_twice_with_different_values_is_an_error(db, tmp_path):
    first, second = capacity_service(1), capacity_service(1)
    second["name"] = "Another name"
    second["organization"] = {"id": sid(1, "organization")}  # says less: not a contradiction
    report = hsds_import(path=write_json(tmp_path, [first, second]), network=make_network())
    (error,) = report.errors
    assert (error.row, error.field) == (2, "name")
    assert error.reason == f"duplicate id '{sid(1)}' with another name (first at name, row 1)"
    assert not report.written


def test_a_list_or_object_for_a_single_value_is_an_error(db, tmp_path):
    service = capacity_service(1, name=["Recovery House", "Casa"], email=["a@b.org"])
    service["funding"] = [{"id": "f1", "source": "county"}]  # not kept: not an error
    report = hsds_import(path=write_json(tmp_path, [service]), network=make_network())
    problems = {(p.field, p.severity): p.reason for p in report.problems}
    expected = "expected a single value, not a nested object or list"
    assert problems[("name", "error")] == expected
    assert problems[("email", "warning")] == f"{expected}; left empty"
    assert "services.funding" in report.not_imported
    assert not report.written


@pytest.mark.parametrize("services_first", [False, True])
def test_a_list_mixing_services_and_organizations_names_the_odd_one_out(
    db, tmp_path, services_first
):
    organization = {"id": "o-mix", "name": "Mixed Org", "website": "https://mixed.example.org"}
    service = {"id": "s-mix", "name": "Mixed Service", "status": "active"}
    service["organization_id"] = "o-mix"
    organization["tax_status"] = "501c3"
    items = [service, organization] if services_first else [organization, service]
    network = make_network()
    report = hsds_import(path=write_json(tmp_path, items), network=network, partial=True)
    # The list is read as the kind most of its keys say; the other object is named, not misfiled.
    (odd,) = [e for e in report.errors if e.reason.startswith("looks like")]
    assert odd.reason.endswith("give one kind of object per list")
    assert not Organization.objects.filter(network=network, name="Mixed Service").exists()
    assert not Service.objects.filter(network=network, name="Mixed Org").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02", date(2024, 1, 2)),
        ("2024-01-02T09:30:00Z", date(2024, 1, 2)),
        ("2024-01-02 09:30", date(2024, 1, 2)),
        ("2024-01-02garbage", None),
        ("02/01/2024", None),
    ],
)
def test_dates_are_whole_iso_dates(text, expected):
    if expected is None:
        with pytest.raises(parse.BadValue, match="is not a date"):
            parse.iso_date(text)
    else:
        assert parse.iso_date(text) == expected
