"""Reads for partner relationships: the worklist source, the partner list with reciprocity, the
partner page, the board and likely duplicate people. Due times and silence are read from stored,
indexed columns; referral counts are aggregated in SQL by the referrals app."""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from difflib import SequenceMatcher
from functools import partial

from django.db.models import Prefetch, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from referloop.core.due import DueItem, DueRows
from referloop.core.models import Membership
from referloop.directory.models import Contact, Organization, ServiceCapacity, Status
from referloop.directory.selectors import capacity_is_stale
from referloop.partners.cadence import is_at_risk, silent_days, touch_days
from referloop.partners.models import (
    ACTIVE_STAGES,
    ESTABLISHED_STAGES,
    DueReason,
    Interaction,
    InteractionKind,
    KeyContact,
    KeyContactDue,
    Material,
    Position,
    Relationship,
    Stage,
    Tier,
)
from referloop.referrals import selectors as referral_selectors

RECIPROCITY_MONTHS = 12


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def at_risk_filter(policy, now: datetime) -> Q:
    """Worked relationships silent for longer than the policy allows (indexed last contact)."""
    cutoff = now - timedelta(days=policy.partner_max_silence_days)
    silent = Q(last_contact_at__lt=cutoff) | Q(last_contact_at__isnull=True, created_at__lt=cutoff)
    return Q(stage__in=ACTIVE_STAGES) & silent


def health_line(relationship: Relationship, policy, now: datetime) -> str:
    """ "on cadence" / "16 days since last contact" / "at risk: 95 days silent" (UX.md)."""
    if relationship.stage not in ACTIVE_STAGES:
        return relationship.get_stage_display()
    days = silent_days(relationship, now)
    if is_at_risk(relationship, policy, now):
        return f"at risk: {_days(days)} silent"
    if days > touch_days(policy, relationship.effective_tier):
        return f"{_days(days)} since last contact"
    return "on cadence"


def due_text(relationship: Relationship, now: datetime) -> str:
    """Why the relationship is due, in the worklist's plain words."""
    name = relationship.organization.name
    reason = relationship.due_reason
    if reason == DueReason.FACE_TO_FACE:
        return f"monthly face-to-face with {name} due"
    if reason == DueReason.STATUS_UPDATE:
        about = f" ({relationship.update_owed_about})" if relationship.update_owed_about else ""
        return f"send {name} a status update{about}"
    if reason == DueReason.NEXT_STEP:
        return f"next step with {name}: {relationship.next_step or 'as planned'}"
    if relationship.last_contact_at is None:
        return f"reach out to {name} — no contact logged yet"
    return f"call {name} — {_days(silent_days(relationship, now))} since last contact"


_ACTIONS = {
    DueReason.FACE_TO_FACE: "Log meeting",
    DueReason.STATUS_UPDATE: "Log update",
    DueReason.NEXT_STEP: "Log contact",
    DueReason.TOUCH: "Log call",
}


def _relationship_item(relationship: Relationship, *, now: datetime, urls) -> DueItem:
    detail, inline = urls(relationship.pk)
    return DueItem(
        key=f"partner:{relationship.pk}",
        kind="partner_touch"
        if relationship.due_reason != DueReason.STATUS_UPDATE
        else "update_owed",
        kind_label="Update owed to a source"
        if relationship.due_reason == DueReason.STATUS_UPDATE
        else "Partner touch",
        subject=relationship.organization.name,
        reason=due_text(relationship, now),
        due_at=relationship.next_due_at,
        action_label=_ACTIONS.get(relationship.due_reason, "Log call"),
        action_url=detail,
        owner_id=relationship.owner_id,
        inline_url=inline,
    )


