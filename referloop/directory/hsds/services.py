"""HSDS import: `hsds_import(*, path, network, partial=False, progress=None) -> HsdsReport`.

1. Read (readers): JSON or tabular, any HSDS version, into tables of records.
2. Map (mapping): records → planned rows of our models, with a problem per bad value.
3. Resolve (here): every link a row makes (a service's organization, a phone's owners...) must
   name a row of the same file or one already in the network's directory; a row whose required
   parent is nowhere is an orphan and an error naming the missing id.
4. Write, in one transaction, only if there is no error — or, with `partial=True`, the rows that
   are sound (a row whose parent was refused is refused too, and says so). Rows are matched to
   the directory by (network, source_id), so importing the same file twice changes nothing the
   second time. Writes are bulk — a few queries per table whatever its size: new rows go in with
   `_Writer` (COPY on PostgreSQL, on a second thread; multi-row INSERT elsewhere), changed rows with
   `bulk_update`. New services get their search text, match keys and capacity summary as they
   are inserted; changed ones (their terms or languages included), and the capacity summary of
   services already in the directory whose capacity changed, are refreshed afterwards with the
   `directory.services` helpers.

Steps 2-4 run twice: first for the organizations, services, terms, attributes and capacities
(EARLY_KINDS: all a service's own row is composed from), then for the locations and the rest
(LATE_KINDS, from mapping.LATE_TABLES), checked while the database stores the first. An error in
the late ones rolls the early ones back: nothing is written. An error in the early ones is
reported together with the late ones', and nothing is written either.

What an import never does:
- delete: a row missing from a later file stays (files are often partial extracts);
- erase what the file does not say: a field absent from the file (a column the CSV lacks, a key
  the JSON object lacks) and an optional link it does not give keep their current value;
- move verification back: `last_verified_at` comes from HSDS `assured_date` (never from
  `last_modified`: a change is not a check) — an organization's from its services' — and only
  ever moves forward.
"""

import gc
import operator
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from types import SimpleNamespace

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from referloop.core.bulk import reserve_ids
from referloop.core.imports.report import InputError
from referloop.core.imports.run import Rollback, import_transaction
from referloop.core.models import Network
from referloop.directory.hsds.mapping import DEFAULT_TAXONOMY, HANDLERS, Mapper, Planned
from referloop.directory.hsds.parse import as_uuid
from referloop.directory.hsds.readers import read_dataset
from referloop.directory.hsds.report import ERROR, WARNING, HsdsReport, Problem
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
from referloop.directory.services import (
    MATCHED_VOCABULARIES,
    match_keys_compose,
    match_keys_refresh,
    search_text_compose,
    search_text_refresh,
    service_capacity_summary_refresh,
)
from referloop.directory.vocabulary import VOCABULARIES

Progress = Callable[[int, int, str], None]

# Deterministic UUIDs for rows whose HSDS id is not a UUID (and for capacity units).
HSDS_NAMESPACE = uuid.UUID("6f1d3c2e-8a4b-5c7d-9e0f-1a2b3c4d5e6f")
BATCH = 500
CHUNK = 2000

MODELS = {
    "organization": Organization,
    "service": Service,
    "location": Location,
    "sal": ServiceAtLocation,
    "contact": Contact,
    "phone": Phone,
    "schedule": Schedule,
    "language": Language,
    "service_area": ServiceArea,
    "required_document": RequiredDocument,
    "address": Address,
    "capacity": ServiceCapacity,
}
# Parents before children: the order rows are checked and written in. The early kinds are
# checked and written first, and the late ones checked while those are written (see _import).
EARLY_KINDS = ("taxonomy", "term", "organization", "service", "attribute", "capacity")
LATE_KINDS = (
    "location",
    "sal",
    "contact",
    "phone",
    "schedule",
    "language",
    "service_area",
    "required_document",
    "address",
)
KIND_ORDER = EARLY_KINDS + LATE_KINDS
TABLES = {
    "organization": "organizations",
    "service": "services",
    "location": "locations",
    "sal": "service_at_locations",
    "address": "addresses",
    "contact": "contacts",
    "phone": "phones",
    "schedule": "schedules",
    "service_area": "service_areas",
    "language": "languages",
    "required_document": "required_documents",
    "taxonomy": "taxonomies",
    "term": "taxonomy_terms",
    "attribute": "attributes",
    "capacity": "service_capacities",
}
NOUNS = {
    "organization": "organization",
    "service": "service",
    "location": "location",
    "sal": "service_at_location",
    "contact": "contact",
    "phone": "phone",
    "term": "taxonomy term",
    "taxonomy": "taxonomy",
}
MISSING = "is not in this file or the directory"
# Matched on these when the source id is new (a link made by hand, then imported).
NATURAL_KEYS = {
    "sal": ("service_id", "location_id"),
    "capacity": ("service_id", "unit", "name"),
}


