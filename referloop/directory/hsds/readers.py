"""Reading HSDS files into one shape: tables of records (a dict per row, and where it came from).

Accepted inputs:
- a folder of CSV files, with or without a `datapackage.json` (HSDS 1.0, 1.1, 2.0, 3.0 and the
  3.1 `service_capacity`/`units` tables), or the path of that `datapackage.json`;
- an HSDS 3.0 JSON document: one object (service, organization, service_at_location, location,
  taxonomy, taxonomy_term), a list of them, or a paginated API response (`{"contents": [...]}`);
  nested objects are flattened into the same tables a tabular package has, so one mapping serves
  both. The 3.0 "tabular JSON" (`{"services.csv": [...], ...}`) is read as tables too.

CSV files may be UTF-8, UTF-8 with a BOM, UTF-16 with a BOM, or (as a fallback) Windows-1252 /
Latin-1; quoted fields may hold newlines. Row numbers are spreadsheet rows (the header is row 1).
"""

import codecs
import contextlib
import json
from pathlib import Path
from typing import Any

import orjson

from referloop.core.imports.readers import csv_table, decode, is_xlsx, is_zip, read_bytes, unpacked
from referloop.core.imports.report import ERROR, WARNING, InputError, Problem, input_error
from referloop.directory.hsds.dataset import Dataset, Record
from referloop.directory.hsds.legacy import pre_hsds_evidence, rewrite_pre_hsds
from referloop.directory.hsds.parse import BadValue, is_blank, scalar

_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
__all__ = ["Dataset", "InputError", "Record", "read_dataset"]


def read_dataset(path: str | Path) -> Dataset:
    """The dataset at `path`: a file, a folder, or a ZIP archive of either (unpacked into a
    temporary folder, removed once every record is read into memory)."""
    path = Path(path)
    try:
        exists = path.exists()
    except OSError as exc:  # e.g. a name longer than the system allows
        raise input_error(path.name, f"cannot read: {exc.strerror}") from None
    if not exists:
        raise input_error(str(path), "no such file or folder")
    if not (path.is_file() and is_zip(path) and not is_xlsx(path)):
        return _read_path(path)
    with unpacked(path) as folder:
        dataset = _read_path(folder, archive=path.name)
    dataset.source = str(path)
    if path.suffix.lower() != ".zip":
        dataset.problems.insert(
            0, Problem(path.name, None, "", "is a ZIP archive: read as one", WARNING)
        )
    return dataset


def _read_path(path: Path, *, archive: str = "") -> Dataset:
    if path.is_dir():
        descriptor = _find_descriptor(path)
        if descriptor is not None:
            return _read_package(descriptor)
        if not _csv_files(path) and (json_files := sorted(path.rglob("*.json"))):
            if len(json_files) == 1:
                return _read_json_file(json_files[0])
            names = ", ".join(str(file.relative_to(path)) for file in json_files[:5])
            raise input_error(
                archive or path.name, f"several JSON files and no datapackage.json ({names})"
            )
        return _read_tabular(path, source=str(path), declared=None, resources=None)
    if is_xlsx(path):
        raise input_error(
            path.name,
            "is an Excel workbook: HSDS is read from CSV files (save each sheet as CSV) or JSON",
        )
    if path.suffix.lower() == ".json" or _looks_like_json(path):
        return _read_json_file(path)
    raise input_error(
        path.name,
        "expected an HSDS JSON file (.json), a datapackage.json, a folder of CSV files, "
        "or a ZIP archive of one",
    )