def _key_contact_item(key: KeyContact, *, urls) -> DueItem:
    detail, _ = urls(key.relationship_id)
    person = key.contact.name or key.contact.email
    organization = key.relationship.organization.name
    if key.due_reason == KeyContactDue.WELCOME_PACKET:
        reason = f"send the welcome packet to {person} ({organization}, {key.due_note})"
        action = "Send packet"
    else:
        reason = f"re-establish the relationship: {person} {key.due_note}, now at {organization}"
        action = "Log contact"
    return DueItem(
        key=f"partner-person:{key.pk}",
        kind=key.due_reason,
        kind_label=KeyContactDue(key.due_reason).label,
        subject=person,
        reason=reason,
        due_at=key.next_due_at,
        action_label=action,
        action_url=detail,
        owner_id=key.relationship.owner_id,
    )


def _urls():
    detail = reverse("partners:detail", args=[0])[:-2]
    inline = reverse("partners:log_form", args=[0])
    inline_prefix, inline_suffix = inline.split("/0/")
    return lambda pk: (f"{detail}{pk}/", f"{inline_prefix}/{pk}/{inline_suffix}")


def due_rows(*, agency, member: Membership | None, until: datetime) -> list[DueRows]:
    """The partners worklist source: relationships whose stored next due time is at or before
    `until`, and people owed a welcome packet or a re-established relationship. A member sees
    the partners they own; partners nobody owns are the whole agency's (member None)."""
    if member is not None and member.agency_id != agency.pk:
        return []
    now = timezone.now()
    relationships = Relationship.objects.filter(agency=agency, next_due_at__lte=until)
    keys = KeyContact.objects.filter(agency=agency, next_due_at__lte=until)
    if member is not None:
        relationships = relationships.filter(owner=member.user_id)
        keys = keys.filter(relationship__owner=member.user_id)
    relationships = (
        relationships.select_related("organization")
        .only(
            "pk",
            "owner_id",
            "stage",
            "tier",
            "is_top_referrer",
            "last_contact_at",
            "created_at",
            "next_due_at",
            "due_reason",
            "update_owed_about",
            "next_step",
            "organization__name",
        )
        .order_by("next_due_at", "pk")
    )
    keys = (
        keys.select_related("contact", "relationship", "relationship__organization")
        .only(
            "pk",
            "next_due_at",
            "due_reason",
            "due_note",
            "relationship_id",
            "relationship__owner_id",
            "relationship__organization__name",
            "contact__name",
            "contact__email",
        )
        .order_by("next_due_at", "pk")
    )
    urls = _urls()
    return [
        DueRows(relationships, partial(_relationship_item, now=now, urls=urls)),
        DueRows(keys, partial(_key_contact_item, urls=urls)),
    ]


# --- the partner list -------------------------------------------------------------------------

SORTS = {
    "name": "organization name",
    "last_contact": "last contact, longest silence first",
    "-last_contact": "last contact, most recent first",
    "next_due": "next due",
    "received": "referrals received",
    "sent": "referrals sent",
    "balance": "received minus sent",
}


@dataclass
class PartnerRow:
    relationship: Relationship
    received: int = 0
    sent: int = 0
    health: str = ""
    at_risk: bool = False

    @property
    def balance(self) -> int:
        return self.received - self.sent