def hsds_import(
    *,
    path: str | Path,
    network: Network,
    partial: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> HsdsReport:
    """Imports an HSDS file, package or ZIP archive into `network`'s directory; see the module
    docstring. A dry run checks and writes everything, then rolls it back."""
    report = HsdsReport(source=str(path), partial=partial, dry_run=dry_run)
    with _garbage_collector_paused():
        _import(path=path, network=network, report=report, progress=progress)
    return report


@contextmanager
def _garbage_collector_paused():
    """An import makes millions of small objects and no reference cycles: Python's cyclic
    collector would walk them over and over to free nothing (about 30% of a large import's CPU)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _import(*, path, network: Network, report: HsdsReport, progress: Progress | None) -> None:
    partial = report.partial
    if progress:
        progress(0, 0, "reading")
    try:
        dataset = read_dataset(path)
    except InputError as exc:
        report.problems.append(exc.problem)
        return
    report.version, report.version_note = dataset.version, dataset.version_note
    report.problems.extend(dataset.problems)
    report.read = dataset.size
    if progress:
        progress(0, dataset.size, "checking")
    if dataset.format == "tabular" and not dataset.tables.keys() & HANDLERS.keys():
        found = ", ".join(f"{table}.csv" for table in sorted(dataset.tables)[:5])
        report.problems.append(
            Problem(
                Path(str(path)).name,
                None,
                "",
                f"none of the files is an HSDS table (found {found or 'no rows'}; expected "
                "organizations.csv, services.csv, locations.csv...)",
            )
        )
        report.read = 0
        return
    mapper = Mapper(dataset)
    report.not_imported = mapper.skipped
    importer = _Importer(network=network, mapper=mapper, report=report, partial=partial)
    importer.check(late=False)
    if report.errors and not partial:
        importer.check(late=True)  # every error of the file, in one report
        return
    # The late tables are checked while the database stores the early ones (on PostgreSQL,
    # from the writer's thread): two cores at work where there was one.
    with import_transaction(report), _Writer() as writer:
        importer.start(writer)
        importer.write(EARLY_KINDS, progress=progress)
        if progress:
            progress(0, dataset.size, "checking the rest")
        importer.check(late=True)
        if report.errors and not partial:
            raise Rollback  # what was written of the early tables goes too
        importer.write(LATE_KINDS, progress=progress)
        importer.finish(progress=progress)


def _chunks(items: Iterable, size: int = CHUNK):
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _new_uuid(kind: str, source_id: str) -> str:
    """The hsds_id of a new row, as canonical text (the database takes it as a UUID): the file's
    id when it is a UUID, else one derived from it. Most files' ids already are canonical UUIDs,
    checked here without building one (which cost 2.5 µs a row)."""
    if _CANONICAL_UUID.fullmatch(source_id):
        return source_id
    return str(as_uuid(source_id) or uuid.uuid5(HSDS_NAMESPACE, f"{kind}:{source_id}"))


# Field types whose Python value the database driver cannot take as it is.
_PREPARED_TYPES = {
    "UUIDField",
    "DateTimeField",
    "DateField",
    "TimeField",
    "JSONField",
    "DecimalField",
    "DurationField",
    "BinaryField",
}


def _preparer(field, conn):
    """How a value of `field` becomes a driver parameter: what `get_db_prep_save` does, minus
    its per-call overhead for the common types (our values are already of the field's type)."""
    kind = field.get_internal_type()
    if kind not in _PREPARED_TYPES:
        return None
    if kind == "UUIDField":
        if conn.features.has_native_uuid_field:
            return None
        return lambda value: (value if value.__class__ is uuid.UUID else uuid.UUID(value)).hex
    if kind in _ADAPTED and conn.vendor == "postgresql":
        return None  # psycopg takes dates and times as they are (Django's adapters return them)
    adapter = _ADAPTED.get(kind)
    if adapter:
        return getattr(conn.ops, adapter)
    return lambda value: field.get_db_prep_save(value, conn)


_ADAPTED = {
    "DateTimeField": "adapt_datetimefield_value",
    "DateField": "adapt_datefield_value",
    "TimeField": "adapt_timefield_value",
}


class _Writer:
    """Inserts rows given as {attname: value} (missing fields get their default; `id` where the
    caller reserved it, else the database's): with `COPY` on PostgreSQL, else one multi-row
    `INSERT ... VALUES (...), (...)` per batch.

    This is `bulk_create` without building a model instance per row and compiling SQL per value,
    which together cost about 0.25 ms a row (measured: the 16,000 rows of 2,000 services took 4 s
    in bulk_create; under 1 s here). Values of the types the driver cannot take as they are
    (UUIDs on SQLite, dates, JSON...) are prepared as their field would. Nothing is read back.
    Like bulk_create, it sends no signals.

    On PostgreSQL each table's COPY runs on a second thread, over the same connection and so in
    the same transaction, while the importer prepares the next table: the database stores one
    table while Python builds the next, where each used to wait for the other. The links are
    checked as each COPY ends (the foreign keys made immediate), so that work overlaps Python's
    too, instead of all of it running alone at the commit: 1.5 million checks, some 9 s of a
    50,000-service import. psycopg serializes the two threads' use of the connection; the
    importer calls `flush` before a query that must see, or link to, rows still on their way."""

    def __init__(self):
        self.connection = connections[DEFAULT_DB_ALIAS]
        self.pool: ThreadPoolExecutor | None = None
        self.pending: list[Future] = []

    def __enter__(self) -> "_Writer":
        if self.connection.vendor == "postgresql":
            self._constraints("IMMEDIATE")
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hsds-writer")
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self.pool is None:
            return
        try:
            if exc is not None:
                for job in self.pending:
                    job.cancel()  # those not started: the transaction is lost anyway
            # A refusal on the writer's thread is the cause to report: a query after it only
            # says the transaction is aborted.
            self.flush()
            if exc is None:
                self._constraints("DEFERRED")  # as Django declares them, for what follows
        finally:
            self.pool.shutdown(wait=True)  # no COPY outlives the transaction

    def _constraints(self, mode: str) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(f"SET CONSTRAINTS ALL {mode}")

    def insert(self, model, rows: list[dict]) -> None:
        if not rows:
            return
        conn = self.connection
        fields = [
            f
            for f in model._meta.concrete_fields
            if (f.primary_key and "id" in rows[0]) or not (f.primary_key or f.generated)
        ]
        # A default is computed once per call: the fields whose default must differ per row
        # (hsds_id, timestamps) are always given.
        defaults = {f.attname: f.get_default() for f in fields}
        names = list(defaults)
        in_order = operator.itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
        prepared = [(i, prepare) for i, f in enumerate(fields) if (prepare := _preparer(f, conn))]

        def values(row: dict):
            result = in_order({**defaults, **row})
            if not prepared:
                return result
            result = list(result)
            for i, prepare in prepared:
                if result[i] is not None:
                    result[i] = prepare(result[i])
            return result

        quote = conn.ops.quote_name
        table = quote(model._meta.db_table)
        columns = ", ".join(quote(f.column) for f in fields)
        if self.pool is not None:
            # psycopg 3: COPY streams the rows; names come from model meta, not input.
            statement = f"COPY {table} ({columns}) FROM STDIN"
            job = self.pool.submit(_copy, conn.connection, statement, rows, values)
            self.pending.append(job)
            return
        head = f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608 (names from model meta)
        one_row = f"({', '.join(['%s'] * len(fields))})"
        batch = max(1, min(1000, conn.ops.bulk_batch_size(fields, rows)))
        with conn.cursor() as cursor:
            for start in range(0, len(rows), batch):
                chunk = rows[start : start + batch]
                params = [value for row in chunk for value in values(row)]
                cursor.execute(head + ", ".join([one_row] * len(chunk)), params)

    def flush(self) -> None:
        """Waits for the rows on their way; a refusal is raised as Django's database error."""
        pending, self.pending = self.pending, []
        for job in pending:
            if not job.cancelled() and (error := job.exception()) is not None:
                with self.connection.wrap_database_errors:
                    raise error


def _copy(connection, statement: str, rows: list[dict], values) -> None:
    """The writer thread's work: the rows through COPY, on the driver's connection (Django's
    connection object belongs to the thread that opened it)."""
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(values(row))


class _Importer:
    def __init__(self, *, network: Network, mapper: Mapper, report: HsdsReport, partial: bool):
        self.network = network
        self.mapper = mapper
        self.plans = mapper.plans
        self.report = report
        self.partial = partial
        # Rows already in the directory that the file links to: kind -> source id -> values.
        self.db: dict[str, dict[str, dict]] = defaultdict(dict)
        self.pk: dict[str, dict[str, int]] = defaultdict(dict)
        self.dirty_services: set[int] = set()
        self.created: dict[str, set[int]] = defaultdict(set)  # kind -> pks this import made
        self.organization_names: dict[int, str] = {}
        self.term_names: dict[int, tuple[str, str]] = {}  # pk -> (taxonomy name, term name)
        self.updated_organizations: set[int] = set()
        self.capacity_services: set[int] = set()
        self.taxonomies: dict[str, Taxonomy] = {}
        self.writer: _Writer | None = None
        self.populated: set[str] = set()  # kinds the network's directory already has rows of
        self.now = timezone.now()
        self.reserved: dict[str, list[int]] = {}  # kind -> primary keys taken for its new rows

    # --- problems ----------------------------------------------------------------------------

    def _problem(self, plan: Planned, name: str, reason: str, severity: str = ERROR) -> None:
        record = plan.record
        self.report.problems.append(
            Problem(record.file, record.row, record.where(name), reason, severity)
        )
        if severity == ERROR:
            plan.ok = False

    # --- resolve -----------------------------------------------------------------------------

    def _state(self, kind: str, source_id) -> str:
        if isinstance(source_id, int):
            return "ok"
        plan = self.plans[kind].get(source_id)
        if plan is not None:
            return "ok" if plan.ok else "failed"
        return "ok" if source_id in self.db[kind] else "missing"

    def check(self, *, late: bool) -> None:
        """Maps the early (or late) tables and resolves the links of the rows they plan."""
        mapper = self.mapper
        seen = len(mapper.problems)
        if late:
            mapper.run_late()
        else:
            mapper.run_early()
        self.report.problems.extend(mapper.problems[seen:])
        self.resolve(LATE_KINDS if late else EARLY_KINDS)
        if late:
            self._unused_locations()

    def _unused_locations(self) -> None:
        """A location no service of the file is offered at: imported (a later file may link
        it), but no search can find it until then."""
        used = {plan.refs["location_id"][1] for plan in self.plans["sal"].values()}
        for plan in self.plans["location"].values():
            if plan.ok and plan.source_id not in used:
                self._problem(
                    plan,
                    "id",
                    "no service in this file is offered at this location: imported, but no "
                    "search finds it until one is",
                    WARNING,
                )

    def _lookup(self, kinds: tuple[str, ...]) -> None:
        needed: dict[str, set[str]] = defaultdict(set)
        for kind in kinds:
            for plan in self.plans[kind].values():
                links = [*plan.refs.values()]
                if plan.via_sal:
                    links.append(("sal", plan.via_sal))
                if plan.via_location:
                    links.append(("location", plan.via_location))
                for kind, source_id in links:
                    if isinstance(source_id, str) and source_id not in self.plans[kind]:
                        needed[kind].add(source_id)
        if "service" in kinds:  # a service given without its organization may be in the directory
            needed["service"].update(
                plan.source_id
                for plan in self.plans["service"].values()
                if plan.refs["organization_id"][1] is None
            )
        extra = {
            "sal": ("service_id", "location_id"),
            "location": ("organization_id",),
            "service": ("organization_id",),
        }
        for kind, source_ids in needed.items():
            if kind == "term":
                self._lookup_terms(source_ids)
            elif kind == "taxonomy":
                ids = [u for u in map(as_uuid, source_ids) if u]
                for hsds_id, name in Taxonomy.objects.filter(hsds_id__in=ids).values_list(
                    "hsds_id", "name"
                ):
                    self.db["taxonomy"][str(hsds_id)] = {"name": name}
            elif kind in MODELS:
                fields = ("pk", "source_id", *extra.get(kind, ()))
                for chunk in _chunks(source_ids):
                    for row in (
                        MODELS[kind]
                        .objects.filter(network=self.network, source_id__in=chunk)
                        .values(*fields)
                    ):
                        self.db[kind][row["source_id"]] = row

    def _lookup_terms(self, source_ids: set[str]) -> None:
        by_uuid = {as_uuid(s): s for s in source_ids if as_uuid(s)}
        for pk, hsds_id in TaxonomyTerm.objects.filter(hsds_id__in=list(by_uuid)).values_list(
            "pk", "hsds_id"
        ):
            self.db["term"][by_uuid[hsds_id]] = {"pk": pk}
        rest = [s for s in source_ids if s not in self.db["term"]]
        matches = defaultdict(list)
        for chunk in _chunks(rest):
            for pk, code in TaxonomyTerm.objects.filter(code__in=chunk).values_list("pk", "code"):
                matches[code].append(pk)
        for code, pks in matches.items():
            if len(pks) == 1:  # a code alone is only an answer when it is unambiguous
                self.db["term"][code] = {"pk": pks[0]}

    def resolve(self, kinds: tuple[str, ...]) -> None:
        self._lookup(kinds)
        for kind in kinds:
            for plan in self.plans[kind].values():
                self._resolve_plan(plan)
            if kind in NATURAL_KEYS:
                self._natural_duplicates(kind)

    def _resolve_plan(self, plan: Planned) -> None:
        owners: list[tuple[str, str, str]] = []  # (field, "service 'X'", state) of lost owners
        if plan.via_sal:
            self._follow("sal", plan.via_sal, plan, ("service_id", "location_id"), owners)
        if plan.via_location:
            self._follow("location", plan.via_location, plan, ("organization_id",), owners)
        for name, (kind, source_id) in list(plan.refs.items()):
            if source_id is None:
                continue
            state = self._state(kind, source_id)
            if state == "ok":
                continue
            what = f"{NOUNS.get(kind, kind)} '{source_id}'"
            if name in plan.required:
                if state == "missing":
                    self._problem(plan, name, f"{what} {MISSING}")
                elif self.partial:
                    self._problem(plan, name, f"skipped: {what} was not imported")
                else:
                    plan.ok = False
                continue
            plan.refs[name] = (kind, None)
            if name in plan.any_of:
                owners.append((name, what, state))
            elif state == "missing" and name == "taxonomy_id":
                taxonomy = plan.values["taxonomy_name"] or DEFAULT_TAXONOMY
                self._problem(
                    plan,
                    name,
                    f"{what} {MISSING}; the term was filed under '{taxonomy}'",
                    WARNING,
                )
            elif state == "missing" or self.partial:
                where = "was not imported" if state == "failed" else MISSING
                self._problem(plan, name, f"{what} {where}; link left out", WARNING)
        for name in plan.required:
            if plan.refs[name][1] is None:
                self._required_missing(plan, name)
        if not plan.any_of:
            return
        orphan = all(plan.refs[name][1] is None for name in plan.any_of)
        for name, what, state in owners:
            if state == "failed" and not self.partial:
                continue
            reason = f"{what} {MISSING}"
            if state == "failed":
                reason = f"skipped: {what} was not imported"
            if orphan:
                self._problem(plan, name, reason)
            else:
                self._problem(plan, name, f"{reason}; link left out", WARNING)
        if orphan:
            if plan.kind == "contact" and not owners and plan.via_location:
                self._problem(
                    plan,
                    "location_id",
                    f"location '{plan.via_location}' has no organization, and Referloop keeps "
                    "contacts on an organization or a service: contact left out",
                    WARNING,
                )
            elif not owners:
                links = ", ".join(plan.any_of)
                self._problem(plan, "", f"belongs to nothing: give one of {links}")
            plan.ok = False

    def _follow(self, kind, source_id, plan: Planned, names, missing_owners) -> None:
        """A link through another row: a phone given by service_at_location_id belongs to that
        row's service and location; a contact given by location_id to its organization."""
        state = self._state(kind, source_id)
        field = "service_at_location_id" if kind == "sal" else "location_id"
        if state != "ok":
            missing_owners.append((field, f"{NOUNS[kind]} '{source_id}'", state))
            return
        through = self.plans[kind].get(source_id)
        for name in names:
            if name not in plan.refs or plan.refs[name][1] is not None:
                continue
            if through is not None:
                plan.refs[name] = through.refs[name]
            elif self.db[kind][source_id].get(name) is not None:
                plan.refs[name] = (plan.refs[name][0], self.db[kind][source_id][name])

    def _required_missing(self, plan: Planned, name: str) -> None:
        if plan.kind == "service" and name == "organization_id":
            known = self.db["service"].get(plan.source_id)
            if known is not None:  # re-stated without its organization: keep the one it has
                plan.refs[name] = ("organization", known["organization_id"])
                return
            self._problem(
                plan,
                name,
                "the service has no organization (no organization_id and none nested), and it "
                "is not in the directory yet",
            )
        elif plan.ok:
            self._problem(plan, name, "is required")

    def _natural_duplicates(self, kind: str) -> None:
        seen: dict[tuple, Planned] = {}
        for plan in self.plans[kind].values():
            if not plan.ok:
                continue
            if kind == "sal":
                key = (plan.refs["service_id"], plan.refs["location_id"])
                what = "this service is already linked to this location"
            else:
                key = (plan.refs["service_id"], plan.values["unit"], plan.values["name"])
                kind = plan.values["name"] or plan.values["unit"]
                what = f"this service already has a {kind} capacity"
            first = seen.setdefault(key, plan)
            if first is not plan:
                self._problem(plan, "", f"{what} (row {first.record.row} of {first.record.file})")

    # --- write -------------------------------------------------------------------------------

    def start(self, writer: _Writer) -> None:
        """Before anything is written (a query waits for the writer's COPY to end): which tables
        the network's directory already has rows in."""
        self.writer = writer
        self.populated = {
            kind for kind in MODELS if MODELS[kind].objects.filter(network=self.network).exists()
        }

    def write(self, kinds: tuple[str, ...], *, progress: Progress | None = None) -> None:
        own_writers = {
            "taxonomy": self._write_taxonomies,
            "term": self._write_terms,
            "attribute": self._write_attributes,
        }
        # A table the network has no rows of yet gets a key for each sound row it plans, so that
        # preparing its rows never waits for the table before it to be stored (and the late
        # tables are checked meanwhile).
        for kind in kinds:
            if kind in MODELS and kind not in self.populated:
                count = sum(1 for plan in self.plans[kind].values() if plan.ok)
                self.reserved[kind] = reserve_ids(MODELS[kind], count)
        for kind, rows in self.db.items():
            for source_id, row in rows.items():
                if "pk" in row:
                    self.pk[kind][source_id] = row["pk"]
        total = sum(1 for kind in kinds for plan in self.plans[kind].values() if plan.ok)
        done = 0
        for kind in kinds:
            if progress:
                progress(done, total, f"writing {TABLES[kind]}")
            if kind in own_writers:
                own_writers[kind]()
            else:
                self._upsert(kind)
            done += sum(1 for plan in self.plans[kind].values() if plan.ok)

    def finish(self, *, progress: Progress | None = None) -> None:
        # The last tables' rows, still on their way, are part of writing; the refresh reads them.
        self.writer.flush()
        if progress:
            progress(1, 1, "refreshing search text")
        self._refresh()
        if progress:  # SQLite checks every link the rows make as it commits: seconds, at scale
            progress(1, 1, "committing")

    def _ref_pk(self, kind: str, source_id):
        if source_id is None or isinstance(source_id, int):
            return source_id
        return self.pk[kind].get(source_id)

    def _counts(self, kind: str):
        counts = self.report.count(TABLES[kind])
        counts.rejected = sum(1 for plan in self.plans[kind].values() if not plan.ok)
        return counts

    def _hsds_ids(self, model, kind: str, rows, existing: dict, populated: bool) -> dict:
        """The hsds_id of each new row: the file's id when it is a UUID (else a UUID derived
        from it). A row of the directory that already has that hsds_id is the same row (our own
        export imported back, where a row's HSDS id is its hsds_id, whatever id its source gave
        it): it is matched, not duplicated; if a row this file already matched holds it, the new
        row gets a fresh UUID."""
        wanted = {
            plan.source_id: _new_uuid(kind, plan.source_id)
            for plan, _ in rows
            if plan.source_id not in existing
        }
        holders = {}
        if populated:
            for chunk in _chunks(wanted.values()):
                for obj in model.objects.filter(network=self.network, hsds_id__in=chunk):
                    holders[str(obj.hsds_id)] = obj
        claimed = {obj.pk for obj in existing.values()}
        result, used = {}, set()
        for source_id, candidate in wanted.items():
            holder = holders.pop(candidate, None)
            if holder is not None and holder.pk not in claimed:
                existing[source_id] = holder
                claimed.add(holder.pk)
            elif holder is not None or candidate in used:
                result[source_id] = str(uuid.uuid4())  # taken, or one UUID spelt twice (ABC/abc)
            else:
                result[source_id] = candidate
                used.add(candidate)
        return result

    def _upsert(self, kind: str) -> None:
        model = MODELS[kind]
        plans = [plan for plan in self.plans[kind].values() if plan.ok]
        counts = self._counts(kind)
        if not plans:
            return
        attnames = {f.attname for f in model._meta.concrete_fields}
        rows: list[tuple[Planned, dict]] = []
        for plan in plans:
            values = dict(plan.values)
            for name, (ref_kind, source_id) in plan.refs.items():
                if name in attnames:
                    values[name] = self._ref_pk(ref_kind, source_id)
            rows.append((plan, values))
        if kind == "service":
            agencies = {}  # an organization this import made has no agency yet
            org_pks = {values["organization_id"] for _, values in rows} - self.created[
                "organization"
            ]
            for chunk in _chunks(org_pks):
                agencies.update(
                    Organization.objects.filter(pk__in=chunk).values_list("pk", "agency_id")
                )
            for _, values in rows:
                values["agency_id"] = agencies.get(values["organization_id"])
        existing: dict[str, object] = {}
        # A first import into a network skips the lookups: there is nothing to match.
        populated = kind in self.populated
        if populated:
            for chunk in _chunks([plan.source_id for plan in plans]):
                for obj in model.objects.filter(network=self.network, source_id__in=chunk):
                    existing[obj.source_id] = obj
            natural = NATURAL_KEYS.get(kind)
            if natural:
                self._match_natural(model, natural, rows, existing)
        new_ids = self._hsds_ids(model, kind, rows, existing, populated)
        stamped = kind in ("organization", "service")
        # A language row that changes changes the match keys of the service it was on, too.
        spoken_by = (
            {obj.pk: obj.service_id for obj in existing.values()} if kind == "language" else {}
        )
        to_create: list[dict] = []
        to_update, changed_fields = [], set()
        recounted = []  # capacities whose numbers changed: a reading each
        for plan, values in rows:
            obj = existing.get(plan.source_id)
            if obj is None:
                row = {
                    **values,
                    "network_id": self.network.pk,
                    "source_id": plan.source_id,
                    "hsds_id": new_ids[plan.source_id],
                }
                if stamped:
                    row["created_at"] = row["updated_at"] = self.now
                to_create.append(row)
                counts.created += 1
                continue
            self.pk[kind][plan.source_id] = obj.pk
            if kind == "capacity" and obj.updated_at > values.get("updated_at", obj.updated_at):
                self._problem(
                    plan,
                    "updated",
                    f"the directory's {obj.unit} count ({obj.available}, updated "
                    f"{obj.updated_at:%Y-%m-%d %H:%M} UTC) is newer than this file's; kept it",
                    WARNING,
                )
                counts.unchanged += 1
                continue
            # An optional link the file does not give (or gives to a row that is nowhere)
            # leaves the link the directory has: an import adds links, never removes them.
            for name in plan.refs:
                if values.get(name) is None and name not in plan.required:
                    values.pop(name, None)
            changed = self._apply(obj, values)
            if changed and kind == "capacity":
                if obj.updated_by_id is not None:
                    obj.updated_by = None  # the numbers are now the file's, not that person's
                    changed.append("updated_by")
                recounted.append(obj)
            if changed and stamped:
                obj.updated_at = self.now
                changed.append("updated_at")
            if not obj.source_id:  # a row made here, now known by the file's id too
                obj.source_id = plan.source_id
                changed.append("source_id")
            if changed:
                changed_fields.update(changed)
                to_update.append(obj)
            # A row that only learnt its source id says nothing new: it is unchanged.
            if set(changed) - {"source_id"}:
                counts.updated += 1
            else:
                counts.unchanged += 1
        if kind == "service":
            self._compose_search_columns(to_create)
            self._summarize_capacity(to_create)
        # New rows get their primary keys before they are written, so the next table's rows can
        # link to them while these are still on their way.
        ids = self.reserved.pop(kind, None) or reserve_ids(model, len(to_create))
        for row, pk in zip(to_create, ids, strict=True):
            row["id"] = self.pk[kind][row["source_id"]] = pk
        self.writer.insert(model, to_create)
        if to_update:
            self.writer.flush()  # a changed row may now link to a row still on its way
            model.objects.bulk_update(to_update, sorted(changed_fields), batch_size=BATCH)
        self.created[kind].update(row["id"] for row in to_create)
        if kind == "service":
            self.dirty_services.update(obj.pk for obj in to_update)
        elif kind == "language":
            # New services got the file's languages in their match keys as they were inserted.
            touched = {row.get("service_id") for row in to_create} - self.created["service"]
            touched |= {obj.service_id for obj in to_update}
            touched |= {spoken_by[obj.pk] for obj in to_update}
            self.dirty_services.update(touched - {None})
        elif kind == "organization":
            self.updated_organizations.update(obj.pk for obj in to_update)
            self.organization_names.update((obj.pk, obj.name) for obj in existing.values())
            self.organization_names.update((row["id"], row["name"]) for row in to_create)
        elif kind == "capacity":
            self._capacity_readings(
                [
                    *to_create,
                    *(
                        {name: getattr(obj, name) for name in self.READING_FIELDS}
                        for obj in recounted
                    ),
                ]
            )

    def _compose_search_columns(self, services: list[dict]) -> None:
        """New services get their search text and match keys as they are inserted (what
        search_text_refresh and match_keys_refresh would write), so a first import does not
        rewrite every row it has just written."""
        if not services:
            return
        missing = {s["organization_id"] for s in services} - set(self.organization_names)
        for chunk in _chunks(missing):
            self.organization_names.update(
                Organization.objects.filter(pk__in=chunk).values_list("pk", "name")
            )
        term_pks = defaultdict(set)
        for plan in self.plans["attribute"].values():
            term_pk = self._ref_pk("term", plan.refs["term_id"][1])
            if plan.ok and term_pk is not None:
                term_pks[plan.refs["service_id"][1]].add(term_pk)
        missing = {pk for pks in term_pks.values() for pk in pks} - set(self.term_names)
        for chunk in _chunks(missing):
            for pk, taxonomy, name in TaxonomyTerm.objects.filter(pk__in=chunk).values_list(
                "pk", "taxonomy__name", "name"
            ):
                self.term_names[pk] = (taxonomy, name)
        codes = defaultdict(list)
        for plan in self.plans["language"].values():
            service_id = plan.refs.get("service_id", (None, None))[1]
            if plan.ok and service_id is not None:
                codes[service_id].append(plan.values.get("code", ""))
        for row in services:
            row["match_keys"] = match_keys_compose(
                term_ids=[
                    pk
                    for pk in term_pks.get(row["source_id"], ())
                    if self.term_names[pk][0] in MATCHED_VOCABULARIES
                ],
                language_codes=codes.get(row["source_id"], ()),
            )
            names = sorted(self.term_names[pk] for pk in term_pks.get(row["source_id"], ()))
            service = SimpleNamespace(
                name=row["name"],
                alternate_name=row.get("alternate_name", ""),
                description=row.get("description", ""),
            )
            row["search_text"] = search_text_compose(
                service=service,
                organization_name=self.organization_names[row["organization_id"]],
                term_names=[name for _, name in names],
            )

    def _summarize_capacity(self, services: list[dict]) -> None:
        """New services get the capacity summary of the file's capacities for them (what
        `_refresh` would write) as they are inserted: rewriting the service rows afterwards
        also rewrites their entries in every index, the full-text one included."""
        summaries: dict[str, tuple[bool, object]] = {}
        for plan in self.plans["capacity"].values():
            if plan.ok:
                service_id = plan.refs["service_id"][1]
                room, updated = plan.values["available"] > 0, plan.values["updated_at"]
                if service_id in summaries:
                    had_room, latest = summaries[service_id]
                    room, updated = room or had_room, max(updated, latest)
                summaries[service_id] = (room, updated)
        for row in services:
            if row["source_id"] in summaries:
                row["has_capacity"], row["capacity_updated_at"] = summaries[row["source_id"]]

    @staticmethod
    def _apply(obj, values: dict) -> list[str]:
        changed = []
        for name, value in values.items():
            current = getattr(obj, name)
            if name == "last_verified_at":  # verification only moves forward
                value = max(filter(None, (current, value)), default=None)
            if current != value:
                setattr(obj, name, value)
                changed.append(name)
        return changed

    def _match_natural(self, model, natural, rows, existing) -> None:
        unmatched = [(plan, values) for plan, values in rows if plan.source_id not in existing]
        if not unmatched:
            return
        claimed = {obj.pk for obj in existing.values()}
        by_key = {}
        service_pks = {values["service_id"] for _, values in unmatched}
        for chunk in _chunks(service_pks):
            for obj in model.objects.filter(network=self.network, service_id__in=chunk):
                by_key[tuple(getattr(obj, name) for name in natural)] = obj
        for plan, values in unmatched:
            obj = by_key.get(tuple(values[name] for name in natural))
            if obj is not None and obj.pk not in claimed:
                claimed.add(obj.pk)
                existing[plan.source_id] = obj

    READING_FIELDS = ("id", "service_id", "available", "maximum", "waitlist", "updated_at")

    def _capacity_readings(self, capacities: list[dict]) -> None:
        """A CapacityReading per capacity created or changed, so imported numbers have history."""
        self.writer.insert(
            CapacityReading,
            [
                {
                    "capacity_id": capacity["id"],
                    "available": capacity["available"],
                    "maximum": capacity.get("maximum"),
                    "waitlist": capacity.get("waitlist", False),
                    "recorded_at": capacity["updated_at"],
                }
                for capacity in capacities
            ],
        )
        self.capacity_services.update(
            capacity["service_id"]
            for capacity in capacities
            if capacity["service_id"] not in self.created["service"]
        )

    def _write_taxonomies(self) -> None:
        """Taxonomies are shared by every network (one row per name)."""
        terms = [plan for plan in self.plans["term"].values() if plan.ok]
        for plan in terms:
            taxonomy_id = plan.refs["taxonomy_id"][1]
            given = self.plans["taxonomy"].get(taxonomy_id) if taxonomy_id else None
            if given is not None and given.ok:
                plan.values["taxonomy_name"] = given.values["name"]
            elif taxonomy_id in self.db["taxonomy"]:
                plan.values["taxonomy_name"] = self.db["taxonomy"][taxonomy_id]["name"]
            plan.values["taxonomy_name"] = plan.values["taxonomy_name"] or DEFAULT_TAXONOMY
        planned = {p.values["name"]: p for p in self.plans["taxonomy"].values() if p.ok}
        names = set(planned) | {plan.values["taxonomy_name"] for plan in terms}
        if not names:
            return
        counts = self._counts("taxonomy")
        existing = {t.name: t for t in Taxonomy.objects.filter(name__in=names)}
        wanted = {name: as_uuid(plan.source_id) for name, plan in planned.items()}
        taken = set(
            Taxonomy.objects.filter(hsds_id__in=[u for u in wanted.values() if u]).values_list(
                "hsds_id", flat=True
            )
        )
        to_create, to_update, fields = [], [], set()
        for name in sorted(names):
            plan = planned.get(name)
            values = {k: v for k, v in plan.values.items() if k != "name"} if plan else {}
            if name in VOCABULARIES:
                values = {}  # Referloop's own, which search matches on: no file rewrites it
            obj = existing.get(name)
            if obj is None:
                obj = Taxonomy(name=name, **values)
                if wanted.get(name) and wanted[name] not in taken:
                    obj.hsds_id = wanted[name]  # keep the file's id where it is free
                    taken.add(obj.hsds_id)
                to_create.append(obj)
                counts.created += 1
            elif changed := self._apply(obj, values):
                fields.update(changed)
                to_update.append(obj)
                counts.updated += 1
            else:
                counts.unchanged += 1
            existing[name] = obj
        Taxonomy.objects.bulk_create(to_create)
        if to_update:
            Taxonomy.objects.bulk_update(to_update, sorted(fields))
        self.taxonomies = existing

    def _write_terms(self) -> None:
        plans = [plan for plan in self.plans["term"].values() if plan.ok]
        counts = self._counts("term")
        if not plans:
            return
        keyed: dict[tuple[int, str], list[Planned]] = defaultdict(list)
        for plan in plans:
            taxonomy = self.taxonomies[plan.values["taxonomy_name"]]
            keyed[(taxonomy.pk, plan.values["code"])].append(plan)
        existing = {}
        taxonomy_pks = {key[0] for key in keyed}
        for chunk in _chunks({key[1] for key in keyed}):
            for term in TaxonomyTerm.objects.filter(taxonomy_id__in=taxonomy_pks, code__in=chunk):
                existing[(term.taxonomy_id, term.code)] = term
        new_keys = [key for key in keyed if key not in existing]
        candidates = {key: as_uuid(keyed[key][0].source_id) for key in new_keys}
        taken = set(
            TaxonomyTerm.objects.filter(
                hsds_id__in=[u for u in candidates.values() if u]
            ).values_list("hsds_id", flat=True)
        )
        own = {taxonomy.pk for name, taxonomy in self.taxonomies.items() if name in VOCABULARIES}
        to_create, to_update, fields = [], [], set()
        for key, group in keyed.items():
            plan = group[0]  # several HSDS ids for one (taxonomy, code) become one term
            values = {
                name: plan.values[name]
                for name in ("name", "description", "term_uri")
                if name in plan.values
            }
            obj = existing.get(key)
            if obj is not None and key[0] in own:
                values = {}  # a term of Referloop's own vocabularies is every network's
            if obj is None:
                hsds_id = candidates[key]
                if not hsds_id or hsds_id in taken:
                    hsds_id = uuid.uuid4()
                taken.add(hsds_id)
                obj = TaxonomyTerm(taxonomy_id=key[0], code=key[1], hsds_id=hsds_id, **values)
                to_create.append(obj)
                counts.created += 1
            elif changed := self._apply(obj, values):
                fields.update(changed)
                to_update.append(obj)
                counts.updated += 1
            else:
                counts.unchanged += 1
            existing[key] = obj
        TaxonomyTerm.objects.bulk_create(to_create, batch_size=BATCH)  # few rows; pks needed
        if to_update:
            TaxonomyTerm.objects.bulk_update(to_update, sorted(fields), batch_size=BATCH)
        taxonomy_names = {taxonomy.pk: name for name, taxonomy in self.taxonomies.items()}
        for key, group in keyed.items():
            term = existing[key]
            self.term_names[term.pk] = (taxonomy_names[key[0]], term.name)
            for plan in group:
                self.pk["term"][plan.source_id] = term.pk
        # Parents, once every term has a primary key.
        reparented = []
        for key, group in keyed.items():
            obj = existing[key]
            parent_pk = self._ref_pk("term", group[0].refs["parent_id"][1])
            if key[0] in own:
                continue
            if parent_pk is not None and parent_pk != obj.pk and obj.parent_id != parent_pk:
                obj.parent_id = parent_pk
                reparented.append(obj)
        if reparented:
            TaxonomyTerm.objects.bulk_update(reparented, ["parent"], batch_size=BATCH)

    def _write_attributes(self) -> None:
        plans = [plan for plan in self.plans["attribute"].values() if plan.ok]
        counts = self._counts("attribute")
        if not plans:
            return
        wanted: dict[tuple[int, int], Planned] = {}
        for plan in plans:
            key = (
                self._ref_pk("service", plan.refs["service_id"][1]),
                self._ref_pk("term", plan.refs["term_id"][1]),
            )
            if None not in key:
                wanted.setdefault(key, plan)
        existing = {}
        for chunk in _chunks({key[0] for key in wanted} - self.created["service"]):
            for attribute in ServiceAttribute.objects.filter(service_id__in=chunk):
                existing[(attribute.service_id, attribute.term_id)] = attribute
        to_create, to_update = [], []
        for key, plan in wanted.items():
            obj = existing.get(key)
            if obj is None:
                to_create.append(
                    {
                        "service_id": key[0],
                        "term_id": key[1],
                        "value": plan.values.get("value", ""),
                        "hsds_id": _new_uuid("attribute", plan.source_id),
                    }
                )
                counts.created += 1
            elif obj.value != plan.values.get("value", obj.value):
                obj.value = plan.values["value"]
                to_update.append(obj)
                counts.updated += 1
            else:
                counts.unchanged += 1
        self.writer.insert(ServiceAttribute, to_create)
        if to_update:
            self.writer.flush()
            ServiceAttribute.objects.bulk_update(to_update, ["value"], batch_size=BATCH)
        touched = {row["service_id"] for row in to_create} | {a.service_id for a in to_update}
        self.dirty_services.update(touched - self.created["service"])

    def _refresh(self) -> None:
        dirty = set(self.dirty_services)
        for chunk in _chunks(self.updated_organizations):
            dirty.update(
                Service.objects.filter(organization_id__in=chunk).values_list("pk", flat=True)
            )
        for chunk in _chunks(sorted(dirty)):
            search_text_refresh(service_ids=chunk)
            match_keys_refresh(service_ids=chunk)
        latest = (
            ServiceCapacity.objects.filter(service=OuterRef("pk"))
            .order_by("-updated_at")
            .values("updated_at")[:1]
        )
        for chunk in _chunks(sorted(self.capacity_services)):
            service_capacity_summary_refresh(service_ids=chunk)
            Service.objects.filter(pk__in=chunk).update(capacity_updated_at=Subquery(latest))