def _looks_like_json(path: Path) -> bool:
    """A JSON document under another name (`services.txt`, an API response saved as is)."""
    start = read_bytes(path)[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return start[:1] in (b"{", b"[")


def _find_descriptor(folder: Path) -> Path | None:
    """The package's datapackage.json: in the folder, else the shallowest one below it (a ZIP
    often nests the package one or two folders down, beside other files)."""
    found = sorted(
        (file for file in folder.rglob("*") if file.name.lower() == "datapackage.json"),
        key=lambda file: (len(file.parts), str(file)),
    )
    return next((file for file in found if _is_file(file)), None)


def _csv_files(folder: Path) -> dict[str, Path]:
    """The CSV files of a folder by their lower-case name, those of its sub-folders too (the
    folder's own first): 211 exports put them under data/ or csv/ as often as not."""
    files: dict[str, Path] = {}
    for file in sorted(folder.rglob("*"), key=lambda file: (len(file.parts), str(file))):
        if file.suffix.lower() == ".csv" and _is_file(file):  # "Services.CSV" too
            files.setdefault(file.name.lower(), file)
    return files


def _load_json(path: Path, problems: list[Problem], *, pointed_to: bool = False) -> Any:
    raw = read_bytes(path)
    if not raw.startswith(_BOMS):
        # orjson reads UTF-8 bytes several times faster than decode + json.loads; whatever it
        # refuses (Latin-1, NaN, huge integers, malformed JSON) takes the path below, which
        # accepts or explains it.
        with contextlib.suppress(orjson.JSONDecodeError):
            return orjson.loads(raw)
    text = decode(raw, path.name, problems)
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(
            Problem(path.name, None, "", "malformed JSON: lists or objects nested too deeply")
        ) from None
    except json.JSONDecodeError as exc:
        pointer = text.strip()
        # A Git symlink checked out as a file holds the target path (e.g. "../../datapackage.json");
        # followed once: a pointer to a pointer is not one.
        if (
            not pointed_to
            and pointer.endswith(".json")
            and "\n" not in pointer
            and len(pointer) < 300
        ):
            target = (path.parent / pointer).resolve()
            if _is_file(target) and target != path.resolve():
                return _load_json(target, problems, pointed_to=True)
        raise InputError(
            Problem(
                path.name,
                None,
                "",
                f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            )
        ) from None


def _is_file(path: Path) -> bool:
    """A readable name of a file (a name the system refuses, e.g. too long, is not one)."""
    try:
        return path.is_file()
    except OSError:
        return False


# --- tabular -----------------------------------------------------------------------------------


def _read_package(descriptor_path: Path) -> Dataset:
    problems: list[Problem] = []
    descriptor = _load_json(descriptor_path, problems)
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("resources"), list):
        raise input_error(descriptor_path.name, "not a datapackage", field="resources")
    resources = []
    for index, resource in enumerate(descriptor["resources"], start=1):
        resource_path = resource.get("path") if isinstance(resource, dict) else None
        if not isinstance(resource_path, str) or "://" in resource_path:
            problems.append(
                Problem(
                    descriptor_path.name,
                    index,
                    "resources.path",
                    "only local CSV files are read",
                    WARNING,
                )
            )
            continue
        resources.append(resource_path)
    dataset = _read_tabular(
        descriptor_path.parent,
        source=str(descriptor_path),
        declared=str(descriptor.get("version") or ""),
        resources=resources,
    )
    dataset.problems[:0] = problems
    return dataset


