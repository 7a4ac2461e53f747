"""Pre-HSDS directory exports (Ohana API CSV files, and the spreadsheets 211s kept before Open
Referral): organizations/locations/services/addresses/phones/taxonomy tables whose rows often
have no `id`, link to each other by name as often as by id, and pack lists into one cell
("English, Spanish"). They are rewritten here into the HSDS 1.1 tables the mapping reads:

- a row without an id gets a stable one from what identifies it (an organization by its name; a
  location by its organization, name and street; a service by its organization and name; a
  taxonomy term by its code, else its name...), so importing the file again matches every row
  and changes nothing;
- links by name (`organization_name`, `location_name`, `service_name`, `parent_name`, or
  `organization` / `location` / `service` holding a name) become links by id; a name that is not
  in the file is left as it is, to be reported as missing like any other link;
- comma- or semicolon-joined cells (`languages`, `service_areas`, `required_documents`,
  `keywords`, `taxonomy_ids`, `categories`) become rows of their own tables; a term named in a
  service but absent from the taxonomy file is added under its name;
- a service placed by `location_id` (Ohana, HSDS 1.0) belongs to its location's organization;
  an address or phone given inline on a location row becomes a row of its own.
"""

import re

from referloop.core.imports.run import stable_id
from referloop.directory.hsds.dataset import Dataset, Record
from referloop.directory.hsds.parse import is_blank
from referloop.directory.hsds.report import DEFAULT, Problem

# Columns only pre-HSDS exports have (Ohana API's CSV files above all).
MARKERS = {
    "services": {"keywords", "accepted_payments", "categories", "location_name"}
    | {"organization_name"},
    "locations": {"short_desc", "admin_emails", "organization_name"},
    "organizations": {"date_incorporated"},
    "phones": {"service_name", "location_name", "organization_name"},
}
MARKER_TABLES = {"mail_addresses"}
ID_TABLES = ("organizations", "locations", "services")
LIST_SPLIT = re.compile(r"\s*[;,|]\s*")
US_STATES = set(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "PR",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "GU",
        "VI",
        "AS",
        "MP",
    ]
)


def legacy_id(table: str, *identity: str) -> str:
    """The id of a row that has none, from what identifies it: readable where it fits (a
    report then says "duplicate id 'organizations:harbor house'"), else a stable UUID."""
    readable = f"{table}:" + "|".join(" ".join(part.split()).casefold() for part in identity)
    # 100: the shortest column an id may land in (a taxonomy term keeps its id as its code).
    return readable if len(readable) <= 100 else stable_id(table, *identity)


def pre_hsds_evidence(headers: dict[str, list[str]]) -> str:
    """What shows that the tables are a pre-HSDS export ("" when they are not)."""
    found = [f"{table}.csv" for table in sorted(MARKER_TABLES & set(headers))]
    for table, columns in MARKERS.items():
        found += [f"{table}.{name}" for name in sorted(columns & set(headers.get(table, ())))]
    without_ids = [t for t in ID_TABLES if t in headers and "id" not in headers[t]]
    if without_ids:
        found.append("rows without ids in " + ", ".join(f"{t}.csv" for t in without_ids))
    return ", ".join(found)


def _cell(record: Record, *names: str) -> str:
    for name in names:
        value = record.data.get(name)
        if not is_blank(value):
            return str(value).strip()
    return ""


def _split(text: str) -> list[str]:
    return [part for part in LIST_SPLIT.split(text) if part]


