"""Reading a HubSpot export and checking every row before anything is written: the file (or the
one sheet in its ZIP) read by the framework, the kind told from the header, the headers matched to
our columns, and each row turned into a ContactRow / CompanyRow or all of its problems."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from referloop.core.errors import DomainError
from referloop.core.imports.columns import ColumnMatch, columns_match, header_key
from referloop.core.imports.readers import Table, is_xlsx, is_zip, read_table, unpacked
from referloop.core.imports.report import DEFAULT, ERROR, WARNING, Problem, input_error
from referloop.core.imports.run import stable_id
from referloop.core.models import Membership
from referloop.core.timeutils import agency_zone
from referloop.directory.capacity_feed.values import BadValue, Moments
from referloop.partners.hubspot.columns import (
    COLUMNS,
    COMPANIES,
    CONTACTS,
    KEPT,
    MULTI_VALUE_SEPARATOR,
    STAGE_BY_LEAD_STATUS,
    STAGE_BY_LIFECYCLE,
    kind_detect,
)
from referloop.partners.services import email_normalized, phone_e164
from referloop.referrals.sheet.check import cell_text

SHEET_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx")
# "Jane Doe (jane@example.org)" or "jane@example.org": the address is what identifies an owner.
EMAIL_IN_TEXT = re.compile(r"[^\s<>()]+@[^\s<>()]+")
STAGE_DEFAULT_CAUSE = "no lead status or lifecycle stage with a clear meaning: reach out"


@dataclass
class HubspotRow:
    """What a row of either kind says about the agency's relationship with an organization."""

    row: int
    hubspot_id: str
    owner: object  # a member of the agency, or None
    last_activity: datetime | None
    stage: str  # "" when the row's statuses mean no stage
    associations: list[str]
    extra: list[list[str]]  # [header, value] pairs


@dataclass
class ContactRow(HubspotRow):
    first_name: str = ""
    last_name: str = ""
    name: str = ""
    email: str = ""
    other_emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    title: str = ""
    company_id: str = ""  # the primary associated company's record id
    company_name: str = ""


@dataclass
class CompanyRow(HubspotRow):
    name: str = ""
    website: str = ""
    phone: str = ""


@dataclass
class Checked:
    kind: str
    file: str
    read: int
    rows: list[HubspotRow]


class _RowError(Exception):
    def __init__(self, header: str, reason: str, value: str = ""):
        super().__init__(reason)
        self.header, self.reason, self.value = header, reason, value


def hubspot_table(path: str | Path) -> Table:
    """The export as a table: a CSV or XLSX file, or the one sheet a ZIP download holds."""
    path = Path(path)
    if not (path.is_file() and is_zip(path)) or is_xlsx(path):
        return read_table(path)
    with unpacked(path) as folder:
        sheets = sorted(
            found
            for found in folder.rglob("*")
            if found.is_file() and found.suffix.lower() in SHEET_SUFFIXES
        )
        if len(sheets) != 1:
            names = ", ".join(sheet.name for sheet in sheets[:5]) or "none"
            raise input_error(
                path.name,
                f"the ZIP archive holds {len(sheets)} sheets ({names}): give the one to import",
            )
        return read_table(sheets[0], name=f"{path.name}/{sheets[0].name}")


def _kind(table: Table, kind: str | None, mapping: dict[str, str] | None) -> str:
    detected = kind_detect(table.header)
    if kind is None and detected is None:
        raise input_error(
            table.name,
            "is not a HubSpot contacts or companies export (no First Name, Last Name, Email or "
            "Company name column)",
            row=1,
        )
    kind = kind or detected
    needed = {CONTACTS: ("first_name", "last_name", "email"), COMPANIES: ("name",)}[kind]
    keys = {header_key(text) for text in table.header}
    names = {COLUMNS[kind][name].header for name in needed}
    if not keys & {header_key(text) for text in names} and not set(mapping or ()) & set(needed):
        raise input_error(
            table.name,
            f"has no {' or '.join(sorted(names))} column: not a HubSpot {kind} export "
            "(check --kind, or name the columns with --mapping)",
            row=1,
        )
    return kind


class Owners:
    """The agency's active members, by e-mail and by full name (how HubSpot names owners)."""

    def __init__(self, agency):
        self.by_email, self.by_name = {}, {}
        members = Membership.objects.filter(agency=agency, is_active=True, user__is_active=True)
        for membership in members.select_related("user"):
            user = membership.user
            self.by_email[user.email.lower()] = user
            if user.full_name:
                self.by_name.setdefault(header_key(user.full_name), user)

    def find(self, text: str):
        if found := EMAIL_IN_TEXT.search(text):
            return self.by_email.get(found.group().lower())
        return self.by_name.get(header_key(text))