def _read_tabular(
    folder: Path, *, source: str, declared: str | None, resources: list[str] | None
) -> Dataset:
    """The CSV files of a package: those its datapackage.json lists, found by name when the
    listed path does not match the layout (data/ or not, another letter case), and every other
    CSV file in the folder and below it."""
    dataset = Dataset(source=source, format="tabular")
    inside = folder.resolve()
    present = _csv_files(folder)
    files: dict[str, Path] = {}
    for listed in resources or []:
        file = folder / listed
        shown = listed[:200]
        if _is_file(file) and not file.resolve().is_relative_to(inside):
            dataset.problems.append(
                Problem(shown, None, "", "outside the package's folder: not read", WARNING)
            )
            continue
        if _is_file(file):
            files[file.name.lower()] = file
            continue
        found = present.get(Path(listed).name.lower())
        if found is None:
            reason = "listed in datapackage.json but not found"
            dataset.problems.append(Problem(shown, None, "", reason, WARNING))
            continue
        files[found.name.lower()] = found
        dataset.problems.append(
            Problem(
                "datapackage.json",
                None,
                "resources.path",
                f"names '{listed}', found at '{found.relative_to(folder).as_posix()}': "
                "read from there",
                WARNING,
                cause="names a path where there is no file: found by name",
            )
        )
    for name, file in present.items():
        files.setdefault(name, file)
    if not files:
        raise input_error(Path(source).name, "no CSV files found")
    headers: dict[str, list[str]] = {}
    for file in files.values():
        name = file.relative_to(folder).as_posix() if file.is_relative_to(folder) else file.name
        table = file.stem.lower()
        text = decode(read_bytes(file, name), name, dataset.problems)
        header, records = read_csv_text(text, file=name, table=table, problems=dataset.problems)
        headers[table] = header
        dataset.tables.setdefault(table, []).extend(records)
    if evidence := pre_hsds_evidence(headers):
        rewrite_pre_hsds(dataset, evidence)
    else:
        dataset.version, dataset.version_note = detect_tabular_version(headers, declared)
    return dataset


def read_csv_text(
    text: str, *, file: str, table: str, problems: list[Problem]
) -> tuple[list[str], list[Record]]:
    sheet = csv_table(text, name=file, problems=problems)
    header = [name.lower() for name in sheet.header]
    duplicates = {name for name in header if name and header.count(name) > 1}
    if duplicates:
        problems.append(
            Problem(file, 1, ", ".join(sorted(duplicates)), "column appears twice in the header")
        )
        return header, []
    records = [
        Record(table, dict(zip(header, cells, strict=False)), file, row)
        for row, cells in sheet.rows
    ]
    return header, records


def _major_minor(declared: str | None) -> str:
    if not declared:
        return ""
    parts = declared.strip().lstrip("v").split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else parts[0]


def detect_tabular_version(headers: dict[str, list[str]], declared: str | None) -> tuple[str, str]:
    """The HSDS version the tables are in, and a note on what gave it away."""
    names = set(headers)

    def has(table: str, column: str) -> bool:
        return column in headers.get(table, ())

    declared = _major_minor(declared)
    evidence: str = ""
    version = ""
    three = sorted(
        names
        & {
            "attributes",
            "addresses",
            "taxonomies",
            "service_at_location",
            "cost_options",
            "organization_identifiers",
            "accessibility",
        }
    )
    three_fields = [
        f"services.{column}"
        for column in ("minimum_age", "eligibility_description", "alert", "last_modified")
        if has("services", column)
    ] + (["locations.location_type"] if has("locations", "location_type") else [])
    if three or three_fields:
        version, evidence = "3.0", ", ".join([f"{n}.csv" for n in three] + three_fields)
    elif found := sorted(names & {"schedules", "service_attributes", "other_attributes"}) or (
        ["taxonomy_terms"] if has("taxonomy_terms", "term") else []
    ):
        version, evidence = "2.0", ", ".join(f"{n}.csv" for n in found)
    elif names & {
        "regular_schedules",
        "holiday_schedules",
        "services_taxonomy",
        "taxonomy",
        "physical_addresses",
        "postal_addresses",
        "services_at_location",
        "eligibility",
    }:
        one_one = [
            label
            for label, present in (
                ("services_taxonomy.csv", "services_taxonomy" in names),
                ("phones.service_at_location_id", has("phones", "service_at_location_id")),
                ("services.licenses", has("services", "licenses")),
                ("services.interpretation_services", has("services", "interpretation_services")),
                ("taxonomy.vocabulary", has("taxonomy", "vocabulary")),
            )
            if present
        ]
        one_zero = [
            label
            for label, present in (
                ("services.location_id", has("services", "location_id")),
                ("fees.csv", "fees" in names),
                ("interpretation_services.csv", "interpretation_services" in names),
            )
            if present
        ]
        if one_one and not one_zero:
            version, evidence = "1.1", ", ".join(one_one)
        elif one_zero:
            version, evidence = "1.0", ", ".join(one_zero)
        else:
            version = declared if declared.startswith("1.") else "1.1"
            evidence = "1.x table names"
    if names & {"service_capacity", "units"}:
        evidence = ", ".join(filter(None, [evidence, "with HSDS 3.1 service_capacity"]))
        version = version or "3.0"
    if not version:
        version = declared or "3.0"
        note = f"datapackage.json says {declared}" if declared else "no distinctive tables; assumed"
        return version, note
    note = f"from {evidence}"
    if declared and declared != version:
        note += f"; datapackage.json says {declared}"
    return version, note


