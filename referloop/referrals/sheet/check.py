"""Reading a tracking sheet and checking every row before anything is written: the file's headers
matched to our columns, everything the rows refer to read up front (a few queries, whatever the
number of rows), and each row turned into a SheetRow or all of its problems."""

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from referloop.clients import matching
from referloop.core.imports.columns import columns_match, header_key
from referloop.core.imports.readers import read_table
from referloop.core.imports.report import ERROR, WARNING, ImportReport, Problem, input_error
from referloop.core.imports.run import Progress
from referloop.core.models import Membership
from referloop.core.spreadsheets import formula_unsafe
from referloop.core.timeutils import agency_zone
from referloop.core.tracking_ids import tracking_id_normalize
from referloop.directory.models import Organization, Service, TaxonomyTerm
from referloop.directory.vocabulary import NEEDS
from referloop.referrals.models import (
    CLOSED,
    REASON_REQUIRED,
    DispositionCode,
    DispositionKind,
    Status,
    Urgency,
)
from referloop.referrals.sheet.columns import (
    BY_NAME,
    COLUMN_NAMES,
    NAME_COLUMNS,
    REQUIRED,
    STATUS_BY_WORD,
    STATUS_DISPOSITION,
    TRACKING_ID,
    URGENCY_BY_WORD,
    parse_date,
)


def cell_text(value) -> str:
    """A cell as text; undoes the apostrophe the export puts before formula-like text."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # numbers typed into a spreadsheet: "1001", not "1001.0"
    return formula_unsafe(str(value).strip())


@dataclass
class SheetRow:
    row: int
    tracking_id: str
    first_name: str
    last_name: str
    dob: str  # ISO date or ""
    referred_on: date
    partner: Organization
    service: Service | None
    contact_name: str
    contact_email: str
    contact_phone: str
    owner: object
    needs: list
    urgency: str
    status: str
    disposition: str  # a code, or ""
    status_reason: str
    received_on: date | None
    first_contact_on: date | None
    outcome_on: date | None
    notes: str

    @property
    def client_key(self) -> tuple[str, str]:
        return (matching.full_name_key(self.first_name, self.last_name), self.dob)

    @property
    def latest_date(self) -> date:
        dates = (self.referred_on, self.received_on, self.first_contact_on, self.outcome_on)
        return max(day for day in dates if day is not None)


class _RowError(Exception):
    """One cell's problem. `cause` is the reason without the cell's value, so that rows with the
    same problem are reported together (the value is kept beside it)."""

    def __init__(self, column: str, reason: str, *, value="", cause: str = ""):
        super().__init__(reason)
        self.column = column
        self.reason = reason
        self.value = str(value)
        self.cause = cause

    def problem(self, file: str, row: int) -> Problem:
        return Problem(file, row, self.column, self.reason, value=self.value, cause=self.cause)


def _split_name(full: str) -> tuple[str, str]:
    if "," in full:
        last, first = (part.strip() for part in full.split(",", 1))
    else:
        first, _, last = full.strip().rpartition(" ")
    return first, last


class Lookups:
    """Everything rows refer to, read up front (one query each, whatever the number of rows)."""

    def __init__(self, *, agency, rows: list[tuple[int, list]], positions: dict[str, int]):
        def values(name):
            index = positions.get(name)
            if index is None:
                return set()
            return {cell_text(cells[index]) for _, cells in rows if index < len(cells)} - {""}

        self.partners: dict[str, list[Organization]] = defaultdict(list)
        organizations = Organization.objects.for_network(agency.network_id)
        for org in organizations.only("id", "name", "network_id"):
            self.partners[name_key(org.name)].append(org)
        self.services: dict[tuple[int, str], Service] = {}
        if "service" in positions:
            named = {name_key(name) for name in values("partner")}
            partner_ids = [org.pk for key in named for org in self.partners.get(key, [])]
            wanted = {name_key(name) for name in values("service")}
            for service in Service.objects.filter(organization_id__in=partner_ids).only(
                "id", "name", "organization_id"
            ):
                key = name_key(service.name)
                if key in wanted:
                    self.services.setdefault((service.organization_id, key), service)
        self.members = {
            membership.user.email.lower(): membership.user
            for membership in Membership.objects.filter(
                agency=agency, is_active=True, user__is_active=True
            ).select_related("user")
        }
        self.needs: dict[str, TaxonomyTerm] = {}
        for term in TaxonomyTerm.objects.filter(taxonomy__name=NEEDS):
            self.needs[header_key(term.code)] = term
            self.needs[header_key(term.name)] = term
        self.dispositions: dict[str, DispositionCode] = {}
        for code in DispositionCode.objects.for_agency(agency).filter(is_active=True):
            self.dispositions[header_key(code.code)] = code
            self.dispositions[header_key(code.label)] = code


def name_key(name: str) -> str:
    """How partner and service names are compared: case and spacing aside."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


