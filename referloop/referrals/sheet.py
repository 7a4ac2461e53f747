"""The tracking sheet: a team's referral spreadsheet (CSV or XLSX), imported into Referloop and
exported in the same shape (seed 003's "simple tracking sheet").

Columns (one row per referral; headers are matched ignoring case, spaces and punctuation, and a
few common alternatives are understood; `--mapping FILE` names the team's own headers instead):

    column              header written on export   also understood
    tracking_id         Tracking ID                Ref #, Reference, Referral ID, Tracking number
    client_first_name   Client first name          First name, Given name
    client_last_name    Client last name           Last name, Surname, Family name
    (client_name)       -                          Client, Client name: "Last, First" or
                                                   "First Last" when there are no name columns
    client_dob          Client date of birth       DOB, Date of birth, Birth date
    referred_on         Referred on                Date sent, Sent on, Date referred
    partner             Partner                    Organization, Referred to, Provider
    service             Service                    Program
    contact_name        Partner contact            Contact, Contact name, Contact person
    contact_email       Contact e-mail             Partner e-mail
    contact_phone       Contact phone              Partner phone
    owner               Owner                      Case manager, Staff, Assigned to, Referred by
    needs               Needs                      Need, Need type
    urgency             Urgency                    Priority
    status              Status
    disposition         Disposition                Outcome, Reason code, Result
    status_reason       Status note                Reason, Status reason, Why
    received_on         Received on                Date received, Acknowledged on
    first_contact_on    First contact on           First contact, Client contacted on
    outcome_on          Outcome on                 Outcome date, Closed on, Date closed
    notes               Notes                      Reason for referral, Comments

Required: referred_on, partner, the client's first and last name, and owner (unless the import
names a default owner). Values:
- tracking_id: the team's own ID (letters, digits and hyphens, up to 40; kept upper-case) or
  empty (Referloop issues one). Re-importing finds a referral by it; a row without one is the
  same referral as one for the same client, partner and send date.
- dates: YYYY-MM-DD, M/D/YYYY (or M/D/YY), "Mar 4, 2025", "4 Mar 2025", or real spreadsheet dates;
  none in the future, none before the referral was sent.
- partner: an organization of the network's directory, by name (any case); service: one of its
  services, by name.
- owner: the e-mail address of an active member of the agency.
- needs: codes or names of the needs list (e.g. "housing; Food"), separated by ; or ,.
- urgency: routine (also normal, standard, low), urgent (high), emergency.
- status: the words teams use -- sent/pending/referred, received/acknowledged, accepted,
  declined/not accepted/denied, in progress/started/enrolled, on hold/waitlist, completed/closed
  served, cancelled, failed/no show; empty means sent (received when a received date is given).
- disposition: a disposition code or its label ("No capacity"). Not accepted needs one;
  cancelled, on hold and failed need a disposition or a status note.

Importing replays each row through the referral services, with the sheet's dates: the client is
found (same name and date of birth) or created, the referral is created and recorded as sent on
its referred-on date, then moves through the life cycle to the sheet's status (received on the
received date, the first contact attempt on its date, the outcome on the outcome date), so the
timeline, milestones and due dates are what they would have been. A referral already in Referloop
only moves forward (a later status, a first contact not yet recorded); anything else is left as
it is. Nothing is disclosed and no consent is recorded by an import.

The exported file holds the agency's own referrals with the clients' names and dates of birth:
identifying information to be kept like the agency's other client records.
"""

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

from referloop.clients import matching
from referloop.clients.selectors import agency_clients
from referloop.clients.services import ClientData, client_create
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.models import AuditEvent, Membership
from referloop.core.spreadsheets import formula_safe, formula_unsafe
from referloop.core.timeutils import agency_zone
from referloop.core.tracking_ids import tracking_id_normalize
from referloop.directory.hsds.readers import decode
from referloop.directory.hsds.report import WARNING, ImportReport, Problem
from referloop.directory.models import Organization, Service, TaxonomyTerm
from referloop.directory.vocabulary import NEEDS
from referloop.referrals.models import (
    CLOSED,
    OPEN,
    REASON_REQUIRED,
    TRANSITIONS,
    DispositionCode,
    DispositionKind,
    Referral,
    Status,
    Urgency,
)
from referloop.referrals.services import (
    Actor,
    ReferralData,
    referral_contact_attempt,
    referral_create,
    referral_record_sent,
    referral_transition,
)

Progress = Callable[[int, int, str], None]

# --- the columns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    header: str  # what the export writes (and the import understands)
    aliases: tuple[str, ...] = ()
    max_length: int = 0