class _Rewriter:
    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.tables = dataset.tables
        self.ids: dict[str, dict[str, str]] = {"organizations": {}, "locations": {}, "services": {}}
        self.location_organization: dict[str, str] = {}
        self.terms: dict[str, str] = {}  # name or code (casefolded) -> term id

    def problem(self, record: Record, name: str, reason: str, severity: str) -> None:
        self.dataset.problems.append(Problem(record.file, record.row, name, reason, severity))

    def add(self, table: str, record: Record, data: dict) -> None:
        self.tables.setdefault(table, []).append(
            Record(table, data, record.file, record.row, record.path)
        )

    def give_id(self, table: str, record: Record, *identity: str) -> str:
        data = record.data
        if not is_blank(data.get("id")):
            return str(data["id"]).strip()
        data["id"] = legacy_id(table, *identity)
        return data["id"]

    def name_link(self, record: Record, kind: str, *names: str) -> None:
        """`<kind>_id` from the row's id column, else the name its other columns give."""
        key = f"{kind}_id"
        table = f"{kind}s"
        for name in names:
            value = record.data.pop(name, None)
            if is_blank(record.data.get(key)) and not is_blank(value):
                text = str(value).strip()
                record.data[key] = self.ids[table].get(text.casefold(), text)

    def run(self) -> None:
        for record in self.tables.get("organizations", []):
            name = _cell(record, "name")
            org_id = self.give_id("organizations", record, name)
            self._remember("organizations", record, name, org_id)
            if not is_blank(record.data.get("website")) and is_blank(record.data.get("url")):
                record.data["url"] = record.data.pop("website")
        for record in self.tables.get("locations", []):
            self.name_link(record, "organization", "organization_name", "organization")
            org_id = _cell(record, "organization_id")
            name = _cell(record, "name")
            location_id = self.give_id(
                "locations", record, org_id, name, _cell(record, "address_1", "address")
            )
            self._remember("locations", record, name, location_id)
            if org_id:
                self.location_organization[location_id] = org_id
            if is_blank(record.data.get("description")) and _cell(record, "short_desc"):
                record.data["description"] = record.data.pop("short_desc")
            self._inline_address(record, location_id)
            self._inline_phone(record, "location_id", location_id)
            self._list(record, "languages", "languages", "language", "location_id", location_id)
        self._taxonomy()
        for record in self.tables.get("services", []):
            self.name_link(record, "organization", "organization_name", "organization")
            self.name_link(record, "location", "location_name", "location")
            location_id = _cell(record, "location_id")
            if not _cell(record, "organization_id") and location_id in self.location_organization:
                record.data["organization_id"] = self.location_organization[location_id]
            name = _cell(record, "name")
            service_id = self.give_id(
                "services", record, _cell(record, "organization_id"), location_id, name
            )
            self._remember("services", record, name, service_id)
            if not is_blank(record.data.get("website")) and is_blank(record.data.get("url")):
                record.data["url"] = record.data.pop("website")
            if not is_blank(record.data.get("eligibility")):
                record.data.setdefault("eligibility_description", record.data.pop("eligibility"))
            self._inline_phone(record, "service_id", service_id)
            self._list(record, "languages", "languages", "language", "service_id", service_id)
            self._list(record, "service_areas", "service_areas", "name", "service_id", service_id)
            self._list(
                record,
                "required_documents",
                "required_documents",
                "document",
                "service_id",
                service_id,
            )
            self._service_terms(record, service_id)
        for table in ("addresses", "mail_addresses", "physical_addresses", "postal_addresses"):
            for record in self.tables.get(table, []):
                self.name_link(record, "location", "location_name", "location")
                self._address_fields(record)
                self.give_id(
                    table, record, _cell(record, "location_id"), _cell(record, "address_1")
                )
        if "mail_addresses" in self.tables:
            self.tables.setdefault("postal_addresses", []).extend(
                Record("postal_addresses", r.data, r.file, r.row, r.path)
                for r in self.tables.pop("mail_addresses")
            )
        for record in self.tables.get("phones", []):
            for kind in ("organization", "location", "service"):
                self.name_link(record, kind, f"{kind}_name")
            owners = [
                _cell(record, f"{kind}_id") for kind in ("organization", "location", "service")
            ]
            self.give_id("phones", record, *owners, _cell(record, "number"))
        for record in self.tables.get("regular_schedules", []):
            self.name_link(record, "service", "service_name")
            self.name_link(record, "location", "location_name")
            self.give_id(
                "regular_schedules",
                record,
                _cell(record, "service_id"),
                _cell(record, "location_id"),
                _cell(record, "weekday"),
                _cell(record, "opens_at"),
            )

    def _remember(self, table: str, record: Record, name: str, record_id: str) -> None:
        if name:  # a name given twice links to its first row
            self.ids[table].setdefault(name.casefold(), record_id)

    def _inline_address(self, record: Record, location_id: str) -> None:
        street = _cell(record, "address_1", "address", "street")
        if not street:
            return
        data = {
            "id": legacy_id("physical_addresses", location_id, street),
            "location_id": location_id,
            "address_1": street,
            "address_2": _cell(record, "address_2"),
            "city": _cell(record, "city"),
            "state_province": _cell(record, "state_province", "state"),
            "postal_code": _cell(record, "postal_code", "zip", "zip_code", "zipcode"),
            "country": _cell(record, "country"),
        }
        for name in (
            "address_1",
            "address",
            "street",
            "address_2",
            "city",
            "state_province",
            "state",
            "postal_code",
            "zip",
            "zip_code",
            "zipcode",
            "country",
        ):
            record.data.pop(name, None)
        address = Record("physical_addresses", data, record.file, record.row, record.path)
        self._address_fields(address)
        self.tables.setdefault("physical_addresses", []).append(address)

    def _address_fields(self, record: Record) -> None:
        data = record.data
        for ours, theirs in (("state_province", "state"), ("postal_code", "zip")):
            if is_blank(data.get(ours)) and not is_blank(data.get(theirs)):
                data[ours] = data.pop(theirs)
        state = _cell(record, "state_province").upper()
        if is_blank(data.get("country")) and state in US_STATES:
            data["country"] = "US"
            self.problem(
                record, "country", "is blank: imported as US (the state is a US state)", DEFAULT
            )

    def _inline_phone(self, record: Record, owner: str, owner_id: str) -> None:
        number = record.data.pop("phone", None)
        if is_blank(number):
            return
        data = {"id": legacy_id("phones", owner_id, str(number)), owner: owner_id, "number": number}
        self.add("phones", record, data)

    def _list(self, record, column, table, field, owner, owner_id) -> None:
        cell = record.data.pop(column, None)
        if is_blank(cell):
            return
        for item in _split(str(cell)):
            data = {"id": legacy_id(table, owner_id, item), owner: owner_id, field: item}
            self.add(table, record, data)

    def _taxonomy(self) -> None:
        records = self.tables.get("taxonomy", [])
        for record in records:
            name = _cell(record, "name")
            code = _cell(record, "code", "taxonomy_id", "id")
            term_id = self.give_id("taxonomy", record, code or name)
            for key in (name, code, term_id):
                if key:
                    self.terms.setdefault(key.casefold(), term_id)
        for record in records:
            parent = record.data.pop("parent_name", None)
            if is_blank(record.data.get("parent_id")) and not is_blank(parent):
                record.data["parent_id"] = self.terms.get(str(parent).strip().casefold(), parent)

    def _service_terms(self, record: Record, service_id: str) -> None:
        for column in ("taxonomy_ids", "keywords", "categories", "taxonomy"):
            cell = record.data.pop(column, None)
            if is_blank(cell):
                continue
            for item in _split(str(cell)):
                term_id = self.terms.get(item.casefold())
                if term_id is None:
                    term_id = self.terms[item.casefold()] = legacy_id("taxonomy", item)
                    self.add("taxonomy", record, {"id": term_id, "name": item})
                link = {
                    "id": legacy_id("services_taxonomy", service_id, term_id),
                    "service_id": service_id,
                    "taxonomy_id": term_id,
                }
                self.add("services_taxonomy", record, link)


def rewrite_pre_hsds(dataset: Dataset, evidence: str) -> None:
    """Rewrites a pre-HSDS dataset into HSDS 1.1 tables, in place."""
    _Rewriter(dataset).run()
    dataset.version = "1.1"
    dataset.version_note = (
        f"a pre-HSDS (Ohana-style) export, from {evidence}: read as HSDS 1.1, ids derived "
        "from names where rows have none, lists in one cell split"
    )