class RowChecker:
    """Turns one row of cells into a SheetRow, or collects what is wrong with it."""

    def __init__(self, *, agency, file, positions, lookups, default_owner, create_partners, today):
        self.agency = agency
        self.file = file
        self.positions = positions
        self.lookups = lookups
        self.default_owner = default_owner
        self.create_partners = create_partners
        self.today = today
        self.seen_ids: dict[str, int] = {}

    def check(self, number: int, cells: list, problems: list[Problem]) -> SheetRow | None:
        values = {}
        errors = []

        def cell(name):
            index = self.positions.get(name)
            return cells[index] if index is not None and index < len(cells) else None

        def text(name) -> str:
            value = cell_text(cell(name))
            limit = BY_NAME[name].max_length
            if limit and len(value) > limit:
                raise _RowError(
                    name,
                    f"at most {limit} characters (this has {len(value)})",
                    cause=f"at most {limit} characters",
                )
            return value

        for name, parse in self.PARSERS:
            try:
                values[name] = parse(self, text, cell, values)
            except _RowError as exc:
                errors.append(exc.problem(self.file, number))
                values[name] = None
        if not errors:
            try:
                self._check_life_cycle(values)
            except _RowError as exc:
                errors.append(exc.problem(self.file, number))
        if tracking_id := values["tracking_id"]:
            earlier = self.seen_ids.setdefault(tracking_id, number)
            if earlier != number:
                errors.append(
                    Problem(
                        self.file,
                        number,
                        "tracking_id",
                        f"'{tracking_id}' is also on row {earlier}",
                        value=tracking_id,
                        cause="the same tracking ID is on an earlier row",
                    )
                )
        problems.extend(errors)
        if errors:
            return None
        first, last = values["client_name"]
        return SheetRow(
            row=number,
            first_name=first,
            last_name=last,
            dob=values["client_dob"].isoformat() if values["client_dob"] else "",
            **{
                name: values[name]
                for name in COLUMN_NAMES
                if name not in (*NAME_COLUMNS, "client_dob")
            },
        )

    # Each parser gets `text(name)` (the checked cell text), `cell(name)` (the raw value) and the
    # values parsed so far.

    def _tracking_id(self, text, cell, values):
        raw = text("tracking_id").upper().replace(" ", "")
        if not raw:
            return ""
        ours = tracking_id_normalize(raw)
        if ours:
            return ours
        if not TRACKING_ID.fullmatch(raw):
            why = "is not a tracking ID (letters, digits and hyphens, up to 40)"
            raise _RowError("tracking_id", f"'{raw}' {why}", value=raw, cause=why)
        return raw

    def _client_name(self, text, cell, values):
        if any(name in self.positions for name in NAME_COLUMNS):
            first, last = text("client_first_name"), text("client_last_name")
        else:
            first, last = _split_name(text("client_name"))
        if not first:
            raise _RowError("client_first_name", "the client's first name is required")
        if not last:
            raise _RowError("client_last_name", "the client's last name is required")
        return first, last

    def _date(self, name, text, cell, *, required=False):
        value = cell(name)
        if value is None or (isinstance(value, str) and not cell_text(value)):
            if required:
                raise _RowError(name, "a date is required")
            return None
        if isinstance(value, str):
            value = cell_text(value)
        try:
            day = parse_date(value)
        except ValueError as exc:
            raise _RowError(name, f"'{value}' {exc}", value=value, cause=str(exc)) from None
        if day > self.today:
            why = "is in the future"
        elif day.year < 1900:
            why = "is before 1900"
        else:
            return day
        raise _RowError(name, f"{day:%Y-%m-%d} {why}", value=f"{day:%Y-%m-%d}", cause=why)

    def _client_dob(self, text, cell, values):
        return self._date("client_dob", text, cell)

    def _referred_on(self, text, cell, values):
        return self._date("referred_on", text, cell, required=True)

    def _received_on(self, text, cell, values):
        return self._date("received_on", text, cell)

    def _first_contact_on(self, text, cell, values):
        return self._date("first_contact_on", text, cell)

    def _outcome_on(self, text, cell, values):
        return self._date("outcome_on", text, cell)

    def _partner(self, text, cell, values):
        name = " ".join(text("partner").split())
        if not name:
            raise _RowError("partner", "the partner organization is required")
        found = self.lookups.partners.get(name_key(name), [])
        if len(found) > 1:
            raise _RowError(
                "partner",
                f"several organizations of the directory are called '{name}'",
                value=name,
                cause="several organizations of the directory have this name",
            )
        if found:
            return found[0]
        if self.create_partners:
            return name  # created before the rows are written
        why = (
            f"is not an organization of the {self.agency.network} directory "
            "(check the spelling, or pass --create-partners to add it)"
        )
        raise _RowError("partner", f"'{name}' {why}", value=name, cause=why)

    def _service(self, text, cell, values):
        name = text("service")
        partner = values["partner"]
        if not name or partner is None:  # (an unknown partner is reported once, as the partner)
            return None
        service = None
        if isinstance(partner, Organization):
            service = self.lookups.services.get((partner.pk, name_key(name)))
        if service is None:
            raise _RowError(
                "service",
                f"'{name}' is not a service of {partner} in the directory",
                value=name,
                cause="is not a service of the partner in the directory",
            )
        return service

    def _contact_name(self, text, cell, values):
        return " ".join(text("contact_name").split())

    def _contact_email(self, text, cell, values):
        email = text("contact_email").lower()
        if email:
            try:
                validate_email(email)
            except ValidationError:
                why = "is not an e-mail address"
                raise _RowError(
                    "contact_email", f"'{email}' {why}", value=email, cause=why
                ) from None
        return email

    def _contact_phone(self, text, cell, values):
        return text("contact_phone")

    def _owner(self, text, cell, values):
        email = text("owner").lower()
        if not email:
            if self.default_owner is None:
                raise _RowError("owner", "the owner is required (or pass --owner EMAIL)")
            return self.default_owner
        user = self.lookups.members.get(email)
        if user is None:
            why = f"is not an active member of {self.agency.name}"
            raise _RowError("owner", f"'{email}' {why}", value=email, cause=why)
        return user

    def _needs(self, text, cell, values):
        terms = []
        for part in re.split(r"[;,]", text("needs")):
            if not part.strip():
                continue
            term = self.lookups.needs.get(header_key(part))
            if term is None:
                why = "is not one of the needs"
                raise _RowError("needs", f"'{part.strip()}' {why}", value=part.strip(), cause=why)
            if term not in terms:
                terms.append(term)
        return terms

    def _urgency(self, text, cell, values):
        value = text("urgency")
        if not value:
            return Urgency.ROUTINE
        urgency = URGENCY_BY_WORD.get(header_key(value))
        if urgency is None:
            why = "is not an urgency (routine, urgent, emergency)"
            raise _RowError("urgency", f"'{value}' {why}", value=value, cause=why)
        return urgency

    def _status(self, text, cell, values):
        value = text("status")
        if not value:
            return ""  # decided in _check_life_cycle, from the dates
        if header_key(value) == "draft":
            raise _RowError(
                "status", "drafts are not imported: a tracking sheet lists referrals that were sent"
            )
        status = STATUS_BY_WORD.get(header_key(value))
        if status is None:
            why = (
                "is not a status Referloop knows (e.g. sent, received, accepted, not accepted, "
                "in progress, on hold, completed, cancelled, failed)"
            )
            raise _RowError("status", f"'{value}' {why}", value=value, cause=why)
        return status

    def _disposition(self, text, cell, values):
        value = text("disposition")
        if not value:
            return STATUS_DISPOSITION.get(header_key(text("status")), "")
        code = self.lookups.dispositions.get(header_key(value))
        if code is None:
            why = f"is not one of {self.agency.name}'s codes"
            raise _RowError("disposition", f"'{value}' {why}", value=value, cause=why)
        return code.code

    def _status_reason(self, text, cell, values):
        return text("status_reason")

    def _notes(self, text, cell, values):
        return text("notes")

    PARSERS = (
        ("tracking_id", _tracking_id),
        ("client_name", _client_name),
        ("client_dob", _client_dob),
        ("referred_on", _referred_on),
        ("partner", _partner),
        ("service", _service),
        ("contact_name", _contact_name),
        ("contact_email", _contact_email),
        ("contact_phone", _contact_phone),
        ("owner", _owner),
        ("needs", _needs),
        ("urgency", _urgency),
        ("status", _status),
        ("disposition", _disposition),
        ("status_reason", _status_reason),
        ("received_on", _received_on),
        ("first_contact_on", _first_contact_on),
        ("outcome_on", _outcome_on),
        ("notes", _notes),
    )

    def _check_life_cycle(self, values: dict) -> None:
        """What the referral services would refuse, said in the sheet's terms."""
        sent, received = values["referred_on"], values["received_on"]
        contacted, outcome = values["first_contact_on"], values["outcome_on"]
        if not values["status"]:
            values["status"] = Status.RECEIVED if received or contacted else Status.REQUESTED
        status = values["status"]
        label = Status(status).label.lower()
        for name, day in (
            ("received_on", received),
            ("first_contact_on", contacted),
            ("outcome_on", outcome),
        ):
            if day is not None and day < sent:
                raise _RowError(
                    name,
                    f"{day} is before the referral was sent ({sent})",
                    value=day,
                    cause="is before the referral was sent",
                )
        if outcome and received and outcome < received:
            raise _RowError(
                "outcome_on",
                f"{outcome} is before it was received ({received})",
                value=outcome,
                cause="is before the referral was received",
            )
        if outcome and status not in CLOSED | {Status.IN_PROGRESS, Status.ON_HOLD}:
            raise _RowError(
                "outcome_on",
                f"an outcome date is given but the status is {label}",
                value=outcome,
                cause="an outcome date is given but the status has no outcome",
            )
        if received and status == Status.REQUESTED:
            raise _RowError(
                "received_on",
                "a received date is given but the status is sent: set the status to received "
                "(or later), or clear the date",
            )
        if contacted and outcome and status in CLOSED and contacted > outcome:
            raise _RowError(
                "first_contact_on",
                f"{contacted} is after the outcome ({outcome})",
                value=contacted,
                cause="is after the outcome",
            )
        code = self.lookups.dispositions.get(header_key(values["disposition"]))
        if code is not None:
            if status in (Status.REQUESTED, Status.RECEIVED, Status.ACCEPTED):
                outcomes = (
                    "dispositions go with an outcome (not accepted, in progress, on hold, "
                    "completed, cancelled, failed)"
                )
                raise _RowError(
                    "disposition",
                    f"a disposition is given but the status is {label}: {outcomes}",
                    value=code.label,
                    cause=f"a disposition is given but the status has no outcome: {outcomes}",
                )
            wanted = (
                DispositionKind.NOT_ACCEPTED
                if status == Status.REJECTED
                else DispositionKind.OUTCOME
            )
            if code.kind not in (wanted, DispositionKind.BOTH):
                why = f"is not a {DispositionKind(wanted).label.lower()} code"
                raise _RowError(
                    "disposition",
                    f"'{code.label}' {why} (the status is {label})",
                    value=code.label,
                    cause=why,
                )
        if status == Status.REJECTED and code is None:
            raise _RowError(
                "disposition",
                "not accepted needs a reason code in the disposition column (e.g. No capacity)",
            )
        if status in REASON_REQUIRED and code is None and not values["status_reason"]:
            raise _RowError(
                "status_reason", f"{label} needs a status note or a disposition saying why"
            )


