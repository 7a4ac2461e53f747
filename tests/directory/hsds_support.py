"""Shared helpers for the HSDS import/export and publish tests.

The HSDS examples and schemas live outside the repository, in `shared/data/hsds` beside it (a
clone in CI has `shared/` next to the repo too); our own small fixtures in the older layouts are
in `tests/directory/fixtures/`.
"""

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest

from referloop.core.models import Network
from referloop.directory.hsds.services import hsds_import
from referloop.directory.models import (
    Address,
    CapacityReading,
    Contact,
    Language,
    Location,
    Organization,
    Phone,
    RequiredDocument,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    ServiceAttribute,
    ServiceCapacity,
    Taxonomy,
    TaxonomyTerm,
)

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "hsds"
EXAMPLES = SHARED / "v3.0" / "examples"
SCHEMAS = SHARED / "v3.0" / "schema" / "compiled"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# A developer's odd checkout may lack shared/; CI always has it beside the clone, so there a
# missing folder fails these tests instead of skipping them quietly.
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir() and not os.environ.get("CI"),
    reason=f"the shared HSDS data is not at {SHARED}",
)

NETWORK_MODELS = (
    Organization,
    Service,
    Location,
    ServiceAtLocation,
    Address,
    Phone,
    Contact,
    Schedule,
    ServiceArea,
    Language,
    RequiredDocument,
    ServiceCapacity,
)


def make_network(slug: str = "north") -> Network:
    return Network.objects.create(name=slug.title(), slug=slug)


def directory_counts(network: Network) -> dict[str, int]:
    counts = {m.__name__: m.objects.filter(network=network).count() for m in NETWORK_MODELS}
    counts["ServiceAttribute"] = ServiceAttribute.objects.filter(service__network=network).count()
    return counts


def global_counts() -> dict[str, int]:
    return {
        "Taxonomy": Taxonomy.objects.count(),
        "TaxonomyTerm": TaxonomyTerm.objects.count(),
        "CapacityReading": CapacityReading.objects.count(),
    }


def import_ok(path, network: Network, **options):
    report = hsds_import(path=path, network=network, **options)
    assert report.ok, "\n".join(report.problem_lines())
    assert report.written
    return report


def copy_fixture(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def write_json(tmp_path: Path, document, name: str = "input.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def sid(n: int, kind: str = "service") -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://example.org/{kind}/{n}"))


def capacity_service(n: int = 1, **overrides) -> dict:
    """An HSDS 3.0 service object with HSDS 3.1 capacities, as another system would send it."""
    service = {
        "id": sid(n),
        "name": f"Recovery House {n}",
        "status": "active",
        "description": "Sober living with peer support.",
        "organization": {
            "id": sid(n, "organization"),
            "name": f"Recovery Homes {n}",
            "description": "Recovery residences.",
        },
        "service_at_locations": [
            {
                "id": sid(n, "sal"),
                "location": {
                    "id": sid(n, "location"),
                    "location_type": "physical",
                    "latitude": 39.78,
                    "longitude": -89.65,
                    "addresses": [
                        {
                            "id": sid(n, "address"),
                            "address_1": f"{n} Main St",
                            "city": "Springfield",
                            "state_province": "IL",
                            "postal_code": "62701",
                            "country": "US",
                            "address_type": "physical",
                        }
                    ],
                },
            }
        ],
        "phones": [{"id": sid(n, "phone"), "number": "217-555-0100"}],
        "capacities": [
            {
                "id": sid(n, "capacity"),
                "unit": {"id": sid(1, "unit-beds"), "name": "Bed(s)"},
                "available": 3,
                "maximum": 12,
                "updated": "2025-05-01T09:30:00Z",
            },
            {
                "id": sid(n, "capacity-appointments"),
                "unit": {"id": sid(1, "unit-appointments"), "name": "Appointments"},
                "available": 0,
                "updated": "2025-05-02T10:00:00Z",
                "waitlist": True,
            },
        ],
    }
    service.update(overrides)
    return service
