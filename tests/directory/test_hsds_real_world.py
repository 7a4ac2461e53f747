"""HSDS as 211 networks actually publish it: ZIP downloads, datapackages whose paths miss the
layout, blanks with a clear intent (counted defaults), pre-HSDS (Ohana-style) CSV exports, and
orphans reported by cause with counts — with exact report numbers and idempotent re-imports."""

import json
import shutil
import zipfile
from datetime import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from referloop.directory.hsds.services import hsds_import
from referloop.directory.models import (
    Language,
    Location,
    Organization,
    Schedule,
    Service,
    ServiceArea,
    ServiceAttribute,
)
from tests.directory.dirty_hsds import Dirt, write_dirty_zip
from tests.directory.hsds_support import (
    FIXTURES,
    capacity_service,
    directory_counts,
    import_ok,
    make_network,
    write_json,
)

DIRTY = Path(__file__).parents[1] / "fixtures" / "hsds-dirty"
OHANA = DIRTY / "ohana"


def groups(report) -> dict[tuple[str, str, str], int]:
    return {(g.severity, g.field, g.cause): g.count for g in report.groups()}


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue() + f"\nCommandError: {exc}"
    return out.getvalue(), err.getvalue()


# --- a dirty 211 download ----------------------------------------------------------------------


def test_strict_import_of_a_dirty_zip_refuses_the_whole_file_naming_the_orphans(db, tmp_path):
    network = make_network()
    report = hsds_import(path=write_dirty_zip(tmp_path / "export.zip"), network=network)
    assert not report.written
    assert directory_counts(network)["Service"] == 0
    assert (
        groups(report)[
            ("error", "organization_id", "organization … is not in this file or the directory")
        ]
        == 7
    )
    assert len(report.errors) == 7
    assert report.totals()["imported"] == 0


def test_partial_import_of_a_dirty_zip_imports_the_rest_with_counted_defaults(db, tmp_path):
    network = make_network()
    path = write_dirty_zip(tmp_path / "export.zip")
    report = hsds_import(path=path, network=network, partial=True)
    assert report.written
    assert report.counts["services"].created == 53
    assert report.counts["services"].rejected == 7
    assert report.counts["locations"].created == 62
    assert report.counts["schedules"].created == 53
    found = groups(report)
    assert found[("default", "status", "is blank: imported as active")] == 5
    no_point = "the location was imported without coordinates (listed, not found by distance)"
    assert found[("default", "latitude", f"no coordinates: {no_point}")] == 4
    assert found[("default", "latitude", f"… is not a number: {no_point}")] == 3
    assert (
        found[("warning", "resources.path", "names a path where there is no file: found by name")]
        == 6
    )
    unused = (
        "no service in this file is offered at this location: imported, but no search finds it "
        "until one is"
    )
    assert found[("warning", "id", unused)] == 2
    assert found[("warning", "", "is not UTF-8: encoding guessed")] == 1
    totals = report.totals()
    assert totals == {
        "read": report.read,
        "imported": report.read - 7 * 4,  # each orphan service, its link, schedule and phone
        "skipped": 7 * 4,
        "defaulted": 12,
        "errors": 28,
        "warnings": found[
            (
                "warning",
                "organization_id",
                "organization … is not in this file or the directory; link left out",
            )
        ]
        + 6
        + 2
        + 1,
    }
    assert Service.objects.filter(network=network, status="active").count() == 53
    assert Organization.objects.get(network=network, name="Organización Niño 0")  # cp1252 read
    schedule = Schedule.objects.filter(service__network=network).first()
    assert (schedule.opens_at, schedule.closes_at) == (time(9, 0), time(17, 30))
    assert Location.objects.filter(network=network, latitude__isnull=True).count() == 7
    # Importing the same file again changes nothing.
    again = hsds_import(path=path, network=network, partial=True)
    assert all(counts.created == counts.updated == 0 for counts in again.counts.values())
    assert again.counts["services"].unchanged == 53


