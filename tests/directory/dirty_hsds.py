"""A realistic dirty HSDS 3.0 download, written by a test: a ZIP holding one top folder, a
datapackage.json whose resource paths name the root while the CSV files sit under data/ (one of
them with another letter case), one file in Windows-1252, and rows of the kinds 211 exports carry:
services of organizations the file does not hold, blank statuses, coordinates that are blank or
"n/a", schedules in 12-hour time, and locations no service uses.

Every count is a parameter, so tests can assert the report's numbers exactly."""

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

TABLES = ("organizations", "services", "locations", "service_at_location", "schedules", "phones")


@dataclass(frozen=True)
class Dirt:
    services: int = 60
    orphans: int = 7  # services whose organization is not in the file
    blank_status: int = 5
    no_coordinates: int = 4  # blank latitude and longitude
    bad_coordinates: int = 3  # "n/a"
    unused_locations: int = 2
    services_per_organization: int = 4

    @property
    def organizations(self) -> int:
        return -(-(self.services - self.orphans) // self.services_per_organization)


def _csv(rows: list[list]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def dirty_tables(dirt: Dirt) -> dict[str, str]:
    organizations = [["id", "name", "description", "email", "website"]]
    for number in range(dirt.organizations):
        organizations.append([f"org-{number}", f"Organización Niño {number}", "Servicios.", "", ""])
    services = [["id", "organization_id", "name", "description", "status", "email"]]
    locations = [["id", "organization_id", "location_type", "name", "latitude", "longitude"]]
    links = [["id", "service_id", "location_id"]]
    schedules = [["id", "service_id", "byday", "opens_at", "closes_at"]]
    phones = [["id", "service_id", "number"]]
    for number in range(dirt.services):
        orphan = number >= dirt.services - dirt.orphans
        organization = (
            f"missing-org-{number}" if orphan else f"org-{number // dirt.services_per_organization}"
        )
        status = "" if number < dirt.blank_status else "active"
        services.append([f"svc-{number}", organization, f"Service {number}", "Help.", status, ""])
        latitude, longitude = f"{39 + number / 1000:.4f}", f"{-89 - number / 1000:.4f}"
        if number < dirt.no_coordinates:
            latitude = longitude = ""
        elif number < dirt.no_coordinates + dirt.bad_coordinates:
            latitude = longitude = "n/a"
        locations.append(
            [f"loc-{number}", organization, "physical", f"Site {number}", latitude, longitude]
        )
        links.append([f"sal-{number}", f"svc-{number}", f"loc-{number}"])
        schedules.append([f"sch-{number}", f"svc-{number}", "MO,TU", "9:00 AM", "5:30 PM"])
        phones.append([f"ph-{number}", f"svc-{number}", f"217-555-{number:04d}"])
    for number in range(dirt.unused_locations):
        locations.append(
            [f"unused-loc-{number}", "org-0", "physical", f"Old site {number}", "39.1", "-89.1"]
        )
    return {
        "organizations": _csv(organizations),
        "services": _csv(services),
        "locations": _csv(locations),
        "service_at_location": _csv(links),
        "schedules": _csv(schedules),
        "phones": _csv(phones),
    }


def write_dirty_zip(path: Path, dirt: Dirt = Dirt()) -> Path:
    descriptor = {
        "name": "county-211-export",
        "profile": "tabular-data-package",
        "resources": [{"name": table, "path": f"{table}.csv"} for table in TABLES],
    }
    tables = dirty_tables(dirt)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export-2026-11/datapackage.json", json.dumps(descriptor, indent=2))
        for table, text in tables.items():
            name = "Services.csv" if table == "services" else f"{table}.csv"
            encoding = "cp1252" if table == "organizations" else "utf-8"
            archive.writestr(f"export-2026-11/data/{name}", text.encode(encoding))
        archive.writestr("__MACOSX/export-2026-11/._datapackage.json", b"\x00\x05\x16\x07")
    return path