# --- JSON ----------------------------------------------------------------------------------------


_SERVICE_KEYS = {
    "status",
    "organization",
    "program",
    "program_id",
    "service_at_locations",
    "service_areas",
    "required_documents",
    "eligibility_description",
    "minimum_age",
    "maximum_age",
    "interpretation_services",
    "application_process",
    "fees_description",
    "wait_time",
    "fees",
    "accreditations",
    "licenses",
    "alert",
    "assured_date",
    "assurer_email",
    "last_modified",
    "cost_options",
    "capacities",
}
_ORGANIZATION_KEYS = {
    "website",
    "tax_status",
    "tax_id",
    "year_incorporated",
    "legal_status",
    "logo",
    "parent_organization_id",
    "services",
    "locations",
    "programs",
    "organization_identifiers",
}
_LOCATION_KEYS = {
    "location_type",
    "latitude",
    "longitude",
    "addresses",
    "transportation",
    "accessibility",
    "external_identifier",
    "external_identifier_type",
}
_TERM_KEYS = {"taxonomy_detail", "term_uri", "code", "parent_id", "taxonomy", "taxonomy_id"}
_TAXONOMY_KEYS = {"id", "name", "description", "uri", "version", "metadata"}
_API_INFO_KEYS = {"version", "profile", "openapi_url"}

KIND_LABELS = {
    "service": ("service", "services"),
    "organization": ("organization", "organizations"),
    "service_at_location": ("service_at_location", "service_at_locations"),
    "location": ("location", "locations"),
    "taxonomy_term": ("taxonomy term", "taxonomy terms"),
    "taxonomy": ("taxonomy", "taxonomies"),
    "api_info": ("API information object", "API information objects"),
}


def classify(items: list[dict]) -> str:
    keys: set[str] = set()
    for item in items:
        keys.update(item)
    if not keys:
        return "empty"
    if keys <= _API_INFO_KEYS:
        return "api_info"
    if "name" not in keys and (
        isinstance(items[0].get("location"), dict)
        or isinstance(items[0].get("service"), dict)
        or {"service_id", "location_id"} <= keys
    ):
        return "service_at_location"
    if keys <= _TAXONOMY_KEYS and keys & {"uri", "version"}:
        return "taxonomy"
    scores = {
        "service": len(keys & _SERVICE_KEYS),
        "organization": len(keys & _ORGANIZATION_KEYS),
        "location": len(keys & _LOCATION_KEYS),
        "taxonomy_term": len(keys & _TERM_KEYS),
    }
    best = max(scores, key=scores.get)
    if scores[best]:
        return best
    return "organization" if "name" in keys else "unknown"


# Keys only services, or only organizations, have: an object in a list of the one kind that has
# keys of the other and none of its own is the other kind.
_ONLY = {
    "service": (_SERVICE_KEYS - _ORGANIZATION_KEYS, "a service"),
    "organization": (_ORGANIZATION_KEYS - _SERVICE_KEYS, "an organization"),
}


def _other_kind(item: dict, kind: str) -> tuple[str, str] | None:
    """(a key that gives it away, "a service") when `item` is the other kind than `kind`."""
    if kind not in _ONLY:
        return None
    (other_kind,) = set(_ONLY) - {kind}
    other_keys, what = _ONLY[other_kind]
    theirs = sorted(item.keys() & other_keys)
    if theirs and item.keys().isdisjoint(_ONLY[kind][0]):
        return theirs[0], what
    return None