def test_a_few_thousand_dirty_services_report_on_one_screen(db, tmp_path):
    make_network()
    dirt = Dirt(services=3000, orphans=447, blank_status=120, no_coordinates=80, bad_coordinates=40)
    path = write_dirty_zip(tmp_path / "county.zip", dirt)
    report_file = tmp_path / "report.json"
    out, err = run("import", "hsds", str(path), "--partial", "--report", str(report_file))
    lines = (out + err).strip().splitlines()
    assert len(lines) < 40, "\n".join(lines)
    assert "447 × data/Services.csv, organization_id: organization … is not in this file" in err
    assert "services: 2,553 created, 0 updated, 0 unchanged, 447 rejected" in out
    assert "the valid rows were imported (--partial)" in err  # and the command fails
    saved = json.loads(report_file.read_text())
    assert saved["written"] is True
    assert saved["totals"]["skipped"] == 447 * 4
    assert saved["totals"]["defaulted"] == 240
    orphans = next(
        g for g in saved["groups"] if g["field"] == "organization_id" and g["severity"] == "error"
    )
    assert orphans["count"] == 447 and len(orphans["examples"]) == 3
    assert len(saved["problems"]) == saved["totals"]["errors"] + saved["totals"]["warnings"] + 240


def test_dry_run_checks_everything_and_changes_nothing(db, tmp_path):
    network = make_network()
    report = hsds_import(path=OHANA, network=network, dry_run=True)
    assert report.ok and not report.written
    assert report.counts["services"].created == 3
    assert directory_counts(network)["Service"] == 0
    out, _ = run("import", "hsds", str(OHANA), "--dry-run")
    assert "Dry run: nothing was changed." in out
    assert "would import" in out


# --- the shapes of a download ------------------------------------------------------------------


def _zip(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, prefix + file.relative_to(folder).as_posix())
    return target


def test_a_zip_of_csv_files_nested_in_folders_imports_like_the_folder(db, tmp_path):
    network = make_network()
    path = _zip(FIXTURES / "hsds-1.1.1", tmp_path / "download.zip", prefix="211/2026/")
    report = import_ok(path, network)
    assert report.counts["services"].created == 3
    assert import_ok(path, network).counts["services"].unchanged == 3


def test_a_zip_named_json_is_read_as_a_zip_with_a_warning(db, tmp_path):
    network = make_network()
    path = _zip(FIXTURES / "hsds-1.1.1", tmp_path / "services.json")
    report = import_ok(path, network)
    assert any("is a ZIP archive: read as one" in w.reason for w in report.warnings)


def test_a_zip_holding_one_json_document_is_read(db, tmp_path):
    folder = tmp_path / "inner"
    folder.mkdir()
    write_json(folder, [capacity_service(1), capacity_service(2)], name="services.json")
    report = import_ok(_zip(folder, tmp_path / "api.zip"), make_network())
    assert report.counts["services"].created == 2


def test_datapackage_paths_that_miss_the_layout_are_found_by_name(db, tmp_path):
    package = tmp_path / "package"
    shutil.copytree(FIXTURES / "hsds-1.1.1", package / "data")
    (package / "data" / "services.csv").rename(package / "data" / "SERVICES.csv")
    resources = [
        {"name": f.stem.lower(), "path": f.name.lower()} for f in (package / "data").glob("*.csv")
    ]
    (package / "datapackage.json").write_text(json.dumps({"resources": resources}))
    report = import_ok(package, make_network())
    assert report.counts["services"].created == 3
    moved = [w for w in report.warnings if w.field == "resources.path"]
    assert len(moved) == len(resources)
    assert any("found at 'data/SERVICES.csv'" in w.reason for w in moved)


# --- pre-HSDS (Ohana-style) exports ------------------------------------------------------------


def test_an_ohana_style_export_is_detected_mapped_and_imported(db):
    network = make_network()
    report = import_ok(OHANA, network)
    assert report.version == "1.1" and "pre-HSDS (Ohana-style)" in report.version_note
    assert {table: c.created for table, c in report.counts.items() if c.created} == {
        "taxonomies": 1,
        "taxonomy_terms": 5,
        "organizations": 2,
        "services": 3,
        "attributes": 5,
        "locations": 3,
        "service_at_locations": 3,
        "phones": 2,
        "schedules": 2,
        "languages": 6,
        "service_areas": 4,
        "addresses": 3,
    }
    assert report.totals()["defaulted"] == 7
    men = Service.objects.get(network=network, name="Men's sober living")
    assert men.organization.name == "Harbor House Recovery"
    assert men.url == "http://harbor.example.org/men"
    assert men.eligibility_description == "Men 18 and older"
    assert men.fees_description == "$150 a week"
    terms = set(ServiceAttribute.objects.filter(service=men).values_list("term__name", flat=True))
    assert terms == {"Housing", "Recovery support"}
    assert set(Language.objects.filter(service=men).values_list("code", flat=True)) == {"en", "es"}
    pantry = Service.objects.get(network=network, name="Food pantry")
    assert set(ServiceArea.objects.filter(service=pantry).values_list("name", flat=True)) == {
        "Springfield",
        "Chatham",
    }
    tuesday = Schedule.objects.get(service=pantry, byday="TU")
    assert (tuesday.opens_at, tuesday.closes_at) == (time(9, 0), time(12, 30))
    west = Location.objects.get(network=network, name="Harbor House West")
    assert west.latitude is None and west.addresses.get().country == "US"
    # No ids in the file, yet importing it again matches every row.
    again = import_ok(OHANA, network)
    assert all(c.created == c.updated == 0 for c in again.counts.values())