def sheet_check(
    path: str | Path,
    *,
    agency,
    report: ImportReport,
    mapping: dict[str, str] | None = None,
    default_owner=None,
    create_partners: bool = False,
    progress: Progress | None = None,
) -> list[SheetRow]:
    """The valid rows of the file; what is wrong with the others goes to the report, with the
    number of rows read. Raises InputError when the file as a whole is unusable (unreadable,
    empty, a required column missing)."""
    table = read_table(path)
    problems = report.problems
    problems.extend(table.problems)
    # Rows the reader could not split into cells are errors of their own: read, and rejected.
    unreadable = sum(1 for problem in table.problems if problem.severity == ERROR)
    if not table.rows and not unreadable:
        empty = (
            "there are no referral rows below the header" if table.header else "the file is empty"
        )
        raise input_error(table.name, empty)
    report.read = len(table.rows) + unreadable
    if not table.rows:
        return []
    match = columns_match(table.header, BY_NAME, file=table.name, mapping=mapping)
    positions = match.positions
    if any(name in positions for name in NAME_COLUMNS):
        positions.pop("client_name", None)  # one Client column is read only in their absence
    missing = [name for name in REQUIRED if name not in positions]
    if "client_name" not in positions:
        missing += [name for name in NAME_COLUMNS if name not in positions]
    if missing:
        raise input_error(
            table.name,
            "missing required column(s): "
            + ", ".join(f"{BY_NAME[name].header} ({name})" for name in missing)
            + " -- rename the header, or map it with --mapping",
            row=1,
        )
    if match.unknown:
        ignored = ", ".join(header for _, header in match.unknown)
        problems.append(Problem(table.name, 1, "", f"columns not imported: {ignored}", WARNING))
    if "owner" not in positions and default_owner is None:
        raise input_error(
            table.name,
            "there is no Owner column: name the owner of these referrals with --owner EMAIL",
            row=1,
        )
    checker = RowChecker(
        agency=agency,
        file=table.name,
        positions=positions,
        lookups=Lookups(agency=agency, rows=table.rows, positions=positions),
        default_owner=default_owner,
        create_partners=create_partners,
        today=timezone.localdate(timezone.now(), agency_zone(agency)),
    )
    rows = []
    for done, (number, cells) in enumerate(table.rows, start=1):
        row = checker.check(number, cells, problems)
        if row is not None:
            rows.append(row)
        if progress and done % 100 == 0:
            progress(done, len(table.rows), "checking")
    return rows