COLUMNS = (
    Column(
        "tracking_id",
        "Tracking ID",
        (
            "Tracking number",
            "Tracking no",
            "Ref",
            "Ref #",
            "Ref no",
            "Reference",
            "Reference number",
            "Referral ID",
            "Referral number",
        ),
        40,
    ),
    Column("client_first_name", "Client first name", ("First name", "Given name", "First"), 100),
    Column(
        "client_last_name", "Client last name", ("Last name", "Surname", "Family name", "Last"), 100
    ),
    Column("client_dob", "Client date of birth", ("DOB", "Date of birth", "Birth date", "Born")),
    Column(
        "referred_on",
        "Referred on",
        ("Date sent", "Sent on", "Sent", "Date referred", "Referral date", "Referred"),
    ),
    Column(
        "partner",
        "Partner",
        (
            "Organization",
            "Partner organization",
            "Referred to",
            "Provider",
            "Agency referred to",
            "Receiving organization",
        ),
        300,
    ),
    Column("service", "Service", ("Program", "Service name"), 300),
    Column("contact_name", "Partner contact", ("Contact", "Contact name", "Contact person"), 200),
    Column("contact_email", "Contact e-mail", ("Partner e-mail", "Contact mail"), 254),
    Column("contact_phone", "Contact phone", ("Partner phone", "Contact telephone"), 50),
    Column(
        "owner",
        "Owner",
        ("Owner e-mail", "Case manager", "Staff", "Assigned to", "Referred by", "Worker"),
        254,
    ),
    Column("needs", "Needs", ("Need", "Need type", "Needs codes")),
    Column("urgency", "Urgency", ("Priority",)),
    Column("status", "Status", ("Referral status", "Current status")),
    Column("disposition", "Disposition", ("Outcome", "Reason code", "Result", "Disposition code")),
    Column("status_reason", "Status note", ("Reason", "Status reason", "Why"), 500),
    Column("received_on", "Received on", ("Date received", "Received", "Acknowledged on")),
    Column(
        "first_contact_on",
        "First contact on",
        ("First contact", "Date of first contact", "Client contacted on", "Contacted on"),
    ),
    Column(
        "outcome_on",
        "Outcome on",
        ("Outcome date", "Closed on", "Date closed", "Completed on", "Outcome known on"),
    ),
    Column("notes", "Notes", ("Reason for referral", "Comments", "Note"), 4000),
)
# Read only when the sheet has no first/last name columns.
CLIENT_NAME = Column("client_name", "Client name", ("Client", "Client full name", "Name"), 200)
COLUMN_NAMES = [column.name for column in COLUMNS]
HEADERS = [column.header for column in COLUMNS]
BY_NAME = {column.name: column for column in (*COLUMNS, CLIENT_NAME)}
REQUIRED = ("referred_on", "partner")
DATE_COLUMNS = ("client_dob", "referred_on", "received_on", "first_contact_on", "outcome_on")


def header_key(text) -> str:
    """How headers are compared: "Ref #", "ref" and "REF." are the same header."""
    text = unicodedata.normalize("NFKC", str(text or "")).casefold()
    return "".join(char for char in text if char.isalnum())


def _keys_of(column: Column) -> set[str]:
    return {header_key(text) for text in (column.name, column.header, *column.aliases)}


ALIASES = {key: column.name for column in (*COLUMNS, CLIENT_NAME) for key in _keys_of(column)}


# --- values people write -----------------------------------------------------------------------


def _word(text: str) -> str:
    return header_key(text)


STATUS_WORDS = {
    Status.REQUESTED: ("sent", "pending", "referred", "requested", "submitted", "open", "new"),
    Status.RECEIVED: ("received", "acknowledged", "receipt confirmed"),
    Status.ACCEPTED: ("accepted", "approved"),
    Status.REJECTED: ("rejected", "declined", "not accepted", "denied", "refused"),
    Status.IN_PROGRESS: (
        "in progress",
        "in-progress",
        "started",
        "enrolled",
        "service started",
        "active",
        "engaged",
    ),
    Status.ON_HOLD: ("on hold", "on-hold", "hold", "waitlist", "waitlisted", "wait list"),
    Status.COMPLETED: ("completed", "complete", "closed served", "closed-served", "served", "done"),
    Status.CANCELLED: ("cancelled", "canceled", "withdrawn"),
    Status.FAILED: ("failed", "no show", "no-show", "did not show", "client did not show"),
}
STATUS_BY_WORD = {
    _word(text): status
    for status, words in STATUS_WORDS.items()
    for text in (*words, Status(status).label)
}
# Status words that also say why.
STATUS_DISPOSITION = {
    _word(text): "client_no_show" for text in ("no show", "did not show", "client did not show")
}
URGENCY_WORDS = {
    Urgency.ROUTINE: ("routine", "normal", "standard", "low", "regular"),
    Urgency.URGENT: ("urgent", "high", "priority", "asap"),
    Urgency.EMERGENCY: ("emergency", "emergent", "critical", "immediate"),
}
URGENCY_BY_WORD = {
    _word(text): urgency for urgency, words in URGENCY_WORDS.items() for text in words
}
TRACKING_ID = re.compile(r"[A-Z0-9-]{1,40}")
US_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})(?:[ T].*)?")
ISO_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?")
TEXT_DATE_FORMATS = ("%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y")


def parse_date(value) -> date:
    """A date from a spreadsheet cell; ValueError (with the message to show) if it is none."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if match := ISO_DATE.fullmatch(text):
            year, month, day = (int(part) for part in match.groups())
            return date(year, month, day)
        if match := US_DATE.fullmatch(text):
            month, day, year = (int(part) for part in match.groups())
            if len(match.group(3)) == 2:
                year += 2000 if year < 70 else 1900
            return date(year, month, day)
    except ValueError:
        raise ValueError(f"'{text}' is not a date in the calendar") from None
    for pattern in TEXT_DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"'{text}' is not a date: write it as YYYY-MM-DD or M/D/YYYY")


def _cell_text(value) -> str:
    """A cell as text; undoes the apostrophe the export puts before formula-like text."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # numbers typed into a spreadsheet: "1001", not "1001.0"
    return formula_unsafe(str(value).strip())


# --- reading the file ---------------------------------------------------------------------------


