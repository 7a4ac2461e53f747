"""A capacity feed's rows checked into readings: which of the agency's listings each row counts,
when, and how many of each unit — every problem with its row, column and value."""

import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from referloop.core.imports.columns import columns_match, header_key
from referloop.core.imports.readers import Table
from referloop.core.imports.report import DEFAULT, ERROR, WARNING, Problem, input_error
from referloop.core.imports.run import Progress
from referloop.directory.capacity_feed.columns import (
    COLUMNS,
    COUNTS,
    NAME_LENGTH,
    FeedMapping,
    unit_kind,
)
from referloop.directory.capacity_feed.values import BadValue, Moments, blank, count_read
from referloop.directory.models import (
    Address,
    CapacityReading,
    Service,
    ServiceAtLocation,
    ServiceCapacity,
)
from referloop.directory.selectors import capacity_in_force
from referloop.directory.services import UnitReading

REFERENCES = ("service", "location", "address")
NOT_READ_SHOWN = 8
PROGRESS_EVERY = 1000


class NotFound(Exception):
    def __init__(self, column: str, reason: str, cause: str):
        super().__init__(reason)
        self.column, self.reason, self.cause = column, reason, cause


class Listings:
    """The agency's listings as feeds name them: by our id, HSDS id, the id they were imported
    with, or name (case, spaces and punctuation aside); or by where they are (a location's name,
    or its address as the listing writes it, with or without city, state and ZIP code).

    Names no listing of the agency has are looked up in the rest of its network once, so a row
    naming another agency's listing says whose it is."""

    def __init__(self, agency, service_texts: set[str]):
        self.agency = agency
        own = Service.objects.for_network(agency.network).filter(agency=agency)
        self.names: dict[int, str] = {}
        self._by = {kind: defaultdict(set) for kind in ("pk", "hsds", "source", "name")}
        for pk, hsds_id, source_id, name in own.values_list("pk", "hsds_id", "source_id", "name"):
            self.names[pk] = name
            self._by["pk"][str(pk)].add(pk)
            self._by["hsds"][str(hsds_id)].add(pk)
            if source_id:
                self._by["source"][source_id].add(pk)
            self._by["name"][header_key(name)].add(pk)
        self._places: dict[str, set[int]] = defaultdict(set)
        located: dict[int, set[int]] = defaultdict(set)
        sites = ServiceAtLocation.objects.filter(service__in=own)
        for service_id, location_id, name in sites.values_list(
            "service_id", "location_id", "location__name"
        ):
            located[location_id].add(service_id)
            if name:
                self._places[header_key(name)].add(service_id)
        addresses = Address.objects.filter(location_id__in=list(located)).values_list(
            "location_id", "address_1", "address_2", "city", "state_province", "postal_code"
        )
        for location_id, *parts in addresses:
            for key in _address_keys(*parts):
                self._places[key] |= located[location_id]
        self._runners = self._elsewhere({text for text in service_texts if not self._named(text)})

    def _named(self, text: str) -> set[int]:
        for kind, key in (
            ("pk", text),
            ("hsds", _uuid(text)),
            ("source", text),
            ("name", header_key(text)),
        ):
            if found := self._by[kind].get(key):
                return found
        return set()

    def _elsewhere(self, texts: set[str]) -> dict[str, str]:
        """Who runs the listing each of `texts` names in the agency's network, if one does."""
        if not texts:
            return {}
        others = Service.objects.for_network(self.agency.network).exclude(agency=self.agency)
        fields = ("pk", "hsds_id", "source_id", "name", "agency__name", "organization__name")
        runners = {}
        for pk, hsds_id, source_id, name, agency, organization in others.values_list(*fields):
            runner = agency or organization
            for key in (str(pk), str(hsds_id), source_id, f"name:{header_key(name)}"):
                runners.setdefault(key, runner)
        return {
            text: runner
            for text in texts
            if (
                runner := runners.get(_uuid(text) or text)
                or runners.get(f"name:{header_key(text)}")
            )
        }

    def find(self, service: str, location: str, address: str) -> int:
        """The listing a row counts; NotFound (with the column to blame) when there is none, or
        more than one. A service named twice is told apart by the row's location or address."""
        agency = self.agency.name
        place = self._at(location, address)
        if service:
            found = self._named(service)
            if not found:
                if runner := self._runners.get(service):
                    raise NotFound(
                        "service",
                        f"'{service}' is {runner}'s listing, not a listing of {agency}",
                        f"not a listing of {agency}",
                    )
                raise NotFound(
                    "service",
                    f"'{service}' is no listing in the directory (by id or name)",
                    "no such listing in the directory",
                )
            if len(found) > 1 and place:
                found = (found & place) or found
            if len(found) > 1:
                raise NotFound(
                    "service",
                    f"'{service}' names {len(found)} listings of {agency} ({self._list(found)}): "
                    "give its id, or its location",
                    f"names several listings of {agency}",
                )
            return next(iter(found))
        where = address or location
        column = "address" if address else "location"
        if not where:
            raise NotFound(
                "service", "no service, location or address is given", "no listing given"
            )
        if not place:
            raise NotFound(
                column,
                f"no listing of {agency} is at '{where}'",
                f"no listing of {agency} at this location",
            )
        if len(place) > 1:
            raise NotFound(
                column,
                f"{len(place)} listings of {agency} are at '{where}' ({self._list(place)}): "
                "add a Service column to say which",
                f"several listings of {agency} at this location",
            )
        return next(iter(place))

    def _at(self, location: str, address: str) -> set[int]:
        # The address, when it matches, says more than a location's name.
        for text in (address, location):
            if (key := header_key(text)) and (found := self._places.get(key)):
                return found
        return set()

    def _list(self, pks: set[int]) -> str:
        return ", ".join(f"{self.names[pk]} #{pk}" for pk in sorted(pks))


