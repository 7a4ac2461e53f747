"""Importing a checked HubSpot export: each row written through the partners services in one
transaction (all or nothing; with --partial the valid rows; rolled back for --dry-run), matched
to what an earlier import made of it by its Record ID, and the report of what that did."""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.imports.columns import mapping_read
from referloop.core.imports.report import WARNING, ImportReport, InputError, Problem
from referloop.core.imports.run import Progress, import_transaction
from referloop.directory.models import Contact, Organization
from referloop.partners.hubspot.check import Checked, CompanyRow, ContactRow, hubspot_check
from referloop.partners.hubspot.columns import COLUMNS, COMPANIES, CONTACTS
from referloop.partners.models import (
    ACTIVE_STAGES,
    HubspotLink,
    HubspotObject,
    KeyContact,
    Relationship,
    Stage,
)
from referloop.partners.services import (
    contact_move,
    key_contact_ensure,
    partner_contact_create,
    partner_contact_update,
    partner_organization_create,
    relationship_contact_seen,
    relationship_ensure,
    relationship_stage_move,
    relationship_update,
)
from referloop.referrals.sheet.check import name_key

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


@dataclass
class HubspotReport(ImportReport):
    title: str = "HubSpot import"
    organizations_added: int = 0
    people_found: int = 0
    relationships_started: int = 0

    def detail_lines(self) -> list[str]:
        lines = super().detail_lines()
        lines.append(f"  relationships started: {self.relationships_started:,}")
        if self.organizations_added:
            lines.append(f"  organizations added to the directory: {self.organizations_added:,}")
        if self.people_found:
            lines.append(f"  people found in the directory by e-mail: {self.people_found:,}")
        return lines


def best_stage(stages) -> str:
    """The stage several rows give one relationship: the furthest of the worked stages, else the
    first way out (dormant, not a fit) a row names; "" when none means a stage."""
    worked = [stage for stage in stages if stage in ACTIVE_STAGES]
    if worked:
        return max(worked, key=ACTIVE_STAGES.index)
    return next((stage for stage in stages if stage), "")