def relationship_list(
    *,
    agency,
    stage: str = "",
    tier: str = "",
    owner_id: int | None = None,
    at_risk: bool = False,
    due: bool = False,
    text: str = "",
    sort: str = "last_contact",
    months: int = RECIPROCITY_MONTHS,
) -> list[PartnerRow]:
    """The agency's partners, filtered on indexed columns, each with the referrals received from
    and sent to it over the last `months` (two grouped counts for the whole list)."""
    now = timezone.now()
    policy = agency.policies
    rows = Relationship.objects.for_agency(agency).select_related("organization", "owner")
    if stage:
        rows = rows.filter(stage=stage)
    if tier == Tier.PRIMARY:
        rows = rows.filter(Q(tier=Tier.PRIMARY) | Q(is_top_referrer=True))
    elif tier:
        rows = rows.filter(tier=tier, is_top_referrer=False)
    if owner_id:
        rows = rows.filter(owner_id=owner_id)
    if at_risk:
        rows = rows.filter(at_risk_filter(policy, now))
    if due:
        rows = rows.filter(next_due_at__lte=now)
    if text:
        rows = rows.filter(organization__name__icontains=text)
    counts = referral_selectors.partner_referral_counts(
        agency=agency, since=now - timedelta(days=round(30.44 * months))
    )
    listed = []
    for relationship in rows:
        relationship.agency = agency
        count = counts.get(relationship.organization_id, {})
        listed.append(
            PartnerRow(
                relationship,
                received=count.get("received", 0),
                sent=count.get("sent", 0),
                health=health_line(relationship, policy, now),
                at_risk=is_at_risk(relationship, policy, now),
            )
        )
    return sorted(listed, key=relationship_sort_key(sort))


PARTNER_SHEET_HEADERS = [
    "partner",
    "stage",
    "tier",
    "top_referrer_computed",
    "owner",
    "last_contact",
    "last_face_to_face",
    "next_due",
    "due_reason",
    "received_12_months",
    "sent_12_months",
    "health",
    "next_step",
]


def partner_sheet_rows(rows: list[PartnerRow], zone) -> list[list]:
    """The partner list as spreadsheet rows (PARTNER_SHEET_HEADERS), dates in the agency's zone."""

    def day(moment):
        return timezone.localdate(moment, zone) if moment else None

    return [
        [
            r.organization.name,
            r.get_stage_display(),
            "Primary" if r.is_top_referrer else r.get_tier_display(),
            "yes" if r.is_top_referrer else "no",
            str(r.owner) if r.owner_id else "",
            day(r.last_contact_at),
            day(r.last_face_to_face_at),
            day(r.next_due_at),
            r.get_due_reason_display(),
            row.received,
            row.sent,
            row.health,
            r.next_step,
        ]
        for row in rows
        for r in [row.relationship]
    ]


# Instead of a missing time: first among the last contacts, last among the due times.
_NEVER = datetime(1900, 1, 1, tzinfo=UTC)
_NOT_DUE = datetime(9999, 1, 1, tzinfo=UTC)


def relationship_sort_key(sort: str):
    """The partner list's order (SORTS), the relationship's id breaking ties: the same key for
    the same row on every request, so the API's pages continue where the last one stopped."""
    name = lambda row: row.relationship.organization.name.lower()  # noqa: E731
    last = lambda row: row.relationship.last_contact_at or _NEVER  # noqa: E731
    keys = {
        "name": lambda row: (name(row),),
        "last_contact": lambda row: (last(row), name(row)),
        "-last_contact": lambda row: (-last(row).timestamp(), name(row)),
        "next_due": lambda row: (row.relationship.next_due_at or _NOT_DUE, name(row)),
        "received": lambda row: (-row.received, name(row)),
        "sent": lambda row: (-row.sent, name(row)),
        "balance": lambda row: (-row.balance, name(row)),
    }
    key = keys.get(sort, keys["last_contact"])
    return lambda row: (*key(row), row.relationship.pk)


def board(*, agency) -> list[tuple[str, str, list[Relationship]]]:
    """The relationship board: a column per stage, in seed 002's order, then dormant, not a fit."""
    columns = {stage: [] for stage in Stage.values}
    rows = (
        Relationship.objects.for_agency(agency)
        .select_related("organization", "owner")
        .only(
            "pk",
            "stage",
            "tier",
            "is_top_referrer",
            "next_due_at",
            "due_reason",
            "stage_reason",
            "organization__name",
            "owner__full_name",
            "owner__email",
        )
        .order_by("next_due_at", "organization__name")
    )
    for relationship in rows:
        columns[relationship.stage].append(relationship)
    return [(stage, Stage(stage).label, columns[stage]) for stage in Stage.values]