def _address_keys(address_1, address_2, city, state, postal_code) -> set[str]:
    """The ways a feed may write an address: the street alone, then with the city, state and
    ZIP code ("231 Regina Ave", "231 Regina Ave, Saanich, BC")."""
    streets = [address_1] + ([f"{address_1} {address_2}"] if address_2 else [])
    keys = set()
    for street in streets:
        parts = [street]
        for part in (city, state, postal_code):
            keys.add(header_key(" ".join(parts)))
            parts.append(part)
        keys.add(header_key(" ".join(parts)))
    return keys - {""}


def _uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True)
class Draft:
    """One unit's count in one row, before its blanks are filled from the count in force."""

    row: int
    service_id: int
    unit: str
    name: str
    at: datetime
    available: int | None
    total: int | None
    occupied: int | None
    positions: dict[str, int]  # count -> cell index, for the problems


@dataclass(slots=True)
class Checked:
    readings: list[UnitReading] = field(default_factory=list)
    rejected_rows: int = 0
    units_not_added: int = 0  # kinds counted as none (0 of 0) by listings that lack them
    not_read: list[str] = field(default_factory=list)  # the file's columns nothing is read from


@dataclass(frozen=True, slots=True)
class _Group:
    unit: str
    name: str
    positions: dict[str, int]  # count -> cell index
    named_by_row: bool = False  # the Unit column names each row's kind


def feed_check(
    *,
    table: Table,
    mapping: FeedMapping,
    agency,
    zone,
    as_of: datetime | None,
    now: datetime,
    problems: list[Problem],
    progress: Progress | None = None,
) -> Checked:
    """The readings of `table`'s valid rows, each problem appended to `problems`. Raises
    InputError when the file lacks what every row needs (which listing, when, a count)."""
    file, header = table.name, table.header
    at = columns_match(header, COLUMNS, file=file, mapping=mapping.columns).positions
    if not any(column in at for column in REFERENCES):
        raise input_error(
            file,
            "no column says which listing a row counts: add a Service (or Program), Location "
            "or Address column, or name yours with --mapping",
            row=1,
        )
    date_at = at.get("date")
    if date_at is None and as_of is None:
        raise input_error(
            file,
            "no column says when each count was taken: add a Date column (or name yours with "
            "--mapping), or give --as-of",
            row=1,
        )
    groups = _groups(table, mapping, at)
    read = {at[c] for c in (*REFERENCES, "date") if c in at}
    read |= {position for group in groups for position in group.positions.values()}
    if groups[0].named_by_row:
        read.add(at["type"])
    checked = Checked(not_read=[h for i, h in enumerate(header) if h and i not in read])
    moments = Moments(zone, (_cell(cells, date_at) for _, cells in table.rows))
    texts = {_text(_cell(cells, at.get("service"))) for _, cells in table.rows} - {""}
    listings = Listings(agency, texts)
    found: dict[tuple, int | NotFound] = {}
    rejected: set[int] = set()

    def problem(row, position, reason, cause, value="", severity=ERROR):
        column = header[position] if position is not None else ""
        problems.append(Problem(file, row, column, reason, severity, _text(value), cause))
        if severity == ERROR:
            rejected.add(row)

    drafts: list[Draft] = []
    for index, (row, cells) in enumerate(table.rows, start=1):
        if progress is not None and index % PROGRESS_EVERY == 0:
            progress(index, len(table.rows), "checking")
        references = tuple(_text(_cell(cells, at.get(column))) for column in REFERENCES)
        if references not in found:
            try:
                found[references] = listings.find(*references)
            except NotFound as missing:
                found[references] = missing
        service_id = found[references]
        if isinstance(service_id, NotFound):
            column = service_id.column
            value = references[REFERENCES.index(column)]
            problem(row, at.get(column), service_id.reason, service_id.cause, value)
        moment = _moment(row, _cell(cells, date_at), date_at, moments, as_of, now, problem)
        units = [_unit_counts(row, cells, group, mapping, at, problem) for group in groups]
        if row in rejected:
            continue
        units = [unit for unit in units if unit is not None]
        if not units:
            problem(row, None, "has no count (available, total or occupied)", "no count in the row")
        for unit, name, counts, positions in units:
            drafts.append(Draft(row, service_id, unit, name, moment, *counts, positions))
    readings = list(_fill(drafts, problem, checked))  # may find more rows in error
    checked.readings = [reading for row, reading in readings if row not in rejected]
    checked.rejected_rows = len(rejected)
    return checked