class SheetError(Exception):
    """The file as a whole cannot be imported (unreadable, empty, a required column missing)."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class RawSheet:
    name: str
    headers: list[str]
    rows: list[tuple[int, list]]  # (spreadsheet row number, cell values)
    problems: list[Problem] = field(default_factory=list)


def _nonblank(cells) -> bool:
    return any(_cell_text(cell) for cell in cells)


def _split_header(name: str, numbered: Iterable[tuple[int, list]]) -> RawSheet:
    headers = None
    rows = []
    for number, cells in numbered:
        if headers is None:
            if _nonblank(cells):
                headers = [_cell_text(cell) for cell in cells]
            continue
        if _nonblank(cells):
            rows.append((number, list(cells)))
    if headers is None:
        raise SheetError(Problem(name, None, "", "the file is empty"))
    if not rows:
        raise SheetError(Problem(name, None, "", "there are no referral rows below the header"))
    return RawSheet(name=name, headers=headers, rows=rows)


def _read_csv(path: Path) -> RawSheet:
    problems: list[Problem] = []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SheetError(Problem(path.name, None, "", f"cannot read: {exc.strerror}")) from None
    if not raw.strip(b" \r\n\t" + codecs.BOM_UTF8):
        raise SheetError(Problem(path.name, None, "", "the file is empty"))
    text = decode(raw, path.name, problems)
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)  # Excel in many locales writes ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        # A row's number is the record's position (the header is row 1), as a spreadsheet shows it,
        # even when quoted cells hold line breaks.
        sheet = _split_header(path.name, enumerate(reader, start=1))
    except csv.Error as exc:
        raise SheetError(
            Problem(path.name, reader.line_num, "", f"not a readable CSV file ({exc})")
        ) from None
    sheet.problems = problems
    return sheet


def _read_xlsx(path: Path) -> RawSheet:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise SheetError(
            Problem(
                path.name, None, "", "not a readable XLSX file (save it again as .xlsx or .csv)"
            )
        ) from None
    try:
        sheet = workbook.active or workbook.worksheets[0]
        rows = ([cell.value for cell in row] for row in sheet.iter_rows(min_row=1))
        return _split_header(path.name, enumerate(rows, start=1))
    finally:
        workbook.close()


def sheet_read(path: str | Path) -> RawSheet:
    path = Path(path)
    if not path.is_file():
        raise SheetError(Problem(path.name, None, "", "no such file"))
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if suffix in (".csv", ".txt", ".tsv"):
        return _read_csv(path)
    raise SheetError(
        Problem(path.name, None, "", "expected a .csv or .xlsx file (save .xls sheets as .xlsx)")
    )


def mapping_read(path: str | Path) -> dict[str, str]:
    """A mapping file: our column -> the sheet's header, as a JSON object or a two-column CSV
    (a first row of titles is skipped). An empty header means "don't read this column"."""
    import json

    path = Path(path)
    name = f"mapping {path.name}"
    try:
        text = decode(path.read_bytes(), name, [])
    except OSError as exc:
        raise SheetError(Problem(name, None, "", f"cannot read: {exc.strerror}")) from None
    if path.suffix.lower() == ".json":
        try:
            pairs = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SheetError(Problem(name, exc.lineno, "", f"malformed JSON: {exc.msg}")) from None
        if not isinstance(pairs, dict) or not all(
            isinstance(value, str) for value in pairs.values()
        ):
            raise SheetError(
                Problem(name, None, "", 'expected an object like {"tracking_id": "Case #"}')
            )
        items = [(None, ours, theirs) for ours, theirs in pairs.items()]
    else:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if any(row)]
        first = 1
        if len(rows) > 1 and rows[0][0].strip() not in BY_NAME and rows[1][0].strip() in BY_NAME:
            rows, first = rows[1:], 2  # a row of titles
        items = []
        for number, row in enumerate(rows, start=first):
            if len(row) != 2:
                raise SheetError(
                    Problem(name, number, "", "each line needs two cells: our column, your header")
                )
            items.append((number, row[0], row[1]))
    mapping = {}
    for number, ours, theirs in items:
        ours = ours.strip()
        if ours not in BY_NAME:
            raise SheetError(
                Problem(
                    name,
                    number,
                    "",
                    f"'{ours}' is not one of the columns ({', '.join(COLUMN_NAMES)})",
                )
            )
        mapping[ours] = theirs.strip()
    return mapping


def columns_match(
    headers: list[str], file: str, mapping: dict[str, str] | None = None
) -> tuple[dict[str, int], list[Problem]]:
    """Which cell of a row holds which column: the mapping first, then headers and aliases.
    Returns the positions and warnings (headers not read); raises SheetError for what makes the
    whole file unusable."""
    keys = [header_key(header) for header in headers]
    positions: dict[str, int] = {}
    taken: set[int] = set()
    for ours, theirs in (mapping or {}).items():
        if not theirs:
            positions[ours] = -1  # deliberately not read
            continue
        if header_key(theirs) not in keys:
            raise SheetError(
                Problem(
                    file,
                    1,
                    "",
                    f"the mapping names the header '{theirs}' ({ours}), which is not in the file",
                )
            )
        index = keys.index(header_key(theirs))
        positions[ours] = index
        taken.add(index)
    for index, key in enumerate(keys):
        name = ALIASES.get(key)
        if name is None or index in taken:
            continue
        if name in positions:
            if name in (mapping or {}):
                continue  # the mapping chose which of the two to read
            raise SheetError(
                Problem(
                    file,
                    1,
                    headers[index],
                    f"two columns mean {BY_NAME[name].header} "
                    f"('{headers[positions[name]]}' and '{headers[index]}'): "
                    "rename one, or say which to read with --mapping",
                )
            )
        positions[name] = index
        taken.add(index)
    positions = {name: index for name, index in positions.items() if index >= 0}
    if "client_first_name" in positions or "client_last_name" in positions:
        positions.pop("client_name", None)
    missing = [name for name in REQUIRED if name not in positions]
    if "client_name" not in positions:
        missing += [n for n in ("client_first_name", "client_last_name") if n not in positions]
    if missing:
        raise SheetError(
            Problem(
                file,
                1,
                "",
                "missing required column(s): "
                + ", ".join(f"{BY_NAME[name].header} ({name})" for name in missing)
                + " -- rename the header, or map it with --mapping",
            )
        )
    ignored = [headers[index] for index, key in enumerate(keys) if key and index not in taken]
    problems = []
    if ignored:
        problems.append(
            Problem(file, 1, "", "columns not imported: " + ", ".join(ignored), WARNING)
        )
    return positions, problems


# --- one row, checked ----------------------------------------------------------------------------


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
    def __init__(self, column: str, reason: str):
        super().__init__(reason)
        self.column = column
        self.reason = reason


def _split_name(full: str) -> tuple[str, str]:
    if "," in full:
        last, first = (part.strip() for part in full.split(",", 1))
    else:
        first, _, last = full.strip().rpartition(" ")
    return first, last


class Lookups:
    """Everything rows refer to, read up front (one query each, whatever the number of rows)."""

    def __init__(self, *, agency, sheet: RawSheet, positions: dict[str, int]):
        def values(name):
            index = positions.get(name)
            if index is None:
                return set()
            return {_cell_text(cells[index]) for _, cells in sheet.rows if index < len(cells)} - {
                ""
            }

        self.partners: dict[str, list[Organization]] = defaultdict(list)
        organizations = Organization.objects.for_network(agency.network_id)
        for org in organizations.only("id", "name", "network_id"):
            self.partners[_name_key(org.name)].append(org)
        self.services: dict[tuple[int, str], Service] = {}
        if "service" in positions:
            named = {_name_key(name) for name in values("partner")}
            partner_ids = [org.pk for key in named for org in self.partners.get(key, [])]
            wanted = {_name_key(name) for name in values("service")}
            for service in Service.objects.filter(organization_id__in=partner_ids).only(
                "id", "name", "organization_id"
            ):
                key = _name_key(service.name)
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
            self.needs[_word(term.code)] = term
            self.needs[_word(term.name)] = term
        self.dispositions: dict[str, DispositionCode] = {}
        for code in DispositionCode.objects.for_agency(agency).filter(is_active=True):
            self.dispositions[_word(code.code)] = code
            self.dispositions[_word(code.label)] = code


def _name_key(name: str) -> str:
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
        self.new_partners: dict[str, str] = {}  # name key -> name as written
        self.seen_ids: dict[str, int] = {}

    def check(self, number: int, cells: list, problems: list[Problem]) -> SheetRow | None:
        values = {}
        errors = []

        def cell(name):
            index = self.positions.get(name)
            return cells[index] if index is not None and index < len(cells) else None

        def text(name) -> str:
            value = _cell_text(cell(name))
            if "\x00" in value:
                raise _RowError(name, "contains a NUL character (the file may be damaged)")
            limit = BY_NAME[name].max_length
            if limit and len(value) > limit:
                raise _RowError(name, f"at most {limit} characters (this has {len(value)})")
            return value

        for name, parse in self.PARSERS:
            try:
                values[name] = parse(self, text, cell, values)
            except _RowError as exc:
                errors.append(Problem(self.file, number, exc.column, exc.reason))
                values[name] = None
        if not errors:
            try:
                self._check_life_cycle(values)
            except _RowError as exc:
                errors.append(Problem(self.file, number, exc.column, exc.reason))
        if values["tracking_id"]:
            earlier = self.seen_ids.setdefault(values["tracking_id"], number)
            if earlier != number:
                errors.append(
                    Problem(
                        self.file,
                        number,
                        "tracking_id",
                        f"'{values['tracking_id']}' is also on row {earlier}",
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
                if name not in ("client_first_name", "client_last_name", "client_dob")
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
            raise _RowError(
                "tracking_id",
                f"'{raw}' is not a tracking ID (letters, digits and hyphens, up to 40)",
            )
        return raw

    def _client_name(self, text, cell, values):
        if "client_first_name" in self.positions or "client_last_name" in self.positions:
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
        if value is None or (isinstance(value, str) and not _cell_text(value)):
            if required:
                raise _RowError(name, "a date is required")
            return None
        text(name)  # NUL and length checks
        try:
            day = parse_date(_cell_text(value) if isinstance(value, str) else value)
        except ValueError as exc:
            raise _RowError(name, str(exc)) from None
        if day > self.today:
            raise _RowError(name, f"{day:%Y-%m-%d} is in the future")
        if day.year < 1900:
            raise _RowError(name, f"{day:%Y-%m-%d} is before 1900")
        return day

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
        found = self.lookups.partners.get(_name_key(name), [])
        if len(found) > 1:
            raise _RowError(
                "partner", f"several organizations of the directory are called '{name}'"
            )
        if found:
            return found[0]
        if self.create_partners:
            self.new_partners.setdefault(_name_key(name), name)
            return name  # created before the rows are written
        raise _RowError(
            "partner",
            f"'{name}' is not an organization of the {self.agency.network} directory "
            "(check the spelling, or pass --create-partners to add it)",
        )

    def _service(self, text, cell, values):
        name = text("service")
        partner = values["partner"]
        if not name or partner is None:  # (an unknown partner is reported once, as the partner)
            return None
        service = None
        if isinstance(partner, Organization):
            service = self.lookups.services.get((partner.pk, _name_key(name)))
        if service is None:
            raise _RowError("service", f"'{name}' is not a service of {partner} in the directory")
        return service

    def _contact_name(self, text, cell, values):
        return " ".join(text("contact_name").split())

    def _contact_email(self, text, cell, values):
        email = text("contact_email").lower()
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise _RowError("contact_email", f"'{email}' is not an e-mail address") from None
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
            raise _RowError("owner", f"'{email}' is not an active member of {self.agency.name}")
        return user

    def _needs(self, text, cell, values):
        terms = []
        for part in re.split(r"[;,]", text("needs")):
            if not part.strip():
                continue
            term = self.lookups.needs.get(_word(part))
            if term is None:
                raise _RowError("needs", f"'{part.strip()}' is not one of the needs")
            if term not in terms:
                terms.append(term)
        return terms

    def _urgency(self, text, cell, values):
        value = text("urgency")
        if not value:
            return Urgency.ROUTINE
        urgency = URGENCY_BY_WORD.get(_word(value))
        if urgency is None:
            raise _RowError("urgency", f"'{value}' is not an urgency (routine, urgent, emergency)")
        return urgency

    def _status(self, text, cell, values):
        value = text("status")
        if not value:
            return ""  # decided in _check_life_cycle, from the dates
        if _word(value) == "draft":
            raise _RowError(
                "status", "drafts are not imported: a tracking sheet lists referrals that were sent"
            )
        status = STATUS_BY_WORD.get(_word(value))
        if status is None:
            raise _RowError(
                "status",
                f"'{value}' is not a status Referloop knows (e.g. sent, received, accepted, "
                "not accepted, in progress, on hold, completed, cancelled, failed)",
            )
        return status

    def _disposition(self, text, cell, values):
        value = text("disposition")
        if not value:
            return STATUS_DISPOSITION.get(_word(text("status")), "")
        code = self.lookups.dispositions.get(_word(value))
        if code is None:
            raise _RowError("disposition", f"'{value}' is not one of {self.agency.name}'s codes")
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
                raise _RowError(name, f"{day:%Y-%m-%d} is before the referral was sent ({sent})")
        if outcome and received and outcome < received:
            raise _RowError("outcome_on", f"{outcome} is before it was received ({received})")
        if outcome and status not in CLOSED | {Status.IN_PROGRESS, Status.ON_HOLD}:
            raise _RowError("outcome_on", f"an outcome date is given but the status is {label}")
        if received and status == Status.REQUESTED:
            raise _RowError(
                "received_on",
                "a received date is given but the status is sent: set the status to received "
                "(or later), or clear the date",
            )
        if contacted and outcome and status in CLOSED and contacted > outcome:
            raise _RowError("first_contact_on", f"{contacted} is after the outcome ({outcome})")
        code = self.lookups.dispositions.get(_word(values["disposition"]))
        if code is not None:
            if status in (Status.REQUESTED, Status.RECEIVED, Status.ACCEPTED):
                raise _RowError(
                    "disposition",
                    f"a disposition is given but the status is {label}: dispositions go with "
                    "an outcome (not accepted, in progress, on hold, completed, cancelled, failed)",
                )
            wanted = (
                DispositionKind.NOT_ACCEPTED
                if status == Status.REJECTED
                else DispositionKind.OUTCOME
            )
            if code.kind not in (wanted, DispositionKind.BOTH):
                raise _RowError(
                    "disposition",
                    f"'{code.label}' is not a {DispositionKind(wanted).label.lower()} code "
                    f"(the status is {label})",
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


# --- the report ---------------------------------------------------------------------------------


@dataclass
class SheetReport(ImportReport):
    dry_run: bool = False
    partners_created: int = 0
    clients_created: int = 0
    clients_reused: int = 0

    @property
    def referrals(self):
        return self.count("referrals")

    def summary_lines(self) -> list[str]:
        lines = [
            f"Tracking sheet import from {self.source}" + (" (dry run)" if self.dry_run else "")
        ]
        if self.written or (self.dry_run and not self.errors):
            lines.append(f"  referrals: {self.referrals}")
            lines.append(
                f"  clients: {self.clients_created} created, {self.clients_reused} found on record"
            )
            if self.partners_created:
                lines.append(f"  partners added to the directory: {self.partners_created}")
            lines.append(
                "No consent was recorded and nothing was disclosed: record each client's consent "
                "before sharing a packet or a reply link."
            )
        if self.dry_run:
            lines.append("Dry run: nothing was changed.")
        elif self.errors:
            lines.append("Nothing was imported.")
        return lines

    def write_csv(self, path: str | Path) -> None:
        with open(path, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "row", "column", "severity", "reason"])
            for problem in self.problems:
                cells = (problem.file, problem.field, problem.severity, problem.reason)
                file, column, severity, reason = (formula_safe(cell) for cell in cells)
                writer.writerow([file, problem.row or "", column, severity, reason])


# --- writing, through the services ---------------------------------------------------------------


# Life-cycle order: a sheet that is behind Referloop (a lower rank) changes nothing.
RANK = {
    Status.DRAFT: 0,
    Status.REQUESTED: 1,
    Status.RECEIVED: 2,
    Status.ACCEPTED: 3,
    Status.ON_HOLD: 3,
    Status.IN_PROGRESS: 4,
    **dict.fromkeys(CLOSED, 5),
}
# The usual way through the life cycle, preferred when several paths reach a status.
PREFERRED = (
    Status.RECEIVED,
    Status.ACCEPTED,
    Status.IN_PROGRESS,
    Status.COMPLETED,
    Status.ON_HOLD,
    Status.REJECTED,
    Status.CANCELLED,
    Status.FAILED,
)


def status_path(current: str, target: str, *, via_received: bool = False) -> list[str] | None:
    """The statuses a referral passes through from `current` to `target` (the shortest way, by
    the usual steps, never pausing on hold or closing on the way); None if it cannot get there."""
    if current == target:
        return []
    if via_received and Status.RECEIVED in TRANSITIONS[current] and target != Status.RECEIVED:
        rest = status_path(Status.RECEIVED, target)
        if rest is not None:
            return [Status.RECEIVED, *rest]
    paths = {current: []}
    frontier = [current]
    while frontier:
        following = []
        for status in frontier:
            for step in PREFERRED:
                if step not in TRANSITIONS[status] or step in paths:
                    continue
                if step == target:
                    return [*paths[status], step]
                if step in CLOSED or step == Status.ON_HOLD:
                    continue
                paths[step] = [*paths[status], step]
                following.append(step)
        frontier = following
    return None


@dataclass(frozen=True)
class Step:
    day: date
    status: str = ""  # a status to move to, or "" for the first contact attempt


def plan_steps(referral: Referral, row: SheetRow, zone) -> list[Step] | None:
    """The moves that bring a referral (just sent, or already in Referloop) up to the row: [] if
    it is already there or further on, None if the row contradicts it."""
    current = referral.status
    steps: list[Step] = []
    if row.status != current and RANK[row.status] >= RANK[current]:
        path = status_path(current, row.status, via_received=row.received_on is not None)
        if path is None:
            return None
        # Never before what Referloop already recorded.
        floor = max(
            timezone.localdate(moment, zone)
            for moment in (referral.sent_at, referral.received_at, referral.outcome_at)
            if moment is not None
        )
        received = max(row.received_on or row.referred_on, floor)
        final = max(row.outcome_on or row.latest_date, received)
        for status in path:
            reached = status == row.status and status not in (Status.RECEIVED, Status.ACCEPTED)
            steps.append(Step(final if reached else received, status))
    if row.first_contact_on and referral.first_contact_at is None and (steps or current in OPEN):
        # Contact attempts are recorded while the referral is open: before it closes.
        contact = Step(row.first_contact_on)
        position = next(
            (
                index
                for index, step in enumerate(steps)
                if step.day > contact.day or step.status in CLOSED
            ),
            len(steps),
        )
        steps.insert(position, contact)
    return steps


class SheetImport:
    """One import: check every row, then (unless something is wrong) replay them through the
    services in one transaction, oldest referral first."""

    def __init__(
        self,
        *,
        path,
        agency,
        default_owner=None,
        mapping: dict[str, str] | None = None,
        create_partners=False,
        dry_run=False,
        progress: Progress | None = None,
    ):
        self.path = Path(path)
        self.agency = agency
        self.zone = agency_zone(agency)
        self.default_owner = default_owner
        self.mapping = mapping
        self.create_partners = create_partners
        self.dry_run = dry_run
        self.progress = progress
        self.report = SheetReport(source=self.path.name, dry_run=dry_run)
        self.actor = Actor(
            user=None, agency=agency, label=f"Tracking sheet import ({self.path.name})"
        )
        self.new_partners: dict[str, str] = {}  # --create-partners: name key -> name

    def run(self) -> SheetReport:
        report = self.report
        try:
            rows = self.check()
        except SheetError as exc:
            report.problems.append(exc.problem)
            rows = []
        if not report.errors:
            try:
                with transaction.atomic():
                    self._write(rows)
                    if report.errors or self.dry_run:
                        transaction.set_rollback(True)
                    else:
                        report.written = True
                        self._audit()
            except DatabaseError as exc:
                first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                report.written = False
                report.problems.append(
                    Problem(
                        self.path.name, None, "", f"the database refused the import ({first_line})"
                    )
                )
        if not report.written:
            self._audit()
        return report

    def _audit(self) -> None:
        counts = self.report.referrals
        audit_record(
            action="import",
            agency=self.agency,
            object_type="referrals.tracking_sheet",
            object_id=self.path.name[:64],
            outcome=AuditEvent.Outcome.OK if self.report.ok else AuditEvent.Outcome.FAILED,
            detail={
                "file": self.path.name,
                "dry_run": self.dry_run,
                "written": self.report.written,
                "created": counts.created,
                "updated": counts.updated,
                "unchanged": counts.unchanged,
                "errors": len(self.report.errors),
            },
        )

    def check(self) -> list[SheetRow]:
        """Reads the file and checks every row (a few queries, whatever the number of rows);
        raises SheetError when the file as a whole is unusable."""
        sheet = sheet_read(self.path)
        self.report.problems.extend(sheet.problems)
        positions, problems = columns_match(sheet.headers, sheet.name, self.mapping)
        self.report.problems.extend(problems)
        if "owner" not in positions and self.default_owner is None:
            raise SheetError(
                Problem(
                    sheet.name,
                    1,
                    "",
                    "there is no Owner column: name the owner of these referrals with "
                    "--owner EMAIL",
                )
            )
        lookups = Lookups(agency=self.agency, sheet=sheet, positions=positions)
        checker = RowChecker(
            agency=self.agency,
            file=sheet.name,
            positions=positions,
            lookups=lookups,
            default_owner=self.default_owner,
            create_partners=self.create_partners,
            today=timezone.localdate(timezone.now(), self.zone),
        )
        total = len(sheet.rows)
        rows = []
        for done, (number, cells) in enumerate(sheet.rows, start=1):
            row = checker.check(number, cells, self.report.problems)
            if row is not None:
                rows.append(row)
            if self.progress and done % 100 == 0:
                self.progress(done, total, "checking")
        self.new_partners = checker.new_partners
        return rows

    # -- writing

    def _write(self, rows: list[SheetRow]) -> None:
        partners = self._partners_create()
        for row in rows:
            if isinstance(row.partner, str):
                row.partner = partners[_name_key(row.partner)]
        clients = self._clients_on_record(rows)
        existing = self._referrals_on_record(rows, clients)
        rows.sort(key=lambda row: (row.referred_on, row.row))
        counts = self.report.referrals
        for done, row in enumerate(rows, start=1):
            # No savepoint per row: each service runs in its own, and one refused row rolls the
            # whole import back anyway.
            try:
                key = row.tracking_id or (row.client_key, row.partner.pk, row.referred_on)
                referral = existing.get(key)
                if referral is None:
                    self._create(row, clients)
                    counts.created += 1
                elif self._update(referral, row):
                    counts.updated += 1
                else:
                    counts.unchanged += 1
            except DomainError as exc:
                self.report.problems.append(
                    Problem(self.path.name, row.row, exc.field or "", exc.message)
                )
            if self.progress and (done % 50 == 0 or done == len(rows)):
                self.progress(done, len(rows), "importing")

    def _partners_create(self) -> dict[str, Organization]:
        """Organizations the sheet names that the directory lacks (--create-partners): plain
        listings for the network to complete, marked as coming from a tracking sheet."""
        names = self.new_partners
        created = Organization.objects.bulk_create(
            Organization(
                network=self.agency.network,
                name=name,
                source_id=f"tracking-sheet:{key}"[:200],
                description=f"Added from a tracking sheet imported by {self.agency.name}.",
            )
            for key, name in names.items()
        )
        self.report.partners_created = len(created)
        return {_name_key(org.name): org for org in created}

    def _clients_on_record(self, rows: list[SheetRow]) -> dict[tuple[str, str], object]:
        """The agency's clients the sheet names, found by keyed hash: the same name and date of
        birth (or the same name, both without a date of birth). Decrypted only here, in memory."""
        exact = {
            matching.name_dob_hash(row.first_name, row.last_name, row.dob)
            for row in rows
            if row.dob
        }
        sounds = {matching.last_name_sound_hash(row.last_name) for row in rows if not row.dob}
        candidates = agency_clients(agency=self.agency).filter(
            Q(name_dob_hash__in=exact) | Q(dob_hash="", last_name_sound_hash__in=sounds - {""})
        )
        found = {}
        for client in candidates.order_by("pk"):
            key = (
                matching.full_name_key(client.first_name, client.last_name),
                client.date_of_birth,
            )
            found.setdefault(key, client)
        return found

    def _referrals_on_record(self, rows, clients) -> dict:
        """The agency's referrals the rows may already be: by tracking ID, and (for rows without
        one) by client, partner and send date."""
        ids = {row.tracking_id for row in rows if row.tracking_id}
        client_ids = {client.pk: key for key, client in clients.items()}
        found = {}
        for referral in Referral.objects.for_agency(self.agency).filter(
            Q(tracking_id__in=ids) | Q(client_id__in=client_ids)
        ):
            if referral.tracking_id in ids:
                found[referral.tracking_id] = referral
            if referral.client_id in client_ids and referral.sent_at is not None:
                sent_on = timezone.localdate(referral.sent_at, self.zone)
                found.setdefault(
                    (client_ids[referral.client_id], referral.organization_id, sent_on), referral
                )
        return found

    def _at(self, day: date) -> datetime:
        """A sheet date as an instant: midday in the agency's time zone (so it reads as the
        same date there), never later than now."""
        return min(datetime.combine(day, time(12), tzinfo=self.zone), timezone.now())

    def _create(self, row: SheetRow, clients: dict) -> None:
        client = clients.get(row.client_key)
        if client is None:
            client = client_create(
                agency=self.agency,
                actor=None,
                data=ClientData(
                    first_name=row.first_name, last_name=row.last_name, date_of_birth=row.dob
                ),
                allow_duplicate=True,  # an exact match was looked for; near ones are for review
            )
            clients[row.client_key] = client
            self.report.clients_created += 1
        else:
            self.report.clients_reused += 1
        sent_at = self._at(row.referred_on)
        referral = referral_create(
            agency=self.agency,
            actor=self.actor,
            data=ReferralData(
                client=client,
                organization=row.partner,
                service=row.service,
                owner=row.owner,
                contact_name=row.contact_name,
                contact_email=row.contact_email,
                contact_phone=row.contact_phone,
                needs=tuple(row.needs),
                reason=row.notes,
                urgency=row.urgency,
            ),
            at=sent_at,
            tracking_id=row.tracking_id or None,
        )
        referral = referral_record_sent(referral=referral, actor=self.actor, at=sent_at)
        self._apply(referral, row, plan_steps(referral, row, self.zone) or [])

    def _update(self, referral: Referral, row: SheetRow) -> bool:
        steps = plan_steps(referral, row, self.zone)
        if steps is None:
            self.report.problems.append(
                Problem(
                    self.path.name,
                    row.row,
                    "status",
                    f"{referral.tracking_id} is {referral.get_status_display().lower()} in "
                    f"Referloop; the sheet's {Status(row.status).label.lower()} was not applied",
                    WARNING,
                )
            )
            return False
        if not steps:
            return False
        self._apply(referral, row, steps)
        return True

    def _apply(self, referral: Referral, row: SheetRow, steps: list[Step]) -> None:
        for step in steps:
            at = self._at(step.day)
            if not step.status:
                referral = referral_contact_attempt(referral=referral, actor=self.actor, at=at)
                continue
            if referral.status == step.status:  # a contact attempt already marked it received
                continue
            final = step.status == row.status
            referral = referral_transition(
                referral=referral,
                actor=self.actor,
                to_status=step.status,
                disposition=(row.disposition or None) if final else None,
                reason=row.status_reason if final else "",
                at=at,
            )


def referrals_sheet_import(
    *,
    path,
    agency,
    default_owner=None,
    mapping_path=None,
    create_partners: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> SheetReport:
    """Imports a tracking sheet into `agency`: all or nothing; see the module docstring."""
    try:
        mapping = mapping_read(mapping_path) if mapping_path else None
    except SheetError as exc:
        report = SheetReport(source=Path(path).name, dry_run=dry_run)
        report.problems.append(exc.problem)
        return report
    return SheetImport(
        path=path,
        agency=agency,
        default_owner=default_owner,
        mapping=mapping,
        create_partners=create_partners,
        dry_run=dry_run,
        progress=progress,
    ).run()


# --- export ------------------------------------------------------------------------------------


def export_queryset(queryset, *, agency):
    """The rows of an export: the agency's own sent referrals (a referral received from another
    agency is not ours to list with the client's name), read in one query plus one for needs."""
    return (
        queryset.filter(agency=agency)
        .select_related("client", "organization", "service", "owner", "disposition")
        .prefetch_related("needs")
        .order_by("sent_at", "pk")
    )


