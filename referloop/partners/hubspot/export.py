"""The HubSpot export out: the agency's linked contacts or companies in HubSpot's columns (the
import's, so an exported file imports again as "unchanged"), with what Referloop keeps for
HubSpot written back, as CSV in UTF-8 with formula-safe cells."""

import csv
from pathlib import Path

from django.utils import timezone

from referloop.core.audit import audit_record
from referloop.core.imports.columns import header_key
from referloop.core.spreadsheets import formula_safe
from referloop.core.timeutils import agency_zone
from referloop.directory.models import Phone
from referloop.partners.hubspot.columns import (
    COLUMNS,
    CONTACTS,
    HEADERS,
    KEPT,
    LEAD_STATUS_OF,
    LIFECYCLE_OF,
    MULTI_VALUE_SEPARATOR,
)
from referloop.partners.models import HubspotLink, HubspotObject, Relationship

DATE_FORMAT = "%Y-%m-%d %H:%M"  # how HubSpot writes its dates


def _cell(value: str) -> str:
    """Formula-safe, except our own E.164 numbers: digits after a "+" run nothing, and HubSpot
    must read them as the numbers they are."""
    if value.startswith("+") and value[1:].isdigit():
        return value
    return formula_safe(value)


class Export:
    """One kind's rows, read in a few queries whatever their number."""

    def __init__(self, agency, kind: str):
        self.agency, self.kind, self.zone = agency, kind, agency_zone(agency)
        object_type = HubspotObject.CONTACT if kind == CONTACTS else HubspotObject.COMPANY
        self.links = list(
            HubspotLink.objects.for_agency(agency)
            .filter(object_type=object_type)
            .select_related("contact__organization", "organization")
            .order_by("pk")
        )
        self.relationships = {
            relationship.organization_id: relationship
            for relationship in Relationship.objects.for_agency(agency).select_related("owner")
        }
        self.company_ids: dict[int, str] = {}
        companies = HubspotLink.objects.for_agency(agency).filter(object_type="company")
        for organization_id, hubspot_id in companies.order_by("pk").values_list(
            "organization_id", "hubspot_id"
        ):
            self.company_ids.setdefault(organization_id, hubspot_id)
        self.phones = self._phones()

    def _phones(self) -> dict[tuple[str, int], list[str]]:
        """Each person's and each organization's own numbers, in the order they were added."""
        if self.kind == CONTACTS:
            rows = Phone.objects.filter(contact__in=[link.contact_id for link in self.links])
            pairs = rows.order_by("pk").values_list("contact_id", "number")
            owner = "contact"
        else:
            rows = Phone.objects.filter(
                organization__in=[link.organization_id for link in self.links],
                contact__isnull=True,
                service__isnull=True,
                location__isnull=True,
            )
            pairs = rows.order_by("pk").values_list("organization_id", "number")
            owner = "organization"
        phones: dict[tuple[str, int], list[str]] = {}
        for pk, number in pairs:
            phones.setdefault((owner, pk), []).append(number)
        return phones

    def header(self) -> list[str]:
        """HubSpot's columns, then the files' other columns kept on the links (first seen first)."""
        known = {header_key(text) for text in HEADERS[self.kind]}
        header = list(HEADERS[self.kind])
        for link in self.links:
            for name, _ in link.extra:
                if header_key(name) not in known:
                    known.add(header_key(name))
                    header.append(name)
        return header

    def rows(self, header: list[str]):
        for link in self.links:
            values = self._contact(link) if self.kind == CONTACTS else self._company(link)
            cells = {COLUMNS[self.kind][name].header: value for name, value in values.items()}
            extra = {header_key(name): value for name, value in link.extra}
            yield [
                _cell(cells[name] if name in cells else extra.get(header_key(name), ""))
                for name in header
            ]

    def _relationship(self, organization_id) -> dict[str, str]:
        relationship = self.relationships.get(organization_id)
        if relationship is None:
            return {}
        last = relationship.last_contact_at
        return {
            "owner": relationship.owner.email if relationship.owner else "",
            "last_activity": timezone.localtime(last, self.zone).strftime(DATE_FORMAT)
            if last
            else "",
            "lead_status": LEAD_STATUS_OF[relationship.stage],
            "lifecycle": LIFECYCLE_OF[relationship.stage],
        }

    def _contact(self, link: HubspotLink) -> dict[str, str]:
        contact = link.contact
        organization = contact.organization
        phones = self.phones.get(("contact", contact.pk), [])
        first, last = _name_parts(link)
        return {name: "" for name in COLUMNS[CONTACTS] if name not in KEPT[CONTACTS]} | {
            "record_id": link.hubspot_id,
            "first_name": first,
            "last_name": last,
            "email": contact.email,
            "phone": phones[0] if phones else "",
            "mobile": phones[1] if len(phones) > 1 else "",
            "company_id": self.company_ids.get(contact.organization_id, ""),
            "company": organization.name if organization else "",
            "company_name": organization.name if organization else "",
            "title": contact.title,
            "other_emails": f"{MULTI_VALUE_SEPARATOR} ".join(contact.other_emails),
            "company_ids": MULTI_VALUE_SEPARATOR.join(link.associations),
            **self._relationship(contact.organization_id),
        }

    def _company(self, link: HubspotLink) -> dict[str, str]:
        organization = link.organization
        phones = self.phones.get(("organization", organization.pk), [])
        return {name: "" for name in COLUMNS[self.kind] if name not in KEPT[self.kind]} | {
            "record_id": link.hubspot_id,
            "name": organization.name,
            "phone": phones[0] if phones else "",
            "domain": _domain(organization.website),
            "contact_ids": MULTI_VALUE_SEPARATOR.join(link.associations),
            **self._relationship(organization.pk),
        }


def _name_parts(link: HubspotLink) -> tuple[str, str]:
    """HubSpot's first and last name as imported while they still make the person's name (a
    name corrected in Referloop is split at its first space)."""
    contact = link.contact
    imported = " ".join(part for part in (link.first_name, link.last_name) if part)
    if (imported or contact.email) == contact.name:
        return link.first_name, link.last_name
    first, _, last = contact.name.partition(" ")
    return first, last


def _domain(website: str) -> str:
    """HubSpot's domain name: the address without its scheme or a trailing slash."""
    return website.split("://", 1)[-1].rstrip("/")


def hubspot_write(path: str | Path, *, agency, kind: str) -> int:
    """Writes the agency's linked contacts or companies to `path`; returns the number of rows."""
    export = Export(agency, kind)
    header = export.header()
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)  # as HubSpot quotes its exports
        writer.writerow(header)
        for row in export.rows(header):
            writer.writerow(row)
            count += 1
    audit_record(
        action="export",
        agency=agency,
        object_type="partners.hubspot",
        object_id=Path(path).name[:64],
        detail={"file": Path(path).name, "kind": kind, "rows": count},
    )
    return count