def _groups(table: Table, mapping: FeedMapping, at: dict[str, int]) -> list[_Group]:
    """Where each unit's counts are: the mapping's units (a wide file), else the Available /
    Total / Occupied columns, each row's kind named by the Unit column when there is one."""
    if not mapping.units:
        positions = {count: at[count] for count in COUNTS if count in at}
        if not positions:
            raise input_error(
                table.name,
                "no column holds a count: add an Available column (or Total and Occupied), or "
                "name yours with --mapping",
                row=1,
            )
        return [_Group(mapping.unit, "", positions, named_by_row="type" in at)]
    keys = [header_key(text) for text in table.header]
    groups = []
    for unit in mapping.units:
        positions = {}
        for count, theirs in unit.headers.items():
            if header_key(theirs) not in keys:
                raise input_error(
                    table.name,
                    f"the mapping names the header '{theirs}' ({unit.name or unit.unit}, "
                    f"{count}), which is not in the file",
                    row=1,
                )
            positions[count] = keys.index(header_key(theirs))
        groups.append(_Group(unit.unit, unit.name, positions))
    return groups


def _cell(cells: list, position: int | None):
    return cells[position] if position is not None and position < len(cells) else None


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an id a spreadsheet holds as a number
    return "" if value is None else " ".join(str(value).split())


def _moment(row, value, position, moments: Moments, as_of, now, problem) -> datetime | None:
    if blank(value):
        if as_of is None:
            problem(row, position, "no date: give one, or --as-of", "no date")
        elif position is not None:
            reason = "no date: counted as of --as-of"
            problem(row, position, reason, "no date: --as-of", severity=DEFAULT)
        return as_of
    try:
        moment = moments.read(value)
    except BadValue as bad:
        problem(row, position, bad.reason, bad.cause, value)
        return None
    if moment > now:
        problem(row, position, f"'{_text(value)}' is in the future", "in the future", value)
        return None
    return moment


def _unit_counts(row, cells, group: _Group, mapping: FeedMapping, at, problem):
    """(unit, name, (available, total, occupied), positions) of one unit's cells in a row;
    None when they are blank, or one cannot be read (an error)."""
    counts = {}
    for count, position in group.positions.items():
        try:
            counts[count] = count_read(_cell(cells, position))
        except BadValue as wrong:
            problem(row, position, wrong.reason, wrong.cause, _cell(cells, position))
            return None
    if all(value is None for value in counts.values()):
        return None
    unit, name = group.unit, group.name
    if group.named_by_row and (kind := _text(_cell(cells, at["type"]))):
        unit, name = unit_kind(kind, default=mapping.unit)
        if len(name) > NAME_LENGTH:
            problem(row, at["type"], f"longer than {NAME_LENGTH} characters", "too long", name)
            return None
    return unit, name, tuple(counts.get(count) for count in COUNTS), group.positions