def _read_json_file(path: Path) -> Dataset:
    problems: list[Problem] = []
    document = _load_json(path, problems)
    if isinstance(document, dict) and isinstance(document.get("resources"), list):
        return _read_package(path)
    dataset = Dataset(source=str(path), format="json", problems=problems)
    if isinstance(document, dict) and document and all(k.endswith(".csv") for k in document):
        return _read_tabular_json(path, document, dataset)
    if isinstance(document, dict) and isinstance(document.get("contents"), list):
        items, shape = document["contents"], "a paginated API response"
    elif isinstance(document, list):
        items, shape = document, "a list"
    elif isinstance(document, dict):
        items, shape = [document], "a single object"
    else:
        raise input_error(path.name, "expected a JSON object or list")
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise input_error(path.name, "expected an object in the list", row=index)
    kind = classify(items)
    if kind == "unknown":
        raise InputError(
            Problem(
                path.name,
                None,
                "",
                "cannot tell what these objects are: expected HSDS services, organizations, "
                "service_at_locations, locations or taxonomy terms",
            )
        )
    singular, plural = KIND_LABELS.get(kind, (kind, kind))
    flattener = Flattener(dataset, path.name)
    for index, item in enumerate(items, start=1):
        if other := _other_kind(item, kind):
            key, what = other
            dataset.problems.append(
                Problem(
                    path.name,
                    index,
                    key,
                    f"looks like {what} (it has '{key}'), but this list holds {plural}: "
                    "give one kind of object per list",
                    ERROR,
                )
            )
            continue  # not read as what it is not, even with --partial
        flattener.top(kind, item, row=index)
    count = len(items)
    described = f"JSON, {shape} of {count} {singular if count == 1 else plural}"
    if kind in ("api_info", "empty"):
        described = f"JSON, {shape} with no directory records"
    dataset.version = "3.0"
    dataset.version_note = described + (
        "; with HSDS 3.1 service capacities" if dataset.tables.get("service_capacity") else ""
    )
    return dataset


def _read_tabular_json(path: Path, document: dict, dataset: Dataset) -> Dataset:
    headers = {}
    for key, rows in document.items():
        table = key.removesuffix(".csv").lower()
        if not isinstance(rows, list):
            dataset.problems.append(Problem(path.name, None, key, "expected a list of rows"))
            continue
        records = []
        for index, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                dataset.problems.append(Problem(path.name, index, key, "expected an object"))
                continue
            records.append(Record(table, dict(row), f"{path.name} {key}", index))
        dataset.tables[table] = records
        headers[table] = sorted({name for row in rows if isinstance(row, dict) for name in row})
    dataset.format = "tabular"
    dataset.version, note = detect_tabular_version(headers, None)
    dataset.version_note = f"tabular JSON, {note}"
    return dataset