def _local_date(moment, zone) -> date | None:
    return timezone.localdate(moment, zone) if moment is not None else None


def export_rows(queryset, *, agency, chunk_size: int = 2000) -> Iterator[list]:
    """One list of cell values per referral, in the order of HEADERS (dates as dates)."""
    zone = agency_zone(agency)
    for referral in export_queryset(queryset, agency=agency).iterator(chunk_size=chunk_size):
        client = referral.client
        yield [
            referral.tracking_id,
            client.first_name,
            client.last_name,
            client.birth_date,
            _local_date(referral.sent_at, zone),
            referral.organization.name,
            referral.service.name if referral.service else "",
            referral.contact_name,
            referral.contact_email,
            referral.contact_phone,
            referral.owner.email,
            "; ".join(term.name for term in referral.needs.all()),
            referral.get_urgency_display(),
            referral.get_status_display(),
            referral.disposition.label if referral.disposition else "",
            referral.status_reason,
            _local_date(referral.received_at, zone),
            _local_date(referral.first_contact_at, zone),
            _local_date(referral.outcome_at, zone),
            referral.reason,
        ]


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return formula_safe(str(value))


def _as_cell(value):
    return value if isinstance(value, date) or value is None else formula_safe(str(value))


class _Echo:
    def write(self, value):
        return value