class HubspotWrite:
    """Writes checked rows through the services (inside the import's transaction)."""

    def __init__(self, *, agency, report: HubspotReport, progress: Progress | None = None):
        self.agency, self.report, self.progress = agency, report, progress
        self.started: set[int] = set()  # organizations whose relationship this import began
        self.tally: Counter = Counter()  # what the row being written added
        self.company_names: dict[str, str] = {}  # a company's record id -> its name in the file
        self.file = report.source
        self._load()

    def _load(self) -> None:
        """What rows are matched against, read up front (again after a row the services refused,
        whose writes its savepoint undid)."""
        agency = self.agency
        links = HubspotLink.objects.for_agency(agency).select_related("contact", "organization")
        self.links = {(link.object_type, link.hubspot_id): link for link in links}
        self.relationships = {
            relationship.organization_id: relationship
            for relationship in Relationship.objects.for_agency(agency)
        }
        self.organizations: dict[str, Organization] = {}
        for organization in Organization.objects.for_network(agency.network_id).order_by("pk"):
            self.organizations.setdefault(name_key(organization.name), organization)
        self.people: dict[str, Contact] = {}
        people = Contact.objects.filter(network_id=agency.network_id).exclude(email="")
        for contact in people.order_by("pk"):
            self.people.setdefault(contact.email.lower(), contact)

    def write(self, checked: Checked) -> None:
        report, rows, self.file = self.report, checked.rows, checked.file
        counts = report.count(checked.kind)
        counts.rejected = report.read - len(rows)  # left out for their errors (--partial)
        stages = {}
        if checked.kind == CONTACTS:
            self.company_names = {r.company_id: r.company_name for r in rows if r.company_name}
            stages = self._stages(rows)
        for done, row in enumerate(rows, start=1):
            self.tally = Counter()
            try:
                # A savepoint per row: a row the services refuse leaves nothing of itself behind.
                with transaction.atomic():
                    if isinstance(row, ContactRow):
                        outcome = self._contact(row, stages.get(self._company_key(row), ""))
                    else:
                        outcome = self._company(row)
            except DomainError as exc:
                header = COLUMNS[checked.kind].get(exc.field or "")
                field = header.header if header else exc.field or ""
                report.problems.append(Problem(checked.file, row.row, field, exc.message))
                counts.rejected += 1
                self._load()
                continue
            setattr(counts, outcome, getattr(counts, outcome) + 1)
            report.organizations_added += self.tally["organizations"]
            report.people_found += self.tally["people"]
            report.relationships_started += self.tally["relationships"]
            if self.progress and (done % 50 == 0 or done == len(rows)):
                self.progress(done, len(rows), "importing")

    # --- organizations and relationships ---------------------------------------------------

    def _company_key(self, row: ContactRow) -> str:
        """Which organization a contact row is at, before anything is written (the rows of one
        organization decide its relationship's stage together)."""
        link = self.links.get((HubspotObject.COMPANY, row.company_id))
        if link is not None:
            return f"org:{link.organization_id}"
        name = self._company_name(row)
        if organization := self.organizations.get(name_key(name)):
            return f"org:{organization.pk}"
        return f"name:{name_key(name)}" if name else f"id:{row.company_id}"

    def _company_name(self, row: ContactRow) -> str:
        """The row's company name, or the one another row gives its record id."""
        return row.company_name or self.company_names.get(row.company_id, "")

    def _stages(self, rows: list[ContactRow]) -> dict[str, str]:
        by_company: dict[str, list[str]] = {}
        for row in rows:
            by_company.setdefault(self._company_key(row), []).append(row.stage)
        return {key: best_stage(stages) for key, stages in by_company.items()}

    def _organization(self, row: ContactRow) -> Organization:
        """The contact's company: the one imported with its Record ID, else the directory's
        organization of that name (any case), else a new one (a warning: the network should
        complete its listing). An unlinked Record ID is linked to it for the companies import."""
        link = self.links.get((HubspotObject.COMPANY, row.company_id))
        if link is not None:
            return link.organization
        name = self._company_name(row)
        if not name:
            raise DomainError(
                f"company '{row.company_id}' was not imported: import the companies export first, "
                "or give the company's name (Associated Company)",
                field="company_id",
            )
        organization = self.organizations.get(name_key(name))
        if organization is None:
            organization = self._organization_create(name)
            self.report.problems.append(
                Problem(
                    self.file,
                    row.row,
                    "Associated Company",
                    f"'{name}' is not in the directory: added as a new organization",
                    WARNING,
                    value=name,
                )
            )
        if row.company_id:
            self._link_save(None, HubspotObject.COMPANY, row.company_id, organization=organization)
        return organization

    def _organization_create(
        self, name: str, *, website: str = "", phone: str = ""
    ) -> Organization:
        organization = partner_organization_create(
            agency=self.agency,
            actor=None,
            name=name,
            website=website,
            phone=phone,
            description=f"Added from a HubSpot export imported by {self.agency.name}.",
        )
        self.organizations[name_key(name)] = organization
        self.tally["organizations"] += 1
        return organization

    def _relationship(self, organization: Organization) -> Relationship:
        relationship = self.relationships.get(organization.pk)
        if relationship is None:
            relationship = relationship_ensure(agency=self.agency, organization=organization)
            self.relationships[organization.pk] = relationship
            self.started.add(organization.pk)
            self.tally["relationships"] += 1
        return relationship

    def _relationship_apply(self, organization, *, owner, last_activity, stage) -> bool:
        """What a row says of the relationship: an owner where it has none, a later last contact,
        a stage (a relationship this import began takes the file's; one already worked in
        Referloop only moves forward). True when something changed."""
        relationship, changed = self.relationships[organization.pk], False
        if owner is not None and relationship.owner_id is None:
            relationship = relationship_update(relationship=relationship, actor=None, owner=owner)
            changed = True
        if last_activity and (
            relationship.last_contact_at is None or last_activity > relationship.last_contact_at
        ):
            relationship = relationship_contact_seen(relationship=relationship, at=last_activity)
            changed = True
        if stage and self._stage_moves(relationship, stage):
            relationship = relationship_stage_move(
                relationship=relationship,
                actor=None,
                stage=stage,
                reason="unqualified in HubSpot" if stage == Stage.NOT_A_FIT else "",
                note="HubSpot import",
            )
            changed = True
        self.relationships[organization.pk] = relationship
        return changed

    def _stage_moves(self, relationship: Relationship, stage: str) -> bool:
        if relationship.stage == stage:
            return False
        if relationship.organization_id in self.started:
            return True
        worked = (relationship.stage, stage)
        return all(s in ACTIVE_STAGES for s in worked) and (
            ACTIVE_STAGES.index(stage) > ACTIVE_STAGES.index(relationship.stage)
        )

    # --- the links -------------------------------------------------------------------------

    def _link_save(self, link, object_type: str, hubspot_id: str, **values) -> bool:
        """The link row with `values` (its target and what Referloop has no field for)."""
        if link is None:
            link = HubspotLink.objects.create(
                agency=self.agency, object_type=object_type, hubspot_id=hubspot_id, **values
            )
            self.links[(object_type, hubspot_id)] = link
            return True
        changed = [name for name, value in values.items() if getattr(link, name) != value]
        if changed:
            for name in changed:
                setattr(link, name, values[name])
            link.updated_at = timezone.now()
            link.save(update_fields=[*changed, "updated_at"])
        return bool(changed)

    # --- the rows --------------------------------------------------------------------------

    def _company(self, row: CompanyRow) -> str:
        link = self.links.get((HubspotObject.COMPANY, row.hubspot_id))
        organization = link.organization if link else self.organizations.get(name_key(row.name))
        if organization is None:
            organization = self._organization_create(row.name, website=row.website, phone=row.phone)
        self._relationship(organization)
        linked = self._link_save(
            link,
            HubspotObject.COMPANY,
            row.hubspot_id,
            organization=organization,
            associations=row.associations,
            extra=row.extra,
        )
        related = self._relationship_apply(
            organization, owner=row.owner, last_activity=row.last_activity, stage=row.stage
        )
        return _outcome(link, linked or related)

    def _contact(self, row: ContactRow, stage: str) -> str:
        organization = self._organization(row)
        relationship = self._relationship(organization)
        link = self.links.get((HubspotObject.CONTACT, row.hubspot_id))
        contact = (
            link.contact if link else self.people.get(row.email.lower()) if row.email else None
        )
        if contact is None:
            contact = partner_contact_create(
                agency=self.agency,
                actor=None,
                name=row.name,
                organization=organization,
                title=row.title,
                email=row.email,
                other_emails=row.other_emails,
                phones=row.phones,
            )
            changed = True
        else:
            self.tally["people"] += link is None
            changed = self._person_update(contact, row, organization)
            changed |= self._key_contact(relationship, contact)
        changed |= self._link_save(
            link,
            HubspotObject.CONTACT,
            row.hubspot_id,
            contact=contact,
            first_name=row.first_name,
            last_name=row.last_name,
            associations=row.associations,
            extra=row.extra,
        )
        changed |= self._relationship_apply(
            organization, owner=row.owner, last_activity=row.last_activity, stage=stage
        )
        return _outcome(link, changed)

    def _person_update(self, contact: Contact, row: ContactRow, organization) -> bool:
        """The person as the row has them (through the services): True when they changed."""
        changed = False
        if _person(contact) != _person_of(row):
            partner_contact_update(
                agency=self.agency,
                actor=None,
                contact=contact,
                name=row.name,
                title=row.title,
                email=row.email,
                other_emails=row.other_emails,
                phones=row.phones,
            )
            changed = True
        if contact.organization_id != organization.pk:
            contact_move(
                agency=self.agency,
                actor=None,
                contact=contact,
                organization=organization,
                title=row.title,
            )
            changed = True
        return changed

    def _key_contact(self, relationship: Relationship, contact: Contact) -> bool:
        if KeyContact.objects.filter(relationship=relationship, contact=contact).exists():
            return False
        key_contact_ensure(relationship=relationship, contact=contact)
        return True


