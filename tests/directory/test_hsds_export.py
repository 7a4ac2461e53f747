"""HSDS export: the JSON validates against the HSDS 3.0 compiled schema (and, with capacity,
against HSDS 3.1's service schema); the tabular package has the 3.0 columns and round-trips into
another network; neither issues a query per service."""

import csv
import json
from functools import cache

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from referloop.directory.hsds.readers import read_dataset
from referloop.directory.hsds.selectors import (
    hsds_export_json,
    hsds_export_tabular,
    hsds_write_json,
)
from referloop.directory.models import Contact, Phone
from tests.directory.hsds_support import (
    EXAMPLES,
    FIXTURES,
    SCHEMAS,
    SHARED,
    capacity_service,
    directory_counts,
    global_counts,
    import_ok,
    make_network,
    needs_shared,
    write_json,
)

pytestmark = needs_shared


@cache
def _schema(path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _validator_30() -> Draft202012Validator:
    """The compiled (self-contained) HSDS 3.0 service schema."""
    return Draft202012Validator(_schema(SCHEMAS / "service.json"), format_checker=FormatChecker())


def _validator_31() -> Draft202012Validator:
    """HSDS 3.1's service schema, whose `$ref`s name sibling files: 3.1's own where it has them
    (service, service_capacity, unit, url), 3.0's for the rest."""
    files = {p.name: p for p in (SHARED / "v3.0" / "schema").glob("*.json")}
    files.update({p.name: p for p in (SHARED / "v3.1-dev" / "schema").glob("*.json")})
    registry = Registry().with_resources(
        (name, Resource.from_contents(_schema(path), default_specification=DRAFT202012))
        for name, path in files.items()
    )
    return Draft202012Validator(
        _schema(files["service.json"]), registry=registry, format_checker=FormatChecker()
    )


def _errors(validator, item) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(item)]


@pytest.fixture
def directory(db, tmp_path):
    """A network holding every kind of source: 3.0 JSON, 1.x/2.0 tabular, 3.1 capacity."""
    network = make_network()
    for path in (
        EXAMPLES / "service_full.json",
        SHARED / "sample-data-1.1" / "all_resources",
        FIXTURES / "hsds-1.0",
        FIXTURES / "hsds-2.0.1",
        write_json(tmp_path, [capacity_service(1), capacity_service(2)], name="capacity.json"),
    ):
        import_ok(path, network)
    return network


def test_exported_json_validates_against_the_hsds_3_0_compiled_schema(directory):
    items = hsds_export_json(network=directory)
    assert len(items) == 20
    validator = _validator_30()
    for item in items:
        assert _errors(validator, item) == [], item["name"]
    full = next(i for i in items if i["id"] == "ac148810-d857-441c-9679-408f346de14b")
    assert full["organization"]["name"] == "Example Organization Inc."
    location = full["service_at_locations"][0]["location"]
    assert location["addresses"][0]["address_type"] == "postal"
    assert "latitude" not in location  # the example's 100 was not kept
    assert full["phones"][0]["extension"] == 100
    assert full["attributes"][0]["taxonomy_term"]["taxonomy_detail"]["name"] == "name"
    assert {"schedules", "languages", "contacts", "service_areas", "required_documents"} <= set(
        full
    )


def test_capacity_is_exported_as_hsds_3_1_capacities(directory):
    items = {i["name"]: i for i in hsds_export_json(network=directory)}
    capacities = items["Recovery House 1"]["capacities"]
    assert [(c["unit"]["name"], c["available"], c.get("maximum")) for c in capacities] == [
        ("appointments", 0, None),
        ("beds", 3, 12),
    ]
    assert capacities[0]["waitlist"] is True
    # The 3.0 schema leaves additional properties open, so 3.1's `capacities` is valid 3.0...
    assert _errors(_validator_30(), items["Recovery House 1"]) == []
    # ...and it is what HSDS 3.1 defines.
    validator = _validator_31()
    for item in items.values():
        assert _errors(validator, item) == [], item["name"]


def test_json_export_does_not_query_per_service(db, tmp_path):
    def queries(count: int) -> int:
        network = make_network(f"n{count}")
        document = [capacity_service(100 * count + n) for n in range(count)]
        import_ok(write_json(tmp_path, document), network)
        with CaptureQueriesContext(connection) as captured:
            assert len(hsds_export_json(network=network)) == count
        return len(captured)

    assert queries(2) == queries(25)


