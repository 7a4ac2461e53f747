"""A capacity feed's columns, the kinds of unit it counts, and its mapping file.

The mapping file is the import framework's (`our column -> your header`, as a JSON object or a
two-column CSV) and, in JSON, may also say what the counts count and where each kind's counts
are in a wide file:

    {
      "location": "physical_address",
      "unit": "beds",
      "units": {
        "Men's beds": {"total": "beds_yr_rnd_men"},
        "Family rooms": {"unit": "slots", "available": "vacant_rooms", "total": "rooms"}
      }
    }

"unit" is what the counts count (beds, slots or appointments; beds unless it says otherwise).
Each entry of "units" is one kind of it, by the name the service page shows ("beds" alone is the
unit itself), with the headers of its available, total and occupied columns (any of them) and,
when its name does not say, its own "unit". With "units", the file's counts are those columns
alone; without, they are the Available / Total / Occupied columns, and a Unit column (if any)
names each row's kind.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from referloop.core.imports.columns import Column, header_key, mapping_json, mapping_pairs
from referloop.core.imports.columns import mapping_read as framework_mapping_read
from referloop.core.imports.report import input_error
from referloop.directory.models import CapacityUnit, ServiceCapacity

COLUMNS = {
    column.name: column
    for column in (
        Column(
            "service",
            "Service",
            (
                "service id",
                "service name",
                "listing",
                "listing id",
                "program",
                "program name",
                "shelter",
                "shelter name",
                "hsds id",
            ),
        ),
        Column("location", "Location", ("location name", "site", "site name", "facility")),
        Column(
            "address",
            "Address",
            ("physical address", "location address", "street address", "site address"),
        ),
        Column(
            "date",
            "Date",
            (
                "as of",
                "date time",
                "datetime",
                "time",
                "timestamp",
                "updated",
                "updated at",
                "last updated",
                "occupancy date",
                "count date",
                "counted at",
                "recorded at",
                "report date",
            ),
        ),
        Column("type", "Unit", ("unit type", "unit name", "bed type", "kind", "type")),
        Column(
            "available",
            "Available",
            (
                "available now",
                "available beds",
                "beds available",
                "beds free",
                "free",
                "open beds",
                "unoccupied",
                "unoccupied beds",
                "vacant",
                "vacant beds",
                "vacancies",
                "spaces available",
            ),
        ),
        Column(
            "total",
            "Total",
            (
                "maximum",
                "max",
                "capacity",
                "total beds",
                "beds total",
                "bed capacity",
                "capacity actual bed",
                "actual capacity",
            ),
        ),
        Column("occupied", "Occupied", ("occupied beds", "beds occupied", "in use", "filled")),
    )
}
COUNTS = ("available", "total", "occupied")
NAME_LENGTH = ServiceCapacity._meta.get_field("name").max_length

_KIND_WORDS = {
    "bed": CapacityUnit.BEDS,
    "slot": CapacityUnit.SLOTS,
    "place": CapacityUnit.SLOTS,
    "space": CapacityUnit.SLOTS,
    "spot": CapacityUnit.SLOTS,
    "seat": CapacityUnit.SLOTS,
    "appointment": CapacityUnit.APPOINTMENTS,
}
_KIND = re.compile(rf"\b({'|'.join(_KIND_WORDS)})(?:s|\(s\))?\b", re.I)


def unit_kind(text: str, *, default: str) -> tuple[str, str]:
    """(unit, name) of what a file calls a kind of count: "beds" or "Slots" is the unit alone
    (no name); "Men's beds" is a kind of beds; a name that says no unit is a kind of `default`."""
    text = " ".join(str(text).split())
    match = _KIND.search(text)
    if match and match.group(0) == text:
        return _KIND_WORDS[match[1].lower()], ""
    return (_KIND_WORDS[match[1].lower()] if match else default), text


@dataclass(frozen=True, slots=True)
class UnitColumns:
    """One kind of unit in a wide file, and the headers of its counts (count -> header)."""

    unit: str
    name: str
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class FeedMapping:
    columns: dict[str, str] = field(default_factory=dict)
    unit: str = CapacityUnit.BEDS
    units: tuple[UnitColumns, ...] = ()


def mapping_read(path: str | Path) -> FeedMapping:
    """The `--mapping FILE` of a capacity feed (see the module docstring)."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        return FeedMapping(columns=framework_mapping_read(path, COLUMNS))
    name = f"mapping {path.name}"
    data = mapping_json(path, example="service")
    unit = _unit_choice(data.pop("unit", CapacityUnit.BEDS), name, "unit")
    units = data.pop("units", {})
    if not isinstance(units, dict):
        raise input_error(name, 'units: expected an object like {"Men\'s beds": {"total": ...}}')
    groups, seen = [], {}
    for title, headers in units.items():
        where = f"units, {title}"
        if not isinstance(headers, dict) or not headers:
            raise input_error(name, f'{where}: expected an object like {{"available": "Header"}}')
        headers = dict(headers)
        kind, label = unit_kind(title, default=unit)
        if "unit" in headers:
            kind = _unit_choice(headers.pop("unit"), name, f"{where}, unit")
        if len(label) > NAME_LENGTH:
            raise input_error(name, f"{where}: a name of at most {NAME_LENGTH} characters")
        for count, header in headers.items():
            if count not in COUNTS or not isinstance(header, str) or not header.strip():
                raise input_error(
                    name, f"{where}: give the headers of {', '.join(COUNTS)} (any of them)"
                )
        key = (kind, header_key(label))
        if key in seen:
            raise input_error(name, f"{where}: the same unit as '{seen[key]}'")
        seen[key] = title
        groups.append(UnitColumns(kind, label, {k: v.strip() for k, v in headers.items()}))
    items = [(None, ours, theirs) for ours, theirs in data.items()]
    return FeedMapping(mapping_pairs(items, COLUMNS, name=name), unit, tuple(groups))


def _unit_choice(value, name: str, where: str) -> str:
    if value not in CapacityUnit.values:
        raise input_error(name, f"{where}: one of {', '.join(CapacityUnit.values)}, not {value!r}")
    return value