def test_another_network_importing_the_same_file_gets_its_own_rows(db):
    first, second = make_network("north"), make_network("south")
    import_ok(OHANA, first)
    before = directory_counts(first)
    report = import_ok(OHANA, second)
    assert report.counts["services"].created == 3
    assert directory_counts(first) == before == directory_counts(second)


# --- bad input ---------------------------------------------------------------------------------


@pytest.fixture
def network(db):
    return make_network()


def _zip_with(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: (p / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n...") and p / "logo.png",
            "logo.png: expected an HSDS JSON file",
        ),
        (lambda p: _zip_with(p / "empty.zip", {}), "empty.zip: the ZIP archive is empty"),
        (
            lambda p: _zip_with(p / "mac.zip", {"__MACOSX/._a.csv": b"x"}),
            "the ZIP archive is empty",
        ),
        (
            lambda p: _zip_with(p / "evil.zip", {"../../x.csv": b"a,b"}),
            "evil.zip: member '../../x.csv' names a path outside the archive",
        ),
        (
            lambda p: _zip_with(
                p / "other.zip", {"export/Agency List.csv": b"Agency,Phone\nA,1\n"}
            ),
            "none of the files is an HSDS table (found agency list.csv",
        ),
        (
            lambda p: _zip_with(
                p / "book.zip", {"[Content_Types].xml": b"", "xl/workbook.xml": b""}
            ),
            "is an Excel workbook",
        ),
    ],
    ids=[
        "wrong type",
        "empty zip",
        "only macOS forks",
        "zip slip",
        "header matches nothing",
        "xlsx",
    ],
)
def test_what_cannot_be_read_is_one_line_and_nothing_is_written(network, tmp_path, make, message):
    path = make(tmp_path)
    _out, err = run("import", "hsds", str(path))
    assert message in err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("CommandError: HSDS import failed: ")
    assert directory_counts(network)["Service"] == 0


def test_utf16_without_a_bom_and_cp1252_csv_files_are_read(network, tmp_path):
    folder = tmp_path / "pkg"
    shutil.copytree(FIXTURES / "hsds-1.1.1", folder)
    organizations = folder / "organizations.csv"
    text = organizations.read_text(encoding="utf-8").replace("Northside Recovery House", "Café Zoë")
    organizations.write_bytes(text.encode("utf-16-le"))
    locations = folder / "locations.csv"
    text = locations.read_text(encoding="utf-8").replace("Northside House", "Niño’s House")
    locations.write_bytes(text.encode("cp1252"))
    report = import_ok(folder, network)
    assert Organization.objects.get(network=network, name="Café Zoë")
    assert Location.objects.get(network=network, name="Niño’s House")
    guessed = sorted((w.file, w.reason) for w in report.warnings if "not UTF-8" in w.reason)
    assert guessed == [
        ("locations.csv", "is not UTF-8: read as CP1252 (check accented letters)"),
        ("organizations.csv", "is not UTF-8: read as UTF-16-LE (check accented letters)"),
    ]


def test_duplicate_ids_are_errors_naming_both_rows(network, tmp_path):
    folder = tmp_path / "dup"
    folder.mkdir()
    (folder / "organizations.csv").write_text("id,name,description\no-1,A,x\no-1,B,y\n")
    report = hsds_import(path=folder, network=network)
    (error,) = report.errors
    assert (error.row, error.field) == (3, "id")
    assert error.reason == "duplicate id 'o-1' (first on row 2 of organizations.csv)"
    assert not report.written