def test_tabular_export_round_trips_into_another_network(directory, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    hsds_export_tabular(network=directory, directory=first)
    copy = make_network("copy")
    import_ok(first, copy)
    assert directory_counts(copy) == directory_counts(directory)
    hsds_export_tabular(network=copy, directory=second)
    for path in sorted(first.glob("*.csv")):
        ours, theirs = _read_csv(path), _read_csv(second / path.name)
        if path.name == "services.csv":
            for a, b in zip(ours, theirs, strict=True):
                a.pop("last_modified"), b.pop("last_modified")  # when each copy was written
        assert ours == theirs, path.name


def test_json_export_round_trips_into_another_network(directory, tmp_path):
    path = tmp_path / "services.json"
    assert hsds_write_json(network=directory, path=path) == 20
    copy = make_network("copy")
    import_ok(path, copy)
    # The JSON is service-centred: an organization's own phones and contacts travel with it,
    # but locations no service uses are in the tabular export only.
    own = {"service": None, "location": None, "contact": None}
    assert Phone.objects.filter(network=directory, **own).exists()
    assert Contact.objects.filter(network=directory, service=None).exists()
    ours, theirs = directory_counts(directory), directory_counts(copy)
    for model in (
        "Service",
        "ServiceAtLocation",
        "ServiceCapacity",
        "ServiceAttribute",
        "Phone",
        "Contact",
        "Language",
    ):
        assert ours[model] == theirs[model], model
    exported, copied = json.loads(path.read_text("utf-8")), hsds_export_json(network=copy)
    assert _comparable(copied) == _comparable(exported)


@pytest.mark.parametrize("form", ["json", "tabular"])
def test_the_networks_own_export_imported_back_changes_nothing(directory, tmp_path, form):
    """The export names each row by its hsds_id, not by the id its source gave it (a non-UUID
    such as "org-1"): importing it back matches every row by that id, again and again."""
    path = tmp_path / ("services.json" if form == "json" else "package")
    if form == "json":
        hsds_write_json(network=directory, path=path)
    else:
        hsds_export_tabular(network=directory, directory=path)
    before = (directory_counts(directory), global_counts())
    for _ in range(2):
        report = import_ok(path, directory)
        assert (directory_counts(directory), global_counts()) == before  # readings too
        assert {table: counts.created for table, counts in report.counts.items()} == {
            table: 0 for table in report.counts
        }
        assert all(counts.updated == 0 for counts in report.counts.values()), report.counts


def _comparable(items: list[dict]) -> dict:
    """Services by id, lists in id order (the order rows were inserted differs); last_modified
    dropped (when each copy was written)."""

    def ordered(value):
        if isinstance(value, dict):
            return {k: ordered(v) for k, v in value.items()}
        if isinstance(value, list):
            return sorted((ordered(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
        return value

    result = {}
    for item in items:
        item = dict(item)
        item.pop("last_modified")
        result[item["id"]] = ordered(item)
    return result


def _read_csv(path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as stream:
        return sorted(csv.DictReader(stream), key=lambda row: row.get("id", ""))


def test_tabular_export_has_the_hsds_3_0_columns_and_describes_every_file(directory, tmp_path):
    counts = hsds_export_tabular(network=directory, directory=tmp_path / "out")
    assert counts["services.csv"] == 20
    descriptor = json.loads((tmp_path / "out" / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["profile"] == "tabular-data-package"
    standard = json.loads((SHARED / "v3.0" / "datapackage.json").read_text(encoding="utf-8"))
    columns_30 = {
        r["path"]: [f["name"] for f in r["schema"]["fields"]] for r in standard["resources"]
    }
    capacity_31 = _schema(SHARED / "v3.1-dev" / "schema" / "service_capacity.json")
    unit_31 = _schema(SHARED / "v3.1-dev" / "schema" / "unit.json")
    described = {r["path"] for r in descriptor["resources"]}
    assert described == {p.name for p in (tmp_path / "out").glob("*.csv")}
    for resource in descriptor["resources"]:
        with (tmp_path / "out" / resource["path"]).open(encoding="utf-8", newline="") as stream:
            header = next(csv.reader(stream))
        assert header == [f["name"] for f in resource["schema"]["fields"]]
        if resource["path"] in columns_30:
            assert header == columns_30[resource["path"]], resource["path"]
    tabular_31 = {
        "service_capacity.csv": [
            n for n in capacity_31["properties"] if n not in ("unit", "attributes", "metadata")
        ],
        "units.csv": [n for n in unit_31["properties"] if n not in ("attributes", "metadata")],
    }
    for name, fields in tabular_31.items():
        header = _read_header(tmp_path / "out" / name)
        assert set(fields) <= set(header)
        assert set(header) - set(fields) <= {"waitlist"}  # our documented extension
    assert read_dataset(tmp_path / "out").version == "3.0"


def _read_header(path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as stream:
        return next(csv.reader(stream))


def test_capacity_round_trips_through_the_tabular_package(db, tmp_path):
    source = make_network()
    import_ok(write_json(tmp_path, [capacity_service(1)]), source)
    hsds_export_tabular(network=source, directory=tmp_path / "out")
    copy = make_network("copy")
    import_ok(tmp_path / "out", copy)
    exported = {c["unit"]["name"]: c for c in hsds_export_json(network=copy)[0]["capacities"]}
    assert exported["beds"]["available"] == 3
    assert exported["appointments"]["waitlist"] is True
    assert exported["beds"]["updated"] == "2025-05-01T09:30:00Z"


@pytest.mark.parametrize("form", ["json", "tabular"])
def test_named_kinds_of_beds_round_trip_and_import_back_unchanged(db, tmp_path, form):
    """A capacity feed counts "Men's beds" and "Women's beds" as two capacities in beds: the
    export names each kind (HSDS 3.1 unit.name, its unit in unit.identifier), and the network's
    own export imported back, or into another network, keeps them apart."""
    from referloop.directory.models import ServiceCapacity

    source = make_network()
    import_ok(write_json(tmp_path, [capacity_service(1)]), source)
    beds = ServiceCapacity.objects.get(service__network=source, unit="beds")
    ServiceCapacity.objects.create(
        network=source,
        service=beds.service,
        unit="beds",
        name="Women's beds",
        available=2,
        maximum=8,
        updated_at=beds.updated_at,
    )
    beds.name = "Men's beds"
    beds.save(update_fields=["name"])
    path = tmp_path / ("services.json" if form == "json" else "package")
    if form == "json":
        hsds_write_json(network=source, path=path)
    else:
        hsds_export_tabular(network=source, directory=path)
    before = directory_counts(source)
    report = import_ok(path, source)
    assert directory_counts(source) == before
    assert report.counts["service_capacities"].created == 0
    assert report.counts["service_capacities"].updated == 0
    copy = make_network("copy")
    import_ok(path, copy)
    kinds = {
        (c.unit, c.name, c.available)
        for c in ServiceCapacity.objects.filter(service__network=copy, unit="beds")
    }
    assert kinds == {("beds", "Men's beds", 3), ("beds", "Women's beds", 2)}