def _csv_lines(rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a byte-order mark, so Excel reads the accents right
    yield writer.writerow(HEADERS)
    for row in rows:
        yield writer.writerow([_as_text(value) for value in row])


def _xlsx_bytes(rows: Iterable[list]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Referrals")
    sheet.append(HEADERS)
    for row in rows:
        sheet.append([_as_cell(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def sheet_write(queryset, path: str | Path, *, agency) -> int:
    """Writes the tracking sheet to `path` (.xlsx, else CSV); returns the number of referrals."""
    path = Path(path)
    count = 0

    def counted(rows):
        nonlocal count
        for row in rows:
            count += 1
            yield row

    rows = counted(export_rows(queryset, agency=agency))
    if path.suffix.lower() == ".xlsx":
        path.write_bytes(_xlsx_bytes(rows))
    else:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.writelines(_csv_lines(rows))
    return count


def sheet_response(queryset, fmt: str, *, agency, request=None, filename: str = "referrals"):
    """The tracking sheet as a download (fmt "csv", streamed, or "xlsx"), for the referral list:
    the agency's own referrals of `queryset` only. With `request`, the export is audited."""
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"unknown sheet format {fmt!r}")
    if request is not None:
        audit_record(
            action="export",
            request=request,
            agency=agency,
            object_type="referrals.tracking_sheet",
            detail={"format": fmt, "rows": export_queryset(queryset, agency=agency).count()},
        )
    disposition = f'attachment; filename="{filename}.{fmt}"'
    rows = export_rows(queryset, agency=agency)
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(
            _xlsx_bytes(rows),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = disposition
    response["Cache-Control"] = "no-store"  # identifying information: keep it out of caches
    return response


def export_audit(*, agency, path, rows: int, user=None) -> None:
    audit_record(
        action="export",
        user=user,
        agency=agency,
        object_type="referrals.tracking_sheet",
        object_id=Path(path).name[:64],
        detail={"file": Path(path).name, "rows": rows},
    )