class Flattener:
    """Turns nested HSDS 3.0 objects into table records, linking each child to its parent by id
    the way the tabular form does. An object met twice (the same phone under the service and under
    its location) becomes one record whose links are the union of both."""

    def __init__(self, dataset: Dataset, file: str):
        self.dataset = dataset
        self.file = file
        self.index: dict[tuple[str, str], Record] = {}
        self.terms_read: dict[str, tuple[dict, str]] = {}  # id -> (object, record id)
        self.row = 0

    def top(self, kind: str, item: dict, *, row: int) -> None:
        self.row = row
        handler = {
            "service": self.service,
            "organization": self.organization,
            "service_at_location": self.service_at_location,
            "location": self.location,
            "taxonomy_term": self.taxonomy_term,
            "taxonomy": self.taxonomy,
        }.get(kind)
        if handler:
            handler(item, "")

    # helpers

    def _add(
        self, table: str, obj: dict, path: str, links: dict | None = None, nested=(), force=None
    ) -> str:
        # A list or object stays in the record: under a field the mapping reads, it is that
        # field's error ("expected a single value"); under any other key, it is not imported.
        data = dict(obj)
        if nested and not data.keys().isdisjoint(nested):
            for key in nested:  # read by their handlers (a malformed child is reported there)
                data.pop(key, None)
        if links:
            for key, value in links.items():
                if value is not None and is_blank(data.get(key)):
                    data[key] = value
        if force:
            data.update(force)  # nesting says more than the ids the object repeats
        try:
            record_id = scalar(obj.get("id"))
        except BadValue:
            record_id = None
        if record_id is None:
            self.dataset.tables.setdefault(table, []).append(
                Record(table, data, self.file, self.row, path)
            )
            return ""
        existing = self.index.get((table, record_id))
        if existing is None:
            record = Record(table, data, self.file, self.row, path)
            self.index[(table, record_id)] = record
            self.dataset.tables.setdefault(table, []).append(record)
        elif existing.data != data:
            # The same object nested again (an organization under each of its services) may say
            # less, or more: what it adds is kept; what it contradicts is an error.
            for key, value in data.items():
                if is_blank(value):
                    continue
                if is_blank(existing.data.get(key)):
                    existing.data[key] = value
                elif existing.data[key] != value:
                    self.dataset.problems.append(
                        Problem(
                            self.file,
                            self.row,
                            _join(path, key),
                            f"duplicate id '{record_id}' with another {key} "
                            f"(first at {existing.where(key)}, row {existing.row})",
                            ERROR,
                        )
                    )
                    break
        return record_id

    def _children(self, obj: dict, key: str, path: str, handler, **links) -> None:
        value = obj.get(key)
        if value is None:
            return
        if not isinstance(value, list):
            self.dataset.problems.append(
                Problem(self.file, self.row, _join(path, key), "expected a list", ERROR)
            )
            return
        for index, child in enumerate(value):
            child_path = _join(path, f"{key}[{index}]")
            if not isinstance(child, dict):
                self.dataset.problems.append(
                    Problem(self.file, self.row, child_path, "expected an object", ERROR)
                )
                continue
            handler(child, child_path, **links)

    def _child(self, obj: dict, key: str, path: str):
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.dataset.problems.append(
                Problem(self.file, self.row, _join(path, key), "expected an object", ERROR)
            )
            return None
        return value

    # tables

    def organization(self, obj: dict, path: str) -> str:
        nested = ("contacts", "phones", "locations", "services")
        org_id = self._add("organizations", obj, path, nested=nested)
        self._children(obj, "contacts", path, self.contact, organization_id=org_id)
        self._children(obj, "phones", path, self.phone, organization_id=org_id)
        self._children(obj, "locations", path, self.location, organization_id=org_id)
        self._children(obj, "services", path, self.service, organization_id=org_id)
        return org_id

    def service(self, obj: dict, path: str, organization_id: str | None = None) -> str:
        nested = (
            "organization",
            "phones",
            "schedules",
            "service_areas",
            "service_at_locations",
            "languages",
            "required_documents",
            "contacts",
            "attributes",
            "capacities",
        )
        organization = self._child(obj, "organization", path)
        if organization is not None:
            organization_id = self.organization(organization, _join(path, "organization"))
        service_id = self._add(
            "services", obj, path, {"organization_id": organization_id}, nested=nested
        )
        links = {"service_id": service_id}
        self._children(obj, "phones", path, self.phone, **links)
        self._children(obj, "schedules", path, self.schedule, **links)
        self._children(obj, "service_areas", path, self.simple, table="service_areas", **links)
        self._children(obj, "languages", path, self.simple, table="languages", **links)
        self._children(
            obj, "required_documents", path, self.simple, table="required_documents", **links
        )
        self._children(obj, "contacts", path, self.contact, **links)
        self._children(obj, "service_at_locations", path, self.service_at_location, **links)
        self._children(obj, "attributes", path, self.attribute, link_id=service_id)
        self._children(obj, "capacities", path, self.capacity, **links)
        return service_id

    def service_at_location(self, obj: dict, path: str, service_id: str | None = None) -> str:
        service = self._child(obj, "service", path)
        if service is not None:
            service_id = self.service(service, _join(path, "service"))
        location = self._child(obj, "location", path)
        location_id = None
        if location is not None:
            location_id = self.location(location, _join(path, "location"))
        nested = ("service", "location", "contacts", "phones", "schedules")
        sal_id = self._add(
            "service_at_location",
            obj,
            path,
            {"service_id": service_id, "location_id": location_id},
            nested=nested,
        )
        links = {"service_at_location_id": sal_id}
        self._children(obj, "contacts", path, self.contact, **links)
        self._children(obj, "phones", path, self.phone, **links)
        self._children(obj, "schedules", path, self.schedule, **links)
        return sal_id

    def location(self, obj: dict, path: str, organization_id: str | None = None) -> str:
        nested = ("languages", "addresses", "contacts", "phones", "schedules")
        location_id = self._add(
            "locations", obj, path, {"organization_id": organization_id}, nested=nested
        )
        links = {"location_id": location_id}
        self._children(obj, "languages", path, self.simple, table="languages", **links)
        self._children(obj, "addresses", path, self.simple, table="addresses", **links)
        self._children(obj, "contacts", path, self.contact, **links)
        self._children(obj, "phones", path, self.phone, **links)
        self._children(obj, "schedules", path, self.schedule, **links)
        return location_id

    def contact(self, obj: dict, path: str, **links) -> str:
        contact_id = self._add("contacts", obj, path, links, nested=("phones",))
        self._children(obj, "phones", path, self.phone, contact_id=contact_id)
        return contact_id

    def phone(self, obj: dict, path: str, **links) -> str:
        phone_id = self._add("phones", obj, path, links, nested=("languages",))
        self._children(obj, "languages", path, self.simple, table="languages", phone_id=phone_id)
        return phone_id

    def schedule(self, obj: dict, path: str, **links) -> str:
        return self._add("schedules", obj, path, links)

    def simple(self, obj: dict, path: str, *, table: str, **links) -> str:
        return self._add(table, obj, path, links)

    def attribute(self, obj: dict, path: str, link_id: str | None = None) -> str:
        term = self._child(obj, "taxonomy_term", path)
        links = {}
        if term is not None:
            links["taxonomy_term_id"] = self.taxonomy_term(term, _join(path, "taxonomy_term"))
        force = {"link_id": link_id, "link_entity": "service"}
        return self._add("attributes", obj, path, links, nested=("taxonomy_term",), force=force)

    def taxonomy_term(self, obj: dict, path: str) -> str:
        # Every attribute repeats its whole term (and the term its taxonomy): a term equal to
        # one already read adds nothing, and the comparison is much cheaper than reading it.
        term_id = obj.get("id")
        if term_id.__class__ is str:
            read = self.terms_read.get(term_id)
            if read is not None and read[0] == obj:
                return read[1]
        record_id = self._read_term(obj, path)
        if term_id.__class__ is str:
            self.terms_read[term_id] = (obj, record_id)
        return record_id

    def _read_term(self, obj: dict, path: str) -> str:
        detail = self._child(obj, "taxonomy_detail", path)
        links = {}
        if detail is not None:
            links["taxonomy_id"] = self.taxonomy(detail, _join(path, "taxonomy_detail"))
        return self._add("taxonomy_terms", obj, path, links, nested=("taxonomy_detail",))

    def taxonomy(self, obj: dict, path: str) -> str:
        return self._add("taxonomies", obj, path)

    def capacity(self, obj: dict, path: str, **links) -> str:
        unit = self._child(obj, "unit", path)
        if unit is not None:
            links["unit_id"] = self._add("units", unit, _join(path, "unit"))
            if not is_blank(unit.get("name")):
                links["unit_name"] = unit.get("name")
            if not is_blank(unit.get("identifier")):
                links["unit_identifier"] = unit.get("identifier")
        return self._add("service_capacity", obj, path, links, nested=("unit",))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