def _outcome(link, changed: bool) -> str:
    if link is None:
        return CREATED
    return UPDATED if changed else UNCHANGED


def _addresses(email: str, others) -> list[str]:
    """The further addresses as the services store them: without the main one or repeats."""
    kept: list[str] = []
    for address in others:
        if address.lower() != email.lower() and address.lower() not in map(str.lower, kept):
            kept.append(address)
    return kept


def _person(contact: Contact) -> tuple:
    phones = frozenset(contact.phones.values_list("number", flat=True))
    others = _addresses(contact.email, contact.other_emails)
    return (contact.name, contact.title, contact.email, others, phones)


def _person_of(row: ContactRow) -> tuple:
    others = _addresses(row.email, row.other_emails)
    return (row.name, row.title, row.email, others, frozenset(row.phones))


def hubspot_import(
    *,
    path,
    agency,
    kind: str | None = None,
    mapping_path=None,
    partial: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> HubspotReport:
    """Imports a HubSpot contacts or companies export into `agency` (see the package docstring):
    every row is checked, then written all or nothing, or with `partial` the valid ones;
    `dry_run` checks and writes everything, then changes nothing."""
    report = HubspotReport(source=Path(path).name, partial=partial, dry_run=dry_run)
    try:
        columns = {**COLUMNS[COMPANIES], **COLUMNS[CONTACTS]}
        mapping = mapping_read(mapping_path, columns) if mapping_path else None
        checked = hubspot_check(
            path,
            agency=agency,
            kind=kind,
            mapping=mapping,
            problems=report.problems,
            progress=progress,
        )
    except InputError as exc:
        report.problems.append(exc.problem)
        return report
    report.read = checked.read
    report.notes.append(
        f"Read as a HubSpot {checked.kind} export"
        + (" (--kind)" if kind else " (detected from the header)")
    )
    with import_transaction(report):
        if report.ok or partial:  # else nothing is written, and the report says so
            HubspotWrite(agency=agency, report=report, progress=progress).write(checked)
            audit_record(
                action="import",
                agency=agency,
                object_type="partners.hubspot",
                object_id=report.source[:64],
                detail={"file": report.source, "kind": checked.kind, "partial": partial}
                | report.count(checked.kind).as_dict(),
            )
    return report
