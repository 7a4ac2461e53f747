"""From HSDS tables (any version) to planned rows of our models, with a problem per bad value.

Each handler reads one table's records and plans rows: the model field values it parsed, and the
rows it points to (by their HSDS id, resolved later against the file and the directory). Nothing
here touches the database. What a file holds that we have nowhere to keep is listed once as
"not imported: table" or "not imported: table.field".

Defaults: a value left blank where the intent is clear gets a documented default, counted in
the report ("defaults applied"): a blank service status is `active`; a blank location type is
`physical`; blank, unreadable or out-of-range coordinates leave the location without a point
(it is listed, but not found by distance).

Severity: a problem that makes a row wrong (a missing id or name, an unknown status or location
type, a malformed number, time or date, text too long) is an **error**. A problem with an optional
detail that we can leave out and still keep a correct row is a **warning**, and the detail is left
empty: an e-mail or web address that is not one, coordinates outside the globe (the official HSDS
3.0 examples carry latitude 100), an RFC 5545 rule we cannot read, a link to a parent term that is
not in the file.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from referloop.core.imports.run import stable_id
from referloop.directory.hsds import parse as P
from referloop.directory.hsds.parse import BadValue, is_blank
from referloop.directory.hsds.readers import Dataset, Record
from referloop.directory.hsds.report import DEFAULT, ERROR, WARNING, Problem
from referloop.directory.models import (
    Address,
    Contact,
    Language,
    Location,
    LocationType,
    Organization,
    Phone,
    RequiredDocument,
    Service,
    ServiceArea,
    ServiceCapacity,
    Status,
    Taxonomy,
    TaxonomyTerm,
)

DEFAULT_TAXONOMY = "Imported terms"
ADDRESS_TYPES = ("physical", "postal", "virtual")
FREQUENCIES = ("WEEKLY", "MONTHLY")
# Read once: a TextChoices' `.values` builds a new list on every access.
STATUSES = tuple(Status.values)
LOCATION_TYPES = tuple(LocationType.values)

# Tables whose content has no home in Referloop's directory (reported once, never an error).
NOT_IMPORTED_TABLES = {
    "programs",
    "funding",
    "holiday_schedules",
    "accessibility",
    "accessibility_for_disabilities",
    "payments_accepted",
    "metadata",
    "meta_table_descriptions",
    "cost_options",
    "organization_identifiers",
}


@cache
def _limit(model, name: str) -> int | None:
    return model._meta.get_field(name).max_length


@dataclass(slots=True)
class Planned:
    """One row we mean to write. `refs` maps a foreign-key attname to (kind, HSDS id or pk)."""

    kind: str
    source_id: str
    values: dict[str, Any]
    record: Record
    refs: dict[str, tuple[str, Any]] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    via_sal: str | None = None
    via_location: str | None = None
    ok: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


# Model fields read from differently named (or several) HSDS fields: a model field is only
# written when at least one of its sources is in the file (see Row.absent).
SOURCES = {
    "website": ("website", "url"),
    "fees_description": ("fees_description", "fees"),
    # When it was last checked; not last_modified (when it last changed): an edit, a re-export
    # or a copy changes a record without anyone checking it.
    "last_verified_at": ("assured_date",),
    "address_2": ("address_2", "address_3", "address_4"),
    "byday": ("byday", "weekday"),
    "name": ("name", "term", "service_area"),
    "code": ("code", "id"),  # a term without a code is filed under its id
}


class Row:
    """One record being read: parses fields, reports problems against its file/row/field.

    A field the record does not have at all (a column missing from the CSV, a key missing from
    the JSON object) is *absent*, and the model field it feeds is left as it is in the directory
    rather than emptied: partial objects (an API response nests a location without its
    organization) and older layouts (HSDS 1.x has no `alert`) must not erase what is known.
    A field that is present but empty does empty the model field."""

    def __init__(self, mapper: "Mapper", record: Record):
        self.mapper = mapper
        self.record = record
        self.used: set[str] = set()
        self.absent: set[str] = set()
        self.ok = True

    def raw(self, name: str):
        self.used.add(name)
        if name not in self.record.data:
            self.absent.add(name)
        return self.record.data.get(name)

    def known(self, values: dict) -> dict:
        absent = self.absent
        if not absent:
            return values
        return {
            name: value
            for name, value in values.items()
            if (name not in absent if name not in SOURCES else not absent.issuperset(SOURCES[name]))
        }

    def present(self, name: str) -> bool:
        return name in self.record.data

    def error(self, name: str, reason: str) -> None:
        self.ok = False
        self.mapper.problem(self.record, name, reason, ERROR)

    def warning(self, name: str, reason: str) -> None:
        self.mapper.problem(self.record, name, reason, WARNING)

    def default(self, name: str, value, reason: str):
        """`value` in place of what the row left blank (or could not say), counted in the report."""
        self.mapper.problem(self.record, name, reason, DEFAULT)
        return value

    def blank(self, name: str) -> bool:
        """The row has the field, and it is empty."""
        return name in self.record.data and is_blank(self.record.data[name])

    def get(self, name: str, parser, *args, required: bool = False, soft: bool = False, **kw):
        self.used.add(name)
        data = self.record.data
        if name in data:
            value = data[name]
        else:
            self.absent.add(name)
            value = None
        if value is None or value == "" or (value.__class__ is str and value.isspace()):
            if required:
                self.error(name, "is required")
            return None
        try:
            return parser(value, *args, **kw)
        except BadValue as exc:
            if soft:
                self.warning(name, f"{exc}; left empty")
            else:
                self.error(name, str(exc))
            return None

    def text(self, name: str, limit: int | None = None, *, required: bool = False) -> str:
        # Most values are text that fits: answered here, as `get` would, without its overhead.
        value = self.record.data.get(name)
        if value.__class__ is str and "\x00" not in value:
            value = value.strip()
            if value and (limit is None or len(value) <= limit):
                self.used.add(name)
                return value
        return self.get(name, P.text, max_length=limit, required=required) or ""

    def ref(self, name: str, *, required: bool = False) -> str | None:
        """An id, of this row or of the row it links to."""
        return self.text(name, 200, required=required) or None

    def id(self) -> str | None:
        return self.ref("id", required=True)

    def finish(self) -> None:
        data = self.record.data
        unused = {name for name in data.keys() - self.used if not is_blank(data[name])}
        if unused:
            for name in data:  # in the file's order, as the report lists them
                if name in unused:
                    self.mapper.not_imported(f"{self.record.table}.{name}")


class Mapper:
    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.version = dataset.version
        self.problems: list[Problem] = []
        self.skipped: list[str] = []
        self.plans: dict[str, dict[str, Planned]] = defaultdict(dict)
        self.units: dict[str, str] = {}
        # (service HSDS id, field) -> [(text, record)] from 1.x side tables (eligibility, fees...).
        self.service_texts: dict[tuple[str, str], list[tuple[str, Record]]] = defaultdict(list)
        self.implicit_sals: list[tuple[str, str, Record]] = []

    # reporting

    def problem(self, record: Record, name: str, reason: str, severity: str) -> None:
        self.problems.append(Problem(record.file, record.row, record.where(name), reason, severity))

    def not_imported(self, name: str) -> None:
        if name not in self.skipped:
            self.skipped.append(name)

    # planning

    def plan(self, kind: str, source_id: str | None, values: dict, row: Row, **options) -> None:
        row.finish()
        if source_id is None:
            return
        existing = self.plans[kind].get(source_id)
        if existing is not None:
            first = existing.record
            row.error(
                "id", f"duplicate id '{source_id}' (first on row {first.row} of {first.file})"
            )
            return
        self.plans[kind][source_id] = Planned(
            kind=kind,
            source_id=source_id,
            values=row.known(values),
            record=row.record,
            ok=row.ok,
            **options,
        )

    def run_early(self) -> "Mapper":
        """Maps every table but LATE_TABLES: all that the rows of the organizations, services,
        terms, attributes and capacities are made from."""
        self._map(late=False)
        self._apply_service_texts()
        self._organization_verified()
        return self

    def run_late(self) -> "Mapper":
        """Maps LATE_TABLES (after `run_early`), and notes the tables nothing maps."""
        self._map(late=True)
        for table, records in self.dataset.tables.items():
            if table not in HANDLERS and records:
                self.not_imported(table)
        self._apply_implicit_sals()
        return self

    def _map(self, *, late: bool) -> None:
        for table, handler in HANDLERS.items():
            if (table in LATE_TABLES) == late:
                for record in self.dataset.tables.get(table, ()):
                    handler(self, Row(self, record))

    def _apply_service_texts(self) -> None:
        for (service_id, name), items in self.service_texts.items():
            service = self.plans["service"].get(service_id)
            if service is None:
                for _, record in items:
                    self.problem(
                        record,
                        "service_id",
                        f"service '{service_id}' is not in this file (a row of "
                        f"{record.table} is imported with its service)",
                        ERROR,
                    )
                continue
            texts = [text for text, _ in items if text]
            if service.values.get(name):
                texts.insert(0, service.values[name])
            service.values[name] = "; ".join(dict.fromkeys(texts))

    def _apply_implicit_sals(self) -> None:
        taken = {
            (plan.refs["service_id"][1], plan.refs["location_id"][1])
            for plan in self.plans["sal"].values()
        }
        for service_id, location_id, record in self.implicit_sals:
            if (service_id, location_id) in taken:
                continue
            taken.add((service_id, location_id))
            sid = f"{service_id}@{location_id}"
            if len(sid) > _limit(Location, "source_id"):  # two long ids: one stable id for both
                sid = stable_id("service_at_location", service_id, location_id)
            self.plans["sal"][sid] = Planned(
                kind="sal",
                source_id=sid,
                values={"description": ""},
                record=record,
                refs={
                    "service_id": ("service", service_id),
                    "location_id": ("location", location_id),
                },
                required=("service_id", "location_id"),
            )

    def _organization_verified(self) -> None:
        # HSDS organizations carry no verification date; their services' assured/modified do.
        for service in self.plans["service"].values():
            verified = service.values.get("last_verified_at")
            org = self.plans["organization"].get(service.refs["organization_id"][1] or "")
            if verified and org is not None:
                current = org.values.get("last_verified_at")
                org.values["last_verified_at"] = max(filter(None, (current, verified)))


# --- handlers, one per table --------------------------------------------------------------------


def organizations(m: Mapper, row: Row) -> None:
    sid = row.id()
    website = row.get("website", P.url, soft=True) or row.get("url", P.url, soft=True) or ""
    values = {
        "name": row.text("name", _limit(Organization, "name"), required=True),
        "alternate_name": row.text("alternate_name", _limit(Organization, "alternate_name")),
        "description": row.text("description"),
        "email": row.get("email", P.email, soft=True) or "",
        "website": website,
        "tax_status": row.text("tax_status", _limit(Organization, "tax_status")),
        "legal_status": row.text("legal_status", _limit(Organization, "legal_status")),
        "year_incorporated": row.get("year_incorporated", P.whole_number, minimum=1, maximum=9999),
        "last_verified_at": None,
    }
    m.plan("organization", sid, values, row)


def services(m: Mapper, row: Row) -> None:
    sid = row.id()
    minimum_age = row.get("minimum_age", P.age)
    maximum_age = row.get("maximum_age", P.age)
    if minimum_age is not None and maximum_age is not None and minimum_age > maximum_age:
        row.error("maximum_age", f"{maximum_age} is below the minimum age {minimum_age}")
    assured = row.get("assured_date", P.iso_datetime)
    values = {
        "name": row.text("name", _limit(Service, "name"), required=True),
        "alternate_name": row.text("alternate_name", _limit(Service, "alternate_name")),
        "description": row.text("description"),
        "url": row.get("url", P.url, soft=True) or "",
        "email": row.get("email", P.email, soft=True) or "",
        "status": (
            row.default("status", Status.ACTIVE, "is blank: imported as active")
            if row.blank("status")
            else row.get("status", P.choice, STATUSES, what="status", required=True)
        ),
        "interpretation_services": row.text("interpretation_services"),
        "application_process": row.text("application_process"),
        "wait_time": row.text("wait_time", _limit(Service, "wait_time")),
        "fees_description": row.text("fees_description") or row.text("fees"),
        "accreditations": row.text("accreditations"),
        "licenses": row.text("licenses"),
        "eligibility_description": row.text("eligibility_description"),
        "minimum_age": minimum_age,
        "maximum_age": maximum_age,
        "alert": row.text("alert"),
        "last_verified_at": assured,
    }
    organization_id = row.ref("organization_id")
    if sid is not None:
        for term_id in (row.text("taxonomy_ids") or "").split(","):
            if term_id.strip():
                _attribute(m, row, f"{sid}/{term_id.strip()}", sid, term_id.strip(), "", plan=False)
        location_id = row.ref("location_id")  # HSDS 1.0: a service names its one location
        if location_id:
            m.implicit_sals.append((sid, location_id, row.record))
    m.plan(
        "service",
        sid,
        values,
        row,
        refs={"organization_id": ("organization", organization_id)},
        required=("organization_id",),
    )


def locations(m: Mapper, row: Row) -> None:
    sid = row.id()
    if row.blank("location_type"):
        location_type = row.default(
            "location_type", LocationType.PHYSICAL, "is blank: imported as physical"
        )
    else:
        location_type = row.get(
            "location_type",
            P.choice,
            LOCATION_TYPES,
            what="location type",
            required=m.version.startswith("3"),
        )
    latitude, longitude = _coordinates(row)
    values = {
        "location_type": location_type or LocationType.PHYSICAL,
        "name": row.text("name", _limit(Location, "name")),
        "alternate_name": row.text("alternate_name", _limit(Location, "alternate_name")),
        "description": row.text("description"),
        "transportation": row.text("transportation"),
        "url": row.get("url", P.url, soft=True) or "",
        "latitude": latitude,
        "longitude": longitude,
    }
    m.plan(
        "location",
        sid,
        values,
        row,
        refs={"organization_id": ("organization", row.ref("organization_id"))},
    )


NO_POINT = "the location was imported without coordinates (listed, not found by distance)"


def _coordinates(row: Row) -> tuple[float | None, float | None]:
    """The location's point, or (None, None) with one counted default when a coordinate is
    blank, unreadable or off the globe (the official 3.0 examples carry latitude 100)."""
    given = [name for name in ("latitude", "longitude") if not is_blank(row.raw(name))]
    if not given:
        if row.blank("latitude") or row.blank("longitude"):
            row.default("latitude", None, f"no coordinates: {NO_POINT}")
        return None, None
    point = {}
    for name, bound in (("latitude", 90), ("longitude", 180)):
        raw = row.raw(name)
        if is_blank(raw):
            row.default(name, None, f"is blank: {NO_POINT}")
            return None, None
        try:
            value = P.coordinate(raw)
        except BadValue as exc:
            row.default(name, None, f"{exc}: {NO_POINT}")
            return None, None
        if not -bound <= value <= bound:
            row.default(name, None, f"'{value:g}' is outside -{bound}..{bound}: {NO_POINT}")
            return None, None
        point[name] = value
    return point["latitude"], point["longitude"]


def service_at_location(m: Mapper, row: Row) -> None:
    sid = row.id()
    refs = {
        "service_id": ("service", row.ref("service_id", required=True)),
        "location_id": ("location", row.ref("location_id", required=True)),
    }
    values = {"description": row.text("description")}
    m.plan("sal", sid, values, row, refs=refs, required=("service_id", "location_id"))


def _address(m: Mapper, row: Row, *, address_type: str | None, required: bool) -> None:
    sid = row.id()
    if address_type is None:
        address_type = row.get(
            "address_type", P.choice, ADDRESS_TYPES, what="address type", required=True
        )
    elif sid is not None and sid in m.plans["address"]:
        sid = f"{sid}#{address_type}"  # 1.x keeps physical and postal addresses in two tables
    extra_lines = [row.text(name) for name in ("address_2", "address_3", "address_4")]
    address_2 = ", ".join(line for line in extra_lines if line)
    limit = _limit(Address, "address_2")
    if len(address_2) > limit:
        row.error("address_2", f"is {len(address_2)} characters long; at most {limit} fit")
    values = {
        "address_type": address_type or "physical",
        "attention": row.text("attention", _limit(Address, "attention")),
        "address_1": row.text("address_1", _limit(Address, "address_1"), required=required),
        "address_2": address_2,
        "city": row.text("city", _limit(Address, "city"), required=required),
        "region": row.text("region", _limit(Address, "region")),
        "state_province": row.text(
            "state_province", _limit(Address, "state_province"), required=required
        ),
        "postal_code": row.text("postal_code", _limit(Address, "postal_code"), required=required),
        "country": row.get("country", P.country, required=required) or "",
    }
    refs = {"location_id": ("location", row.ref("location_id"))}
    m.plan("address", sid, values, row, refs=refs, required=("location_id",))


def addresses(m: Mapper, row: Row) -> None:
    _address(m, row, address_type=None, required=True)


def physical_addresses(m: Mapper, row: Row) -> None:
    _address(m, row, address_type="physical", required=m.version != "1.0")


def postal_addresses(m: Mapper, row: Row) -> None:
    _address(m, row, address_type="postal", required=m.version != "1.0")


def _language_plan(m: Mapper, row: Row, sid: str, spoken: str, owner: dict) -> None:
    spoken = spoken.strip()
    code = spoken.lower() if len(spoken) <= 3 and spoken.isalpha() else ""
    name = "" if code else spoken
    code = code or P.LANGUAGE_CODES.get(spoken.lower(), "")
    if len(name) > _limit(Language, "name"):
        row.error("language", f"'{name[:40]}…' is too long for a language name")
        return
    m.plans["language"].setdefault(
        sid,
        Planned(
            kind="language",
            source_id=sid,
            values={"name": name, "code": code, "note": ""},
            record=row.record,
            refs=owner,
            any_of=tuple(owner),
            ok=row.ok,
        ),
    )


def phones(m: Mapper, row: Row) -> None:
    sid = row.id()
    number = row.text("number", required=True).strip('"').strip()
    if len(number) > _limit(Phone, "number"):
        row.error("number", f"is {len(number)} characters long; at most 50 fit")
    values = {
        "number": number,
        "extension": row.text("extension", _limit(Phone, "extension")),
        "type": row.text("type", _limit(Phone, "type")),
        "description": row.text("description"),
    }
    refs = {
        "organization_id": ("organization", row.ref("organization_id")),
        "service_id": ("service", row.ref("service_id")),
        "location_id": ("location", row.ref("location_id")),
        "contact_id": ("contact", row.ref("contact_id")),
    }
    via_sal = row.ref("service_at_location_id")
    spoken = row.text("language")  # HSDS 1.1/2.0: "en, es"
    m.plan("phone", sid, values, row, refs=refs, any_of=tuple(refs), via_sal=via_sal)
    if sid is not None and spoken:
        for part in spoken.replace(";", ",").split(","):
            if part.strip():
                owner = {"phone_id": ("phone", sid)}
                _language_plan(m, row, f"{sid}/language/{part.strip().lower()}", part, owner)


def contacts(m: Mapper, row: Row) -> None:
    sid = row.id()
    values = {
        "name": row.text("name", _limit(Contact, "name")),
        "title": row.text("title", _limit(Contact, "title")),
        "department": row.text("department", _limit(Contact, "department")),
        "email": row.get("email", P.email, soft=True) or "",
    }
    refs = {
        "organization_id": ("organization", row.ref("organization_id")),
        "service_id": ("service", row.ref("service_id")),
    }
    m.plan(
        "contact",
        sid,
        values,
        row,
        refs=refs,
        any_of=tuple(refs),
        via_sal=row.ref("service_at_location_id"),
        via_location=row.ref("location_id"),
    )


def _schedule_owner(row: Row) -> dict:
    return {
        "service_id": ("service", row.ref("service_id")),
        "location_id": ("location", row.ref("location_id")),
    }


def schedules(m: Mapper, row: Row) -> None:
    sid = row.id()
    freq = row.get("freq", P.choice, [f.lower() for f in FREQUENCIES], what="freq", soft=True)
    values = {
        "valid_from": row.get("valid_from", P.iso_date),
        "valid_to": row.get("valid_to", P.iso_date),
        "freq": (freq or "").upper(),
        "byday": row.get("byday", P.byday, soft=True) or "",
        "opens_at": row.get("opens_at", P.clock_time),
        "closes_at": row.get("closes_at", P.clock_time),
        "description": row.text("description"),
    }
    refs = _schedule_owner(row)
    via_sal = row.ref("service_at_location_id")
    m.plan("schedule", sid, values, row, refs=refs, any_of=tuple(refs), via_sal=via_sal)


def regular_schedules(m: Mapper, row: Row) -> None:
    sid = row.id()
    values = {
        "valid_from": None,
        "valid_to": None,
        "freq": "WEEKLY",
        "byday": row.get("weekday", P.weekday, required=True) or "",
        "opens_at": row.get("opens_at", P.clock_time),
        "closes_at": row.get("closes_at", P.clock_time),
        "description": "",
    }
    refs = _schedule_owner(row)
    via_sal = row.ref("service_at_location_id")
    m.plan("schedule", sid, values, row, refs=refs, any_of=tuple(refs), via_sal=via_sal)


def service_areas(m: Mapper, row: Row) -> None:
    sid = row.id()
    limit = _limit(ServiceArea, "name")
    values = {
        "name": row.text("name", limit) or row.text("service_area", limit),
        "description": row.text("description"),
        "extent": row.text("extent"),
        "extent_type": row.text("extent_type", _limit(ServiceArea, "extent_type")),
    }
    refs = {"service_id": ("service", row.ref("service_id"))}
    m.plan("service_area", sid, values, row, refs=refs, required=("service_id",))


def languages(m: Mapper, row: Row) -> None:
    sid = row.id()
    refs = {
        "service_id": ("service", row.ref("service_id")),
        "location_id": ("location", row.ref("location_id")),
        "phone_id": ("phone", row.ref("phone_id")),
    }
    if row.present("language"):  # HSDS 1.x / 2.0: a language name
        spoken = row.text("language", 200)
        row.finish()
        if sid is not None and spoken:
            if sid in m.plans["language"]:
                row.error("id", f"duplicate id '{sid}'")
                return
            _language_plan(m, row, sid, spoken, refs)
        return
    values = {
        "name": row.text("name", _limit(Language, "name")),
        "code": row.text("code", _limit(Language, "code")),
        "note": row.text("note"),
    }
    m.plan("language", sid, values, row, refs=refs, any_of=tuple(refs))


def required_documents(m: Mapper, row: Row) -> None:
    sid = row.id()
    values = {
        "document": row.text("document", _limit(RequiredDocument, "document")),
        "uri": row.get("uri", P.url, soft=True) or "",
    }
    refs = {"service_id": ("service", row.ref("service_id"))}
    m.plan("required_document", sid, values, row, refs=refs, required=("service_id",))


def _service_text(m: Mapper, row: Row, column: str, target: str) -> None:
    row.id()
    service_id = row.ref("service_id", required=True)
    value = row.text(column)
    row.finish()
    if service_id and row.ok:
        m.service_texts[(service_id, target)].append((value, row.record))


def eligibility(m: Mapper, row: Row) -> None:
    _service_text(m, row, "eligibility", "eligibility_description")


def fees(m: Mapper, row: Row) -> None:
    _service_text(m, row, "fee", "fees_description")


def interpretation_services(m: Mapper, row: Row) -> None:
    _service_text(m, row, "language", "interpretation_services")


def _attribute(m: Mapper, row: Row, sid, service_id, term_id, value, *, plan=True) -> None:
    values = {"value": value}
    refs = {"service_id": ("service", service_id), "term_id": ("term", term_id)}
    if plan:
        m.plan("attribute", sid, values, row, refs=refs, required=tuple(refs))
    elif sid not in m.plans["attribute"]:
        m.plans["attribute"][sid] = Planned(
            kind="attribute",
            source_id=sid,
            values=values,
            record=row.record,
            refs=refs,
            required=tuple(refs),
        )


def services_taxonomy(m: Mapper, row: Row) -> None:
    sid = row.id()
    service_id = row.ref("service_id", required=True)
    term_id = row.ref("taxonomy_id", required=True)
    value = row.text("taxonomy_detail", 300)
    _attribute(m, row, sid, service_id, term_id, value)


def service_attributes(m: Mapper, row: Row) -> None:
    sid = row.id()
    service_id = row.ref("service_id", required=True)
    term_id = row.ref("taxonomy_term_id", required=True)
    _attribute(m, row, sid, service_id, term_id, "")


def other_attributes(m: Mapper, row: Row) -> None:
    link_type = (row.text("link_type") or "").lower()
    if link_type != "service":
        row.used.update(row.record.data)
        m.not_imported(f"other_attributes of {link_type or 'unknown'} records")
        return
    sid = row.id()
    service_id = row.ref("link_id", required=True)
    term_id = row.ref("taxonomy_term_id", required=True)
    _attribute(m, row, sid, service_id, term_id, "")


def attributes(m: Mapper, row: Row) -> None:
    entity = (row.text("link_entity") or "").lower()
    link_id = row.text("link_id")
    row.raw("link_type")
    if entity != "service" and not (not entity and link_id in m.plans["service"]):
        row.used.update(row.record.data)
        m.not_imported(f"attributes of {entity or 'unlinked'} records")
        return
    sid = row.id()
    term_id = row.ref("taxonomy_term_id", required=True)
    if not link_id:
        row.error("link_id", "is required")
    _attribute(m, row, sid, link_id or None, term_id, row.text("value", 300))


def taxonomies(m: Mapper, row: Row) -> None:
    sid = row.id()
    values = {
        "name": row.text("name", _limit(Taxonomy, "name"), required=True),
        "description": row.text("description"),
        "uri": row.get("uri", P.url, soft=True) or "",
        "version": row.text("version", _limit(Taxonomy, "version")),
    }
    m.plan("taxonomy", sid, values, row)


def _term(m: Mapper, row: Row, sid, *, name: str, code: str, taxonomy: str, **values) -> None:
    code = code or sid or ""
    if len(code) > _limit(TaxonomyTerm, "code"):
        row.error("code", "is longer than 100 characters")
    values = {
        "name": name,
        "code": code,
        "description": values.get("description", ""),
        "term_uri": values.get("term_uri", ""),
        "taxonomy_name": taxonomy,
    }
    refs = {
        "parent_id": ("term", row.ref("parent_id")),
        "taxonomy_id": ("taxonomy", row.ref("taxonomy_id")),
    }
    m.plan("term", sid, values, row, refs=refs)


def taxonomy(m: Mapper, row: Row) -> None:  # HSDS 1.x taxonomy.csv
    sid = row.id()
    row.raw("parent_name")
    _term(
        m,
        row,
        sid,
        name=row.text("name", _limit(TaxonomyTerm, "name"), required=True),
        code=sid or "",
        taxonomy=row.text("vocabulary", _limit(Taxonomy, "name")),
    )


def taxonomy_terms(m: Mapper, row: Row) -> None:  # HSDS 2.0 (term) and 3.0 (name)
    sid = row.id()
    limit = _limit(TaxonomyTerm, "name")
    name = row.text("name", limit) if row.present("name") else row.text("term", limit)
    if not name:
        row.error("name" if row.present("name") else "term", "is required")
    row.raw("language")
    _term(
        m,
        row,
        sid,
        name=name,
        code=row.text("code"),
        taxonomy=row.text("taxonomy", _limit(Taxonomy, "name")),
        description=row.text("description"),
        term_uri=row.get("term_uri", P.url, soft=True) or "",
    )


def units(m: Mapper, row: Row) -> None:
    sid = row.id()
    name = row.text("name", required=True)
    identifier = row.text("identifier")
    for column in ("scheme", "uri"):
        row.raw(column)
    row.finish()
    if sid and name:
        m.units[sid] = (name, identifier)


def service_capacity(m: Mapper, row: Row) -> None:
    sid = row.id()
    unit_name, identifier = row.raw("unit_name"), row.raw("unit_identifier")
    unit_id = row.ref("unit_id")
    if is_blank(unit_name) and unit_id:
        unit_name, identifier = m.units.get(unit_id, (None, None))
        if unit_name is None:
            row.error("unit_id", f"unit '{unit_id}' is not in units.csv")
    unit, kind = None, ""
    if unit_name is not None or not unit_id:
        unit, kind = _capacity_kind(row, unit_name, identifier)
    available = row.get("available", P.whole_number, required=True)
    maximum = row.get("maximum", P.whole_number)
    if available is not None and maximum is not None and available > maximum:
        row.error("available", f"{available} is more than the maximum {maximum}")
    values = {
        "unit": unit,
        "name": kind,
        "available": available,
        "maximum": maximum,
        "description": row.text("description", _limit(ServiceCapacity, "description")),
        "updated_at": row.get("updated", P.iso_datetime, required=True),
        "waitlist": bool(row.get("waitlist", P.boolean)),
    }
    refs = {"service_id": ("service", row.get("service_id", P.text, required=True))}
    m.plan("capacity", sid, values, row, refs=refs, required=("service_id",))


def _capacity_kind(row: Row, unit_name, identifier) -> tuple[str | None, str]:
    """(unit, name) of a capacity: a unit's name that is a unit ("beds", "Bed") counts it
    plainly; any other name ("Men's beds") is a named kind of the unit its identifier gives."""
    try:
        return P.capacity_unit(unit_name), ""
    except BadValue as exc:
        if is_blank(identifier):
            row.error("unit", str(exc))
            return None, ""
    try:
        unit = P.capacity_unit(identifier)
    except BadValue as exc:
        row.error("unit", str(exc))
        return None, ""
    name = str(unit_name).strip()
    limit = _limit(ServiceCapacity, "name")
    if len(name) > limit:
        row.error("unit", f"the unit's name is {len(name)} characters long; at most {limit} fit")
    return unit, name


def _ignore(m: Mapper, row: Row) -> None:
    m.not_imported(row.record.table)


# Order matters: parents before children, physical before postal addresses, units before
# capacities, taxonomies before terms, services before their 1.x side tables.
HANDLERS = {
    "organizations": organizations,
    "services": services,
    "locations": locations,
    "service_at_location": service_at_location,
    "services_at_location": service_at_location,
    "addresses": addresses,
    "physical_addresses": physical_addresses,
    "postal_addresses": postal_addresses,
    "contacts": contacts,
    "phones": phones,
    "schedules": schedules,
    "regular_schedules": regular_schedules,
    "service_areas": service_areas,
    "languages": languages,
    "required_documents": required_documents,
    "eligibility": eligibility,
    "fees": fees,
    "interpretation_services": interpretation_services,
    "taxonomies": taxonomies,
    "taxonomy": taxonomy,
    "taxonomy_terms": taxonomy_terms,
    "services_taxonomy": services_taxonomy,
    "service_taxonomy": services_taxonomy,
    "service_attributes": service_attributes,
    "other_attributes": other_attributes,
    "attributes": attributes,
    "units": units,
    "service_capacity": service_capacity,
    **dict.fromkeys(NOT_IMPORTED_TABLES, _ignore),
}
# Mapped while the rows of the other tables are being written (see services._import): a
# service's row is composed from its organization, terms, languages and capacities, never from
# these, and no handler of another table looks at what these plan.
LATE_TABLES = frozenset(
    {
        "locations",
        "service_at_location",
        "services_at_location",
        "addresses",
        "physical_addresses",
        "postal_addresses",
        "contacts",
        "schedules",
        "regular_schedules",
        "service_areas",
        "required_documents",
    }
)