def _fill(drafts: list[Draft], problem, checked: Checked) -> Iterator[tuple[int, UnitReading]]:
    """(row, reading) of each draft, its blanks filled from the count in force at its time: the
    unit's latest earlier count in the file, else in Referloop, else 0 free of no stated
    maximum. A blank total keeps the maximum; a blank available is total - occupied when
    occupied is given, else the available in force (a default, noted). Units a listing does
    not have yet are not added for counts of none (0 free of 0)."""
    by_unit: dict[tuple, list[Draft]] = defaultdict(list)
    for draft in drafts:
        by_unit[(draft.service_id, draft.unit, header_key(draft.name))].append(draft)
    capacities = {
        (capacity.service_id, capacity.unit, header_key(capacity.name)): capacity
        for capacity in ServiceCapacity.objects.filter(service_id__in={k[0] for k in by_unit})
    }
    for unit_drafts in by_unit.values():
        unit_drafts.sort(key=lambda draft: (draft.at, draft.row))
    in_force = _in_force(by_unit, capacities)
    for key, unit_drafts in by_unit.items():
        capacity = capacities.get(key)
        before = in_force.get(key)
        carried = (before.available, before.maximum) if before else (0, None)
        name = capacity.name if capacity else unit_drafts[0].name
        kept, defaults, last = [], [], None
        for draft in unit_drafts:
            noted = len(defaults)
            numbers = _numbers(draft, carried, problem, defaults)
            if numbers is None:
                continue
            if last is not None and last.at == draft.at:
                del defaults[noted:]  # the row is read once, or refused
                if numbers == carried:
                    problem(
                        draft.row,
                        None,
                        f"the same count as row {last.row}: read once",
                        "repeats a row",
                        severity=WARNING,
                    )
                else:
                    problem(
                        draft.row,
                        None,
                        f"other numbers for the unit and time of row {last.row}",
                        "two counts of one unit at one time",
                    )
                continue
            carried, last = numbers, draft
            reading = UnitReading(draft.service_id, draft.unit, name, draft.at, *numbers)
            kept.append((draft.row, reading))
        if not kept:
            continue
        if capacity is None and all(r.available == 0 and not r.maximum for _, r in kept):
            checked.units_not_added += 1  # nothing to count: a kind the listing does not have
            continue
        for default in defaults:
            problem(*default, severity=DEFAULT)
        yield from kept


def _in_force(by_unit: dict[tuple, list[Draft]], capacities: dict) -> dict[tuple, CapacityReading]:
    """The reading in force, in Referloop, when each unit's first count in the file was taken,
    for the units whose first count leaves a figure blank: one query per distinct time."""
    wanted: dict[datetime, dict[int, tuple]] = defaultdict(dict)
    for key, unit_drafts in by_unit.items():
        first = unit_drafts[0]
        if key in capacities and (first.available is None or first.total is None):
            wanted[first.at][capacities[key].pk] = key
    in_force = {}
    for moment, keys in wanted.items():
        for capacity_id, reading in capacity_in_force(capacity_ids=keys, at=moment).items():
            in_force[keys[capacity_id]] = reading
    return in_force


def _numbers(draft: Draft, carried: tuple, problem, defaults: list) -> tuple | None:
    """(available, maximum) of a draft, given the (available, maximum) in force before it, and
    the default applied (if any) in `defaults`; None (an error reported) when they do not add
    up."""
    available, total, occupied = draft.available, draft.total, draft.occupied
    maximum = total if total is not None else carried[1]
    where = draft.positions
    shown = where.get("available", where.get("occupied", next(iter(where.values()))))
    default = None
    if available is None and occupied is not None and maximum is not None:
        available = maximum - occupied
        if available < 0:
            problem(
                draft.row,
                where["occupied"],
                f"{occupied} occupied is more than the total {maximum}",
                "more occupied than the total",
                occupied,
            )
            return None
        default = (
            f"available not given: {available}, the total {maximum} less {occupied} occupied",
            "available not given: total less occupied",
        )
    elif available is None:
        available = carried[0]
        default = (
            f"available not given: kept {available}, the count in force then (0 at first)",
            "available not given: the count in force kept",
        )
    if maximum is not None and available > maximum:
        if total is None:
            reason = f"{available} available is more than the unit's maximum {maximum}"
            cause = "more available than the unit's maximum (no total given)"
        else:
            reason = f"{available} available is more than the total {total}"
            cause = "more available than the total"
        problem(draft.row, shown, reason, cause, available)
        return None
    if default is not None:
        defaults.append((draft.row, shown, *default))
    return available, maximum