# --- the partner page ---------------------------------------------------------------------------


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # interaction, referral, stage, meeting
    item: object


@dataclass
class PartnerPage:
    relationship: Relationship
    people: list[KeyContact]
    former_people: list[Contact]
    timeline: list[TimelineEntry]
    months: list[tuple[str, int, int]]  # (YYYY-MM, received, sent), oldest first
    received: int
    sent: int
    health: str
    at_risk: bool
    interactions_total: int
    extra: dict = field(default_factory=dict)


def _month_keys(now: datetime, months: int) -> list[str]:
    year, month = now.year, now.month
    keys = []
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return keys[::-1]


def partner_page(*, relationship: Relationship, timeline_limit: int = 50) -> PartnerPage:
    agency = relationship.agency
    now = timezone.now()
    positions = Prefetch(
        "contact__positions",
        queryset=Position.objects.select_related("organization").order_by("-started_on", "-pk"),
    )
    people = list(
        relationship.key_contacts.select_related("contact")
        .prefetch_related("contact__phones", positions)
        .order_by("contact__name", "pk")
    )
    # People who worked here once (their position at this organization has ended).
    former_ids = (
        Position.objects.filter(
            organization_id=relationship.organization_id, ended_on__isnull=False
        )
        .exclude(contact_id__in=[key.contact_id for key in people])
        .values_list("contact_id", flat=True)
    )
    former_people = list(
        Contact.objects.filter(pk__in=list(former_ids)[:50]).select_related("organization")
    )
    interactions = list(
        Interaction.objects.filter(relationship=relationship)
        .select_related("owner", "material", "referral")
        .prefetch_related("people")
        .order_by("-occurred_at", "-pk")[:timeline_limit]
    )
    referrals = referral_selectors.partner_referrals(
        agency=agency, organization=relationship.organization, limit=timeline_limit
    )
    stage_changes = list(relationship.stage_changes.select_related("actor")[:timeline_limit])
    meetings = list(relationship.meetings.order_by("-starts_at")[:timeline_limit])
    timeline = sorted(
        [
            *(TimelineEntry(item.occurred_at, "interaction", item) for item in interactions),
            *(TimelineEntry(item.created_at, "referral", item) for item in referrals),
            *(TimelineEntry(item.at, "stage", item) for item in stage_changes),
            *(TimelineEntry(item.starts_at, "meeting", item) for item in meetings),
        ],
        key=lambda entry: entry.at,
        reverse=True,
    )[:timeline_limit]
    keys = _month_keys(timezone.localtime(now), RECIPROCITY_MONTHS)
    since = now - timedelta(days=round(30.44 * RECIPROCITY_MONTHS))
    monthly = referral_selectors.partner_referral_months(
        agency=agency, organization=relationship.organization, since=since
    )
    months = [
        (key, monthly.get(key, {}).get("received", 0), monthly.get(key, {}).get("sent", 0))
        for key in keys
    ]
    policy = agency.policies
    return PartnerPage(
        relationship=relationship,
        people=people,
        former_people=former_people,
        timeline=timeline,
        months=months,
        received=sum(received for _, received, _ in months),
        sent=sum(sent for _, _, sent in months),
        health=health_line(relationship, policy, now),
        at_risk=is_at_risk(relationship, policy, now),
        interactions_total=Interaction.objects.filter(relationship=relationship).count(),
    )


# --- people -------------------------------------------------------------------------------------


def referral_partner(*, agency, referral) -> Relationship | None:
    """The relationship a referral is about: with the organization it was sent to, or with the
    one that sent it (the organization its sending agency runs). Unsaved when the agency has no
    relationship with that organization yet; None when the sender has no directory listing."""
    if referral.agency_id == agency.pk:
        organization = referral.organization
    else:
        organization = (
            Organization.objects.filter(network_id=agency.network_id, agency_id=referral.agency_id)
            .order_by("pk")
            .first()
        )
        if organization is None:
            return None
    relationship = (
        Relationship.objects.for_agency(agency)
        .filter(organization=organization)
        .select_related("agency", "organization")
        .first()
    )
    return relationship or Relationship(agency=agency, organization=organization)


