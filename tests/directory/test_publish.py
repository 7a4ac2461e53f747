"""The published directory export: what the worker writes (every network's public listings as
HSDS JSON and a capacity CSV, atomically, no client data) and the view that serves it."""

import csv
import io
import json

import pytest
from django.conf import settings as django_settings
from django.http import Http404
from django.test import RequestFactory
from django.utils.module_loading import import_string

from referloop.core.worker import run_due_sweeps
from referloop.directory import publish, views_publish
from referloop.directory.models import Service, ServiceCapacity, Status
from referloop.directory.publish import (
    CSV_COLUMNS,
    directory_publish,
    published_directory,
    published_file,
)
from referloop.directory.services import capacity_update
from tests.directory.hsds_support import capacity_service, import_ok, make_network, write_json


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    return settings.VAR_DIR


@pytest.fixture
def two_networks(db, tmp_path):
    north, south = make_network("north"), make_network("south")
    import_ok(write_json(tmp_path, [capacity_service(1), capacity_service(2)], "n.json"), north)
    closed = capacity_service(4, name="Closed House", status="defunct", capacities=[])
    import_ok(write_json(tmp_path, [capacity_service(3), closed], "s.json"), south)
    return north, south


def _csv(path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def test_publish_writes_json_and_csv_for_every_network(two_networks, var_dir):
    result = directory_publish()
    assert result == {"services": 3, "csv_rows": 6}
    items = json.loads(published_file("services.json").read_text(encoding="utf-8"))
    assert sorted(item["name"] for item in items) == [
        "Recovery House 1",
        "Recovery House 2",
        "Recovery House 3",
    ]  # both networks; the defunct listing is not published
    assert all({"id", "name", "status", "organization"} <= set(item) for item in items)
    with published_file("services.csv").open(encoding="utf-8", newline="") as stream:
        assert next(csv.reader(stream)) == list(CSV_COLUMNS)
    rows = {(r["service"], r["unit"]): r for r in _csv(published_file("services.csv"))}
    beds = rows[("Recovery House 1", "beds")]
    assert beds == {
        "organization": "Recovery Homes 1",
        "service": "Recovery House 1",
        "status": "active",
        "address": "1 Main St, Springfield, IL 62701",
        "phone": "217-555-0100",
        "unit": "beds",
        "available": "3",
        "maximum": "12",
        "waitlist": "no",
        "capacity_updated_at": "2025-05-01T09:30:00+00:00",
    }
    appointments = rows[("Recovery House 1", "appointments")]
    assert (appointments["maximum"], appointments["waitlist"]) == ("", "yes")
    assert sorted(p.name for p in published_directory().iterdir()) == [
        "services.csv",
        "services.json",
    ]  # no temporary file left behind


def test_a_service_without_capacity_has_one_row_with_empty_numbers(db, var_dir, tmp_path):
    import_ok(write_json(tmp_path, [capacity_service(1, capacities=[])]), make_network())
    directory_publish()
    (row,) = _csv(published_file("services.csv"))
    assert (row["service"], row["unit"], row["available"]) == ("Recovery House 1", "", "")


def test_no_client_data_and_no_staff_identity_is_published(cast, var_dir, tmp_path):
    import_ok(write_json(tmp_path, [capacity_service(1)]), cast.network)
    service = Service.objects.get(name="Recovery House 1")
    capacity_update(
        service=service, unit="beds", available=2, maximum=12, waitlist=False, actor=cast.admin_a
    )
    assert ServiceCapacity.objects.get(service=service, unit="beds").updated_by == cast.admin_a
    directory_publish()
    for name in ("services.json", "services.csv"):
        text = published_file(name).read_text(encoding="utf-8")
        assert cast.admin_a.email not in text
        assert cast.admin_a.full_name not in text


def test_spreadsheet_formulas_in_listings_are_neutralised(db, var_dir, tmp_path):
    sneaky = capacity_service(1, name='=HYPERLINK("http://evil.example","click")')
    import_ok(write_json(tmp_path, [sneaky]), make_network())
    directory_publish()
    service_names = {row["service"] for row in _csv(published_file("services.csv"))}
    assert service_names == {'\'=HYPERLINK("http://evil.example","click")'}
    phones = {row["phone"] for row in _csv(published_file("services.csv"))}
    assert phones == {"217-555-0100"}


def test_publishing_replaces_the_files_atomically(two_networks, var_dir, monkeypatch):
    directory_publish()
    before = published_file("services.json").read_bytes()
    Service.objects.filter(name="Recovery House 1").update(name="Renamed House")

    def broken(service):
        raise RuntimeError("disk full")

    monkeypatch.setattr(publish, "service_dict", broken)
    with pytest.raises(RuntimeError):
        directory_publish()
    assert published_file("services.json").read_bytes() == before  # the old file stands
    assert sorted(p.name for p in published_directory().iterdir()) == [
        "services.csv",
        "services.json",
    ]
    monkeypatch.undo()
    directory_publish()
    assert b"Renamed House" in published_file("services.json").read_bytes()


def test_published_file_only_knows_its_two_files(var_dir, db):
    assert published_file("services.json") is None
    directory_publish()
    assert published_file("services.json") is not None
    assert published_file("../settings.py") is None
    assert published_file("services.xml") is None


def test_the_sweep_is_registered_and_runs(db, var_dir):
    entry = ("referloop.directory.publish.directory_publish", 900)
    assert entry in django_settings.REFERLOOP_SWEEPS
    assert import_string(entry[0]) is directory_publish
    assert entry[0] in run_due_sweeps(worker="test-worker")
    assert published_file("services.csv") is not None


# --- the view ------------------------------------------------------------------------------------


def _get(fmt: str, method: str = "get"):
    request = getattr(RequestFactory(), method)(f"/directory/export/services.{fmt}")
    return views_publish.published_export(request, fmt)


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_view_serves_json_and_publishes_on_the_first_request(two_networks, var_dir):
    assert published_file("services.json") is None
    response = _get("json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert len(json.loads(_body(response))) == 3
    assert published_file("services.json") is not None


def test_the_view_serves_the_csv_as_a_download(two_networks, var_dir):
    directory_publish()
    response = _get("csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="services.csv"'
    rows = list(csv.DictReader(io.StringIO(_body(response).decode("utf-8"))))
    assert len(rows) == 6
    assert "Last-Modified" in response


def test_the_view_says_so_when_nothing_could_be_published(db, var_dir, monkeypatch):
    def failing():
        raise OSError("read-only file system")

    monkeypatch.setattr(views_publish, "directory_publish", failing)
    response = _get("csv")
    assert response.status_code == 404
    assert b"has not been published yet" in response.content


def test_the_view_refuses_other_formats_and_methods(db, var_dir):
    with pytest.raises(Http404):
        _get("xml")
    assert _get("json", method="post").status_code == 405


def test_statuses_other_than_defunct_are_published(two_networks, var_dir):
    Service.objects.filter(name="Recovery House 2").update(status=Status.TEMPORARILY_CLOSED)
    directory_publish()
    statuses = {r["service"]: r["status"] for r in _csv(published_file("services.csv"))}
    assert statuses["Recovery House 2"] == "temporarily closed"
    assert "Closed House" not in statuses


def test_a_service_without_its_own_line_is_published_with_its_organizations(db, var_dir, tmp_path):
    service = capacity_service(1, phones=[], capacities=[])
    service["organization"]["phones"] = [{"id": "org-phone", "number": "217-555-0199"}]
    import_ok(write_json(tmp_path, [service]), make_network())
    directory_publish()
    (row,) = _csv(published_file("services.csv"))
    assert row["phone"] == "217-555-0199"  # the main number the public page shows
    (item,) = json.loads(published_file("services.json").read_text("utf-8"))
    assert item["organization"]["phones"][0]["number"] == "217-555-0199"