class RowChecker:
    """Turns one row of cells into a ContactRow / CompanyRow, or collects what is wrong."""

    def __init__(self, *, agency, kind: str, table: Table, match: ColumnMatch, now: datetime):
        self.kind, self.file, self.now = kind, table.name, now
        self.columns = COLUMNS[kind]
        self.positions = match.positions
        self.headers = {name: table.header[index] for name, index in match.positions.items()}
        self.unknown = match.unknown
        self.owners = Owners(agency)
        index = self.positions.get("last_activity")
        dates = [cell_text(cells[index]) for _, cells in table.rows if index is not None]
        self.moments = Moments(agency_zone(agency), dates)
        self.seen: dict[str, int] = {}  # record id -> the row it was first on
        self.number, self.found = 0, []  # the row being checked and its problems

    def header(self, name: str) -> str:
        return self.headers.get(name, self.columns[name].header)

    def text(self, cells: list, name: str) -> str:
        index = self.positions.get(name)
        value = cell_text(cells[index]) if index is not None and index < len(cells) else ""
        limit = self.columns[name].max_length
        if limit and len(value) > limit:
            raise _RowError(self.header(name), f"at most {limit} characters", value[:60])
        return value

    def values(self, cells: list, name: str) -> list[str]:
        parts = self.text(cells, name).split(MULTI_VALUE_SEPARATOR)
        return [part.strip() for part in parts if part.strip()]

    def check(self, number: int, cells: list, problems: list[Problem]) -> HubspotRow | None:
        self.number, self.found = number, []
        row = self._guard(self._row, cells, default=None)
        problems.extend(self.found)
        if row is None or any(problem.severity == ERROR for problem in self.found):
            return None
        return row

    def _guard(self, read, *args, default=""):
        """`read(*args)`, or its error recorded on this row (so one row reports every bad cell)."""
        try:
            return read(*args)
        except _RowError as exc:
            self.found.append(
                Problem(self.file, self.number, exc.header, exc.reason, value=exc.value)
            )
            return default

    def _row(self, cells: list) -> HubspotRow | None:
        multi = "company_ids" if self.kind == CONTACTS else "contact_ids"
        common = {
            "row": self.number,
            "hubspot_id": "",
            "owner": self._guard(self._owner, cells, default=None),
            "last_activity": self._guard(self._moment, cells, default=None),
            "stage": self._guard(self._stage, cells),
            "associations": self._guard(self.values, cells, multi, default=[]),
            "extra": self._guard(self._extra, cells, default=[]),
        }
        read = self._contact if self.kind == CONTACTS else self._company
        checked = read(cells, common)
        checked.hubspot_id = self._record_id(cells, checked)
        return checked

    def _contact(self, cells: list, common: dict) -> ContactRow:
        first = self._guard(self.text, cells, "first_name")
        last = self._guard(self.text, cells, "last_name")
        email = self._guard(self._checked, cells, "email", email_normalized)
        name = " ".join(part for part in (first, last) if part)
        if not (name or email or self._has_error("email")):
            raise _RowError("", "has no name and no e-mail: nothing says who this is")
        if not name and email:
            self._default("first_name", "no name: the e-mail address is the name")
        phones = [self._guard(self._checked, cells, key, phone_e164) for key in ("phone", "mobile")]
        company_ids = common["associations"]
        company_id = self._guard(self.text, cells, "company_id") or next(iter(company_ids), "")
        company_name = self._guard(self.text, cells, "company") or self._guard(
            self.text, cells, "company_name"
        )
        if not (company_id or company_name):
            raise _RowError(
                "",
                "has no associated company (Primary Associated Company ID, Associated Company or "
                "Company Name): a partner person works at an organization",
            )
        return ContactRow(
            **common,
            first_name=first,
            last_name=last,
            name=name or email,
            email=email,
            other_emails=self._guard(self._other_emails, cells, default=[]),
            phones=[phone for phone in phones if phone],
            title=self._guard(self.text, cells, "title"),
            company_id=company_id,
            company_name=company_name,
        )

    def _has_error(self, name: str) -> bool:
        return any(p.field == self.header(name) and p.severity == ERROR for p in self.found)

    def _default(self, name: str, reason: str) -> None:
        self.found.append(Problem(self.file, self.number, self.header(name), reason, DEFAULT))

    def _company(self, cells: list, common: dict) -> CompanyRow:
        name = self._guard(self.text, cells, "name")
        if not name and not self._has_error("name"):
            raise _RowError(self.header("name"), "is blank: a company needs its name")
        return CompanyRow(
            **common,
            name=name,
            website=self._guard(self._website, cells),
            phone=self._guard(self._checked, cells, "phone", phone_e164),
        )

    def _checked(self, cells: list, name: str, normalize) -> str:
        """A cell through the partner services' own check (e-mail-validator, phonenumbers)."""
        value = self.text(cells, name)
        try:
            return normalize(value)
        except DomainError as exc:
            raise _RowError(self.header(name), exc.message, value) from None

    def _other_emails(self, cells: list) -> list[str]:
        addresses = []
        for value in self.values(cells, "other_emails"):
            try:
                addresses.append(email_normalized(value))
            except DomainError as exc:
                raise _RowError(self.header("other_emails"), exc.message, value) from None
        return addresses

    def _website(self, cells: list) -> str:
        domain = self.text(cells, "domain")
        if not domain:
            return ""
        website = domain if "://" in domain else f"https://{domain}"
        try:
            URLValidator(schemes=["http", "https"])(website)
        except ValidationError:
            raise _RowError(
                self.header("domain"), f"'{domain}' is not a domain name", domain
            ) from None
        return website

    def _owner(self, cells: list):
        text = self.text(cells, "owner")
        if not text:
            return None
        owner = self.owners.find(text)
        if owner is None:
            self.found.append(
                Problem(
                    self.file,
                    self.number,
                    self.header("owner"),
                    f"'{text}' is not an active member of the agency (by e-mail or full name): "
                    "the relationship's owner is left as it is",
                    WARNING,
                    value=text,
                )
            )
        return owner

    def _moment(self, cells: list) -> datetime | None:
        text = self.text(cells, "last_activity")
        if not text:
            return None
        try:
            moment = self.moments.read(text)
        except BadValue as bad:
            raise _RowError(self.header("last_activity"), bad.reason, text) from None
        if moment > self.now:
            raise _RowError(self.header("last_activity"), f"'{text}' is in the future", text)
        return moment

    def _stage(self, cells: list) -> str:
        """Lead Status first (the working status), else Lifecycle Stage; neither meaning a stage
        is the default "reach out" (counted), which never moves a relationship."""
        status, lifecycle = self.text(cells, "lead_status"), self.text(cells, "lifecycle")
        stage = STAGE_BY_LEAD_STATUS.get(header_key(status)) or STAGE_BY_LIFECYCLE.get(
            header_key(lifecycle)
        )
        if stage:
            return stage
        written = "; ".join(f"'{value}'" for value in (status, lifecycle) if value)
        self.found.append(
            Problem(
                self.file,
                self.number,
                self.header("lead_status" if status or not lifecycle else "lifecycle"),
                f"{written or 'blank'}: {STAGE_DEFAULT_CAUSE}",
                DEFAULT,
                cause=STAGE_DEFAULT_CAUSE,
            )
        )
        return ""

    def _extra(self, cells: list) -> list[list[str]]:
        """The cells Referloop has no field for: HubSpot's own columns under their header, the
        file's unknown columns under the file's."""
        extra = []
        for name in KEPT[self.kind]:
            if value := self.text(cells, name):
                extra.append([self.columns[name].header, value])
        for index, header in self.unknown:
            value = cell_text(cells[index]) if index < len(cells) else ""
            if value:
                extra.append([header, value])
        return extra

    def _record_id(self, cells: list, row: HubspotRow) -> str:
        """The row's Record ID; a hand-made file without one gets an id from the e-mail or name,
        the same on every import of it."""
        record_id = self.text(cells, "record_id")
        if not record_id:
            who = row.email or row.name if isinstance(row, ContactRow) else row.name
            record_id = stable_id("hubspot", self.kind, who)
            by = "e-mail or name" if self.kind == CONTACTS else "name"
            self._default("record_id", f"no Record ID: matched by {by}")
        earlier = self.seen.setdefault(record_id, self.number)
        if earlier != self.number:
            raise _RowError(
                self.header("record_id"), f"'{record_id}' is also on row {earlier}", record_id
            )
        return record_id


def hubspot_check(
    path, *, agency, kind: str | None, mapping, problems: list[Problem], progress=None
) -> Checked:
    """Every row of the export checked (InputError when the file as a whole cannot be read)."""
    table = hubspot_table(path)
    problems.extend(table.problems)
    kind = _kind(table, kind, mapping)
    # A mapping file may name both kinds' columns: this file's kind reads its own.
    mapping = {ours: theirs for ours, theirs in (mapping or {}).items() if ours in COLUMNS[kind]}
    match = columns_match(table.header, COLUMNS[kind], file=table.name, mapping=mapping)
    checker = RowChecker(agency=agency, kind=kind, table=table, match=match, now=timezone.now())
    rows = []
    for done, (number, cells) in enumerate(table.rows, start=1):
        if checked := checker.check(number, cells, problems):
            rows.append(checked)
        if progress and (done % 200 == 0 or done == len(table.rows)):
            progress(done, len(table.rows), "checking")
    return Checked(kind=kind, file=table.name, read=len(table.rows), rows=rows)