def _name_key(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return " ".join(re.findall(r"[a-z0-9]+", plain))


def names_similar(first: str, second: str) -> bool:
    """ "Jon Smith" ~ "John Smith", "Smith, Jane" ~ "Jane Smith": likely the same person."""
    a, b = _name_key(first), _name_key(second)
    if not a or not b:
        return False
    if sorted(a.split()) == sorted(b.split()):
        return True
    return SequenceMatcher(None, a, b).ratio() >= 0.85


@dataclass(frozen=True)
class DuplicatePair:
    keep: Contact
    duplicate: Contact
    reason: str


def contact_duplicates(*, agency, limit: int = 100) -> list[DuplicatePair]:
    """Likely duplicate people among the agency's partner contacts: the same e-mail address
    anywhere in the network, or similar names at the same organization. The older record is
    proposed as the one to keep."""
    mine = Contact.objects.filter(
        network_id=agency.network_id,
        pk__in=KeyContact.objects.for_agency(agency).values("contact_id"),
    )
    emails = {
        email
        for email in mine.exclude(email="")
        .annotate(key=Lower("email"))
        .values_list("key", flat=True)
    }
    pairs: dict[tuple[int, int], DuplicatePair] = {}

    def add(first: Contact, second: Contact, reason: str) -> None:
        keep, duplicate = sorted((first, second), key=lambda contact: contact.pk)
        pairs.setdefault((keep.pk, duplicate.pk), DuplicatePair(keep, duplicate, reason))

    same_email = (
        Contact.objects.filter(network_id=agency.network_id)
        .annotate(key=Lower("email"))
        .filter(key__in=emails)
        .select_related("organization")
        .order_by("key", "pk")
    )
    by_email: dict[str, list[Contact]] = {}
    for contact in same_email:
        by_email.setdefault(contact.key, []).append(contact)
    for email, group in by_email.items():
        for other in group[1:]:
            add(group[0], other, f"same e-mail address ({email})")
    by_organization: dict[int, list[Contact]] = {}
    colleagues = (
        Contact.objects.filter(
            network_id=agency.network_id,
            organization_id__in=mine.exclude(organization=None).values("organization_id"),
        )
        .select_related("organization")
        .order_by("organization_id", "pk")
    )
    for contact in colleagues:
        by_organization.setdefault(contact.organization_id, []).append(contact)
    for group in by_organization.values():
        for index, first in enumerate(group):
            for second in group[index + 1 :]:
                if names_similar(first.name, second.name):
                    add(first, second, f"similar names at {first.organization.name}")
    return sorted(pairs.values(), key=lambda pair: (pair.keep.name.lower(), pair.duplicate.pk))[
        :limit
    ]


def partner_people(*, agency, text: str = "") -> list[KeyContact]:
    """The agency's partner people, with their organization."""
    rows = KeyContact.objects.for_agency(agency).select_related(
        "contact", "contact__organization", "relationship", "relationship__organization"
    )
    if text:
        rows = rows.filter(Q(contact__name__icontains=text) | Q(contact__email__icontains=text))
    return list(rows.order_by("contact__name", "pk"))


# --- print materials --------------------------------------------------------------------------


def agency_materials(*, agency):
    return Material.objects.for_agency(agency).order_by("-is_active", "name", "pk")


def print_media_sent(*, agency):
    """What went to whom and when: the agency's print-media interactions, newest first, with
    the material, the partner and the people."""
    return (
        Interaction.objects.for_agency(agency)
        .filter(kind=InteractionKind.PRINT_MEDIA)
        .select_related("material", "relationship__organization", "owner")
        .prefetch_related(Prefetch("people", queryset=Contact.objects.order_by("name", "pk")))
        .order_by("-occurred_at", "-id")
    )


# --- the monthly availability e-mail ----------------------------------------------------------


def established_contacts(*, agency):
    """The key contacts of the agency's established relationships: who may get the e-mail."""
    return (
        KeyContact.objects.for_agency(agency)
        .filter(relationship__stage__in=ESTABLISHED_STAGES)
        .select_related("contact", "relationship__organization")
        .order_by("relationship__organization__name", "contact__name", "pk")
    )


def availability_recipients(*, agency):
    """Who gets this month's e-mail: opted in, not unsubscribed, with an address, in an
    established relationship."""
    return (
        established_contacts(agency=agency)
        .filter(availability_opt_in=True, unsubscribed_at__isnull=True)
        .exclude(contact__email="")
    )


@dataclass(frozen=True, slots=True)
class Availability:
    """One count the e-mail lists: a service's unit (or named kind of it)."""

    service_name: str
    unit: str  # "beds"
    name: str  # "Men's beds", or "" for the unit alone
    label: str  # what is counted, as the e-mail says it
    available: int
    maximum: int | None
    waitlist: bool
    as_of: datetime
    stale: bool


def agency_availability(*, agency, now: datetime | None = None) -> list[Availability]:
    """The current capacity of the agency's own active services, by service and unit; counts
    older than the agency's capacity_stale_days are marked stale."""
    now = now or timezone.now()
    days = agency.policies.capacity_stale_days
    capacities = (
        ServiceCapacity.objects.filter(service__agency=agency, service__status=Status.ACTIVE)
        .select_related("service")
        .order_by("service__name", "service_id", "unit", "name")
    )
    return [
        Availability(
            service_name=capacity.service.name,
            unit=capacity.get_unit_display(),
            name=capacity.name,
            label=capacity.label,
            available=capacity.available,
            maximum=capacity.maximum,
            waitlist=capacity.waitlist,
            as_of=capacity.updated_at,
            stale=capacity_is_stale(updated_at=capacity.updated_at, days=days, now=now),
        )
        for capacity in capacities
    ]


def cadence_compliance(*, agency, since: datetime, until: datetime) -> dict[int, float]:
    """Per partner organization with a worked relationship: the share (in %) of the time from
    `since` to `until` (or since the relationship began) when its last contact was within the
    cadence of its tier (seed 000: any contact every N days). A contact at t keeps the cadence
    until t + N days; the shares are those intervals' union over the window.

    One query for the relationships and one for their contacts in the window (contacts, not
    referrals: a few per partner a month); the tier is the relationship's current one."""
    policy = agency.policies
    relationships = list(
        Relationship.objects.filter(agency=agency, stage__in=ACTIVE_STAGES).only(
            "pk", "organization_id", "tier", "is_top_referrer", "created_at"
        )
    )
    longest = max((touch_days(policy, tier) for tier in Tier.values), default=0)
    contacts: dict[int, list[datetime]] = {}
    for relationship_id, at in (
        Interaction.objects.filter(
            agency=agency,
            relationship__in=[r.pk for r in relationships],
            occurred_at__gte=since - timedelta(days=longest),
            occurred_at__lt=until,
        )
        .order_by("relationship_id", "occurred_at")
        .values_list("relationship_id", "occurred_at")
    ):
        contacts.setdefault(relationship_id, []).append(at)
    shares = {}
    for relationship in relationships:
        starts = max(since, relationship.created_at)
        if starts >= until:
            continue
        keeps = timedelta(days=touch_days(policy, relationship.effective_tier))
        covered, reached = timedelta(0), starts
        for at in contacts.get(relationship.pk, []):
            ends = min(at + keeps, until)
            if ends > reached:
                covered += ends - max(at, reached)
                reached = ends
        shares[relationship.organization_id] = round(100 * covered / (until - starts), 1)
    return shares
