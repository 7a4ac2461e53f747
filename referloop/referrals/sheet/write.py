"""Importing a checked tracking sheet: each row replayed through the referral services with the
sheet's dates, oldest referral first, in one transaction (all or nothing; with --partial the
valid rows; rolled back for --dry-run), and the report of what that did."""

from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from referloop.clients import matching
from referloop.clients.selectors import agency_clients
from referloop.clients.services import ClientData, client_create
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.imports.columns import mapping_read
from referloop.core.imports.report import WARNING, ImportReport, InputError, Problem, TableCounts
from referloop.core.imports.run import Progress, import_transaction
from referloop.core.models import AuditEvent
from referloop.core.timeutils import agency_zone
from referloop.directory.models import Organization
from referloop.referrals.models import CLOSED, OPEN, TRANSITIONS, Referral, Status
from referloop.referrals.services import (
    Actor,
    ReferralData,
    referral_contact_attempt,
    referral_create,
    referral_record_sent,
    referral_transition,
)
from referloop.referrals.sheet.check import SheetRow, name_key, sheet_check
from referloop.referrals.sheet.columns import BY_NAME

CONSENT = (
    "No consent was recorded and nothing was disclosed: record each client's consent before "
    "sharing a packet or a reply link."
)


@dataclass
class SheetReport(ImportReport):
    title: str = "Tracking sheet import"
    partners_created: int = 0
    clients_created: int = 0
    clients_reused: int = 0

    @property
    def referrals(self) -> TableCounts:
        return self.count("referrals")

    def detail_lines(self) -> list[str]:
        lines = super().detail_lines()
        lines.append(
            f"  clients: {self.clients_created:,} created, {self.clients_reused:,} found on record"
        )
        if self.partners_created:
            lines.append(f"  partners added to the directory: {self.partners_created:,}")
        lines.append(CONSENT)
        return lines


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


class SheetWrite:
    """Replays checked rows through the services (inside the import's transaction)."""

    def __init__(self, *, agency, report: SheetReport, progress: Progress | None = None):
        self.agency = agency
        self.zone = agency_zone(agency)
        self.report = report
        self.progress = progress
        self.actor = Actor(
            user=None, agency=agency, label=f"Tracking sheet import ({report.source})"
        )

    def write(self, rows: list[SheetRow]) -> None:
        report = self.report
        partners = self._partners_create(rows)
        for row in rows:
            if isinstance(row.partner, str):
                row.partner = partners[name_key(row.partner)]
        clients = self._clients_on_record(rows)
        existing = self._referrals_on_record(rows, clients)
        rows = sorted(rows, key=lambda row: (row.referred_on, row.row))
        counts = report.referrals
        counts.rejected = report.read - len(rows)  # left out for their errors (--partial)
        for done, row in enumerate(rows, start=1):
            referral = existing.get(
                row.tracking_id or (row.client_key, row.partner.pk, row.referred_on)
            )
            client = clients.get(row.client_key)
            try:
                # A savepoint per row: a row the services refuse leaves nothing of itself behind
                # (with --partial, the other rows are imported).
                with transaction.atomic():
                    if referral is None:
                        created = self._create(row, client)
                    else:
                        changed = self._update(referral, row)
            except DomainError as exc:
                report.problems.append(
                    Problem(report.source, row.row, exc.field or "", exc.message)
                )
                counts.rejected += 1
                continue
            if referral is None:
                counts.created += 1
                if client is None:
                    clients[row.client_key] = created.client
                    report.clients_created += 1
                else:
                    report.clients_reused += 1
            elif changed:
                counts.updated += 1
            else:
                counts.unchanged += 1
            if self.progress and (done % 50 == 0 or done == len(rows)):
                self.progress(done, len(rows), "importing")

    def _partners_create(self, rows: list[SheetRow]) -> dict[str, Organization]:
        """Organizations the rows name that the directory lacks (--create-partners): plain
        listings for the network to complete, marked as coming from a tracking sheet."""
        names: dict[str, str] = {}  # name key -> the name as first written
        for row in rows:
            if isinstance(row.partner, str):
                names.setdefault(name_key(row.partner), row.partner)
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
        return {name_key(org.name): org for org in created}

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

    def _create(self, row: SheetRow, client) -> Referral:
        """The row's referral, sent and moved on as the sheet says; its client too unless
        `client` is one on record."""
        if client is None:
            client = client_create(
                agency=self.agency,
                actor=None,
                data=ClientData(
                    first_name=row.first_name, last_name=row.last_name, date_of_birth=row.dob
                ),
                allow_duplicate=True,  # an exact match was looked for; near ones are for review
            )
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
        return self._apply(referral, row, plan_steps(referral, row, self.zone) or [])

    def _update(self, referral: Referral, row: SheetRow) -> bool:
        steps = plan_steps(referral, row, self.zone)
        if steps is None:
            sheet_status = Status(row.status).label.lower()
            self.report.problems.append(
                Problem(
                    self.report.source,
                    row.row,
                    "status",
                    f"{referral.tracking_id} is {referral.get_status_display().lower()} in "
                    f"Referloop; the sheet's {sheet_status} was not applied",
                    WARNING,
                    value=sheet_status,
                    cause="Referloop's status cannot move to the sheet's: left as it is",
                )
            )
            return False
        if not steps:
            return False
        self._apply(referral, row, steps)
        return True

    def _apply(self, referral: Referral, row: SheetRow, steps: list[Step]) -> Referral:
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
        return referral


def _audit(agency, report: SheetReport, *, written: bool) -> None:
    counts = report.counts.get("referrals", TableCounts())
    audit_record(
        action="import",
        agency=agency,
        object_type="referrals.tracking_sheet",
        object_id=report.source[:64],
        outcome=AuditEvent.Outcome.OK if written or report.ok else AuditEvent.Outcome.FAILED,
        detail={
            "file": report.source,
            "dry_run": report.dry_run,
            "partial": report.partial,
            "written": written,
            "created": counts.created,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
            "rejected": counts.rejected,
            "errors": len(report.errors),
        },
    )


def referrals_sheet_import(
    *,
    path,
    agency,
    default_owner=None,
    mapping_path=None,
    create_partners: bool = False,
    partial: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> SheetReport:
    """Imports a tracking sheet into `agency` (see the package docstring): every row is checked,
    then the rows are written all or nothing, or with `partial` the valid ones; `dry_run` checks
    and replays everything, then changes nothing."""
    report = SheetReport(source=Path(path).name, partial=partial, dry_run=dry_run)
    rows: list[SheetRow] = []
    try:
        mapping = mapping_read(mapping_path, BY_NAME) if mapping_path else None
        rows = sheet_check(
            path,
            agency=agency,
            report=report,
            mapping=mapping,
            default_owner=default_owner,
            create_partners=create_partners,
            progress=progress,
        )
    except InputError as exc:
        report.problems.append(exc.problem)
        report.read = 0  # the file as a whole is unusable: none of its rows is read
    if rows and (report.ok or partial):
        with import_transaction(report):
            SheetWrite(agency=agency, report=report, progress=progress).write(rows)
            # Recorded with the rows it wrote; rolled back with them when they are.
            _audit(agency, report, written=True)
    if not report.written:
        _audit(agency, report, written=False)
    return report
