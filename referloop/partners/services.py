"""Writes for partner relationships: people and their positions, relationships and their stage
and tier, interactions, print materials, the monthly availability e-mail. Each write validates,
saves with `update_fields`, and recomputes the relationship's stored next due time
(`cadence.relationship_next_due`)."""

import re
from datetime import date, datetime, timedelta
from itertools import groupby

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from email_validator import EmailNotValidError, validate_email

from referloop.core.audit import audit_record
from referloop.core.errors import DomainError, clean_text
from referloop.core.models import Membership, OutboundEmail
from referloop.core.outbox import outbox_cancel, outbox_enqueue
from referloop.core.timeutils import agency_today
from referloop.directory.models import Contact, Organization, Phone
from referloop.partners import selectors
from referloop.partners.availability_email import availability_email_render
from referloop.partners.cadence import relationship_next_due
from referloop.partners.models import (
    FACE_TO_FACE_KINDS,
    Interaction,
    InteractionKind,
    KeyContact,
    KeyContactDue,
    Material,
    MaterialKind,
    Position,
    Relationship,
    Stage,
    StageChange,
    Tier,
)
from referloop.partners.unsubscribe import unsubscribe_token_issue, unsubscribe_url
from referloop.referrals import selectors as referral_selectors
from referloop.referrals.models import Status

DUE_FIELDS = ("next_due_at", "due_reason")
WELCOME_PACKET_WITHIN = timedelta(days=2)
# Status changes a referral source should hear about from the receiver (seed 000).
NEWS_STATUSES = frozenset(
    {Status.ACCEPTED, Status.REJECTED, Status.IN_PROGRESS, Status.ON_HOLD, Status.COMPLETED}
    | {Status.FAILED}
)


# --- input checks -----------------------------------------------------------------------------


def email_normalized(value: str, *, field: str = "email") -> str:
    """An e-mail address as we store it (domain lower-cased, Unicode normalized), or an error
    naming the field and what is wrong with the address."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise DomainError(f"'{value}' is not an e-mail address: {exc}", field=field) from None


def phone_e164(value: str, *, field: str = "phone", region: str = "US") -> str:
    """A phone number in E.164 (+15555550123); national numbers are read in `region`."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise DomainError(f"'{value}' is not a phone number.", field=field) from None
    if not phonenumbers.is_valid_number(number):
        raise DomainError(
            f"'{value}' is not a valid phone number (check the area code and length).",
            field=field,
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _emails(values, *, field: str) -> list[str]:
    seen: list[str] = []
    for value in values or ():
        normalized = email_normalized(value, field=field)
        if normalized and normalized.lower() not in {known.lower() for known in seen}:
            seen.append(normalized)
    return seen


def _network_organization(agency, organization) -> Organization:
    """The organization, if it is in the agency's network directory."""
    if isinstance(organization, int | str):
        found = Organization.objects.filter(network_id=agency.network_id, pk=organization).first()
    else:
        found = organization if organization.network_id == agency.network_id else None
    if found is None:
        raise DomainError(
            "That organization is not in your network's directory: add it to the directory "
            "first, then choose it.",
            field="organization",
        )
    return found


def _owner(agency, owner):
    if owner is None:
        return None
    if not Membership.objects.filter(agency=agency, user=owner, is_active=True).exists():
        raise DomainError("The owner must be an active member of your agency.", field="owner")
    return owner


# Seed 004's referral "incentive" programs pay per referral: in health care and recovery housing
# that is patient brokering (EKRA, 18 U.S.C. § 220; the Anti-Kickback Statute, 42 U.S.C.
# § 1320a-7b(b)). What reads as a payment or reward tied to referrals is refused.
_REMUNERATION = re.compile(
    r"\bkick-?backs?\b"
    r"|\b(?:referral|client|patient|resident|placement|admission)s?[ -]"
    r"(?:bonus|bonuses|fees?|incentives?|rewards?|payments?|commissions?|bount(?:y|ies))\b"
    r"|(?:\$|\bcash\b|\bgift ?cards?\b|\bpa(?:y|id|ying)\b|\brewards?\b|\bbonus\b|\bcommissions?\b"
    r"|\bfees?\b|\bfree (?:rent|week|month)s?\b|\bdiscounts?\b)"
    r".{0,60}\b(?:per|each|every|for each|for every|for the|for their|for your)\s+"
    r"(?:new\s+)?(?:referrals?|clients?|patients?|residents?|placements?|admissions?)\b",
    re.IGNORECASE,
)
REMUNERATION_REFUSAL = (
    "Referloop does not record payments or rewards for referrals: paying for referrals is "
    "illegal patient brokering in health care and recovery housing (EKRA, 18 U.S.C. § 220; the "
    "Anti-Kickback Statute, 42 U.S.C. § 1320a-7b(b)). Record appreciation instead: a thank-you "
    "note or recognition."
)


def remuneration_refuse(text: str, *, field: str) -> None:
    if text and _REMUNERATION.search(text):
        raise DomainError(REMUNERATION_REFUSAL, field=field, code="remuneration")


# --- relationships ----------------------------------------------------------------------------


def _relationship_save(relationship: Relationship, fields) -> None:
    due = relationship_next_due(relationship, relationship.agency)
    relationship.next_due_at, relationship.due_reason = due.at, due.reason
    relationship.updated_at = timezone.now()
    relationship.version += 1
    relationship.save(update_fields=sorted({*fields, *DUE_FIELDS, "updated_at", "version"}))


def _locked(relationship: Relationship, version: int | None = None) -> Relationship:
    locked = (
        Relationship.objects.select_for_update()
        .select_related("agency", "organization")
        .get(pk=relationship.pk)
    )
    if version is not None and locked.version != version:
        raise DomainError(
            "Someone else changed this partner while you were looking at it. Reload, then try "
            "again.",
            code="conflict",
        )
    return locked


def relationship_ensure(*, agency, organization, actor=None, owner=None) -> Relationship:
    """The agency's relationship with a directory organization, started if there is none."""
    organization = _network_organization(agency, organization)
    relationship = Relationship.objects.filter(agency=agency, organization=organization).first()
    if relationship is not None:
        return relationship
    relationship = Relationship(
        agency=agency,
        organization=organization,
        owner=_owner(agency, owner if owner is not None else actor),
    )
    due = relationship_next_due(relationship, agency)
    relationship.next_due_at, relationship.due_reason = due.at, due.reason
    relationship.save()
    audit_record(action="partner_create", user=actor, agency=agency, obj=relationship)
    return relationship


def relationship_update(
    *,
    relationship: Relationship,
    actor,
    owner=None,
    tier: str | None = None,
    considers: str | None = None,
    mutual_benefits: str | None = None,
    version: int | None = None,
    request=None,
) -> Relationship:
    """Changes what is given (None leaves a field as it is)."""
    changes: dict = {}
    if tier is not None:
        if tier not in Tier.values:
            raise DomainError(f"Unknown tier '{tier}'.", field="tier")
        changes["tier"] = tier
    if considers is not None:
        changes["considers"] = clean_text(considers, field="considers", max_length=4000)
    if mutual_benefits is not None:
        changes["mutual_benefits"] = clean_text(
            mutual_benefits, field="mutual_benefits", max_length=4000
        )
        remuneration_refuse(changes["mutual_benefits"], field="mutual_benefits")
    with transaction.atomic():
        locked = _locked(relationship, version)
        if owner is not None:
            changes["owner"] = _owner(locked.agency, owner)
        for name, value in changes.items():
            setattr(locked, name, value)
        _relationship_save(locked, changes)
        audit_record(
            action="partner_update",
            request=request,
            user=actor,
            agency=locked.agency,
            obj=locked,
            detail={"fields": sorted(changes)},
        )
    return locked


def relationship_stage_move(
    *, relationship: Relationship, actor, stage: str, reason: str = "", note: str = "", request=None
) -> Relationship:
    """Moves a relationship to another stage; "not a fit" needs the reason."""
    if stage not in Stage.values:
        raise DomainError(f"Unknown stage '{stage}'.", field="stage")
    reason = clean_text(reason, field="reason", max_length=500)
    note = clean_text(note, field="note", max_length=500)
    if stage == Stage.NOT_A_FIT and not reason:
        raise DomainError("Say why this partner is not a fit.", field="reason")
    with transaction.atomic():
        locked = _locked(relationship)
        if locked.stage == stage:
            return locked
        StageChange.objects.create(
            agency=locked.agency,
            relationship=locked,
            from_stage=locked.stage,
            to_stage=stage,
            note=note or reason,
            actor=actor,
        )
        locked.stage = stage
        locked.stage_reason = reason if stage in (Stage.DORMANT, Stage.NOT_A_FIT) else ""
        locked.stage_changed_at = timezone.now()
        _relationship_save(locked, ["stage", "stage_reason", "stage_changed_at"])
        audit_record(
            action="partner_stage",
            request=request,
            user=actor,
            agency=locked.agency,
            obj=locked,
            detail={"to": stage},
        )
    return locked


def relationship_next_step_set(
    *,
    relationship: Relationship,
    actor,
    next_step: str,
    next_step_on: date | None,
    unless_changed_from: str | None = None,
    request=None,
) -> Relationship:
    """Sets (or with "" and None clears) the relationship's next step. With
    `unless_changed_from`, only a next step still reading that is replaced: a meeting moved or
    cancelled updates its own next step, never one someone has written since."""
    next_step = clean_text(next_step, field="next_step", max_length=500)
    with transaction.atomic():
        locked = _locked(relationship)
        if unless_changed_from is not None and locked.next_step != unless_changed_from:
            return locked
        locked.next_step, locked.next_step_on = next_step, next_step_on
        _relationship_save(locked, ["next_step", "next_step_on"])
        audit_record(
            action="partner_next_step",
            request=request,
            user=actor,
            agency=locked.agency,
            obj=locked,
        )
    return locked


def relationship_update_owed(*, referral, at: datetime) -> Relationship | None:
    """A referral received from a partner changed status: the receiver owes the source news
    (received from an organization the sending agency runs in the receiver's network)."""
    agency = referral.receiving_agency
    if agency is None or referral.status not in NEWS_STATUSES:
        return None
    source = (
        Organization.objects.filter(network_id=agency.network_id, agency_id=referral.agency_id)
        .order_by("pk")
        .first()
    )
    if source is None:
        return None
    relationship = relationship_ensure(agency=agency, organization=source)
    with transaction.atomic():
        locked = _locked(relationship)
        if locked.update_owed_since is None:
            locked.update_owed_since = at
        locked.update_owed_about = (
            f"{referral.tracking_id} {Status(referral.status).label.lower()}"
        )[:200]
        _relationship_save(locked, ["update_owed_since", "update_owed_about"])
    return locked


def relationship_contact_seen(*, relationship: Relationship, at: datetime) -> Relationship:
    """A contact made outside Referloop (a CRM's last activity): the cadence counts from it
    when it is later than the last contact known here. Nothing is logged as an interaction,
    since what kind of touch it was is not known."""
    with transaction.atomic():
        locked = _locked(relationship)
        if locked.last_contact_at is not None and at <= locked.last_contact_at:
            return locked
        locked.last_contact_at = at
        _relationship_save(locked, ["last_contact_at"])
    return locked


def relationship_tiers_refresh(*, agency, now: datetime | None = None) -> int:
    """Computes the top referrers (referrals received over the policy's last N months, at least
    the policy's minimum) and stores the due time of each relationship whose tier or due time
    changed (a policy edit takes effect here too). Returns how many changed."""
    now = now or timezone.now()
    policy = agency.policies
    since = now - timedelta(days=round(30.44 * policy.partner_top_referrer_months))
    counts = referral_selectors.partner_referral_counts(agency=agency, since=since)
    changed = 0
    rows = Relationship.objects.for_agency(agency).only(
        "pk",
        "agency_id",
        "stage",
        "tier",
        "is_top_referrer",
        "referrals_received_recent",
        "organization_id",
        "last_contact_at",
        "last_face_to_face_at",
        "update_owed_since",
        "next_step_on",
        "created_at",
        "next_due_at",
        "due_reason",
        "version",
    )
    for relationship in rows:
        relationship.agency = agency
        received = counts.get(relationship.organization_id, {}).get("received", 0)
        top = received >= policy.partner_top_referrer_min
        before = (relationship.referrals_received_recent, relationship.is_top_referrer)
        relationship.referrals_received_recent, relationship.is_top_referrer = received, top
        due = relationship_next_due(relationship, agency)
        if before == (received, top) and (due.at, due.reason) == (
            relationship.next_due_at,
            relationship.due_reason,
        ):
            continue
        _relationship_save(relationship, ["referrals_received_recent", "is_top_referrer"])
        changed += 1
    return changed


# --- people and their positions ---------------------------------------------------------------


def _phones_write(contact: Contact, phones) -> None:
    numbers = []
    for value in phones or ():
        number = phone_e164(value, field="phones")
        if number and number not in numbers:
            numbers.append(number)
    Phone.objects.filter(contact=contact).exclude(number__in=numbers).delete()
    known = set(Phone.objects.filter(contact=contact).values_list("number", flat=True))
    Phone.objects.bulk_create(
        Phone(network_id=contact.network_id, contact=contact, number=number)
        for number in numbers
        if number not in known
    )


def key_contact_ensure(*, relationship: Relationship, contact: Contact) -> KeyContact:
    """The person as a key contact of the relationship (added if not yet)."""
    key, _ = KeyContact.objects.get_or_create(
        relationship=relationship, contact=contact, defaults={"agency_id": relationship.agency_id}
    )
    return key


def partner_organization_create(
    *, agency, actor, name: str, website: str = "", phone: str = "", description: str = ""
) -> Organization:
    """An organization the network's directory lacks, added for a partner (a CRM import): a plain
    listing, with its phone number, for the network to complete."""
    name = clean_text(
        name, field="name", max_length=300, required=True, label="the organization's name"
    )
    website = clean_text(website, field="website", max_length=500)
    if website:
        try:
            URLValidator(schemes=["http", "https"])(website)
        except ValidationError:
            raise DomainError(f"'{website}' is not a web address.", field="website") from None
    number = phone_e164(phone)
    with transaction.atomic():
        organization = Organization.objects.create(
            network_id=agency.network_id, name=name, website=website, description=description
        )
        if number:
            Phone.objects.create(
                network_id=agency.network_id, organization=organization, number=number
            )
        audit_record(
            action="partner_organization_create", user=actor, agency=agency, obj=organization
        )
    return organization


def partner_contact_create(
    *,
    agency,
    actor,
    name: str,
    organization,
    title: str = "",
    email: str = "",
    other_emails=(),
    phones=(),
    started_on: date | None = None,
    request=None,
) -> Contact:
    """A partner person at a directory organization: the directory contact, their current
    position, and a key contact of the agency's relationship with that organization."""
    name = clean_text(name, field="name", max_length=200, required=True, label="the person's name")
    title = clean_text(title, field="title", max_length=200)
    email = email_normalized(email)
    extra = [e for e in _emails(other_emails, field="other_emails") if e.lower() != email.lower()]
    organization = _network_organization(agency, organization)
    started_on = started_on or agency_today(agency)
    with transaction.atomic():
        contact = Contact.objects.create(
            network_id=agency.network_id,
            organization=organization,
            name=name,
            title=title,
            email=email,
            other_emails=extra,
        )
        _phones_write(contact, phones)
        Position.objects.create(
            network_id=agency.network_id,
            contact=contact,
            organization=organization,
            title=title,
            started_on=started_on,
        )
        relationship = relationship_ensure(agency=agency, organization=organization, actor=actor)
        key_contact_ensure(relationship=relationship, contact=contact)
        audit_record(
            action="partner_contact_create", request=request, user=actor, agency=agency, obj=contact
        )
    return contact


def partner_contact_update(
    *,
    agency,
    actor,
    contact: Contact,
    name: str,
    title: str = "",
    email: str = "",
    other_emails=(),
    phones=(),
    request=None,
) -> Contact:
    """Corrects a person's name, title, addresses and numbers (a new job is `contact_move`)."""
    name = clean_text(name, field="name", max_length=200, required=True, label="the person's name")
    title = clean_text(title, field="title", max_length=200)
    email = email_normalized(email)
    extra = [e for e in _emails(other_emails, field="other_emails") if e.lower() != email.lower()]
    with transaction.atomic():
        contact.name, contact.title, contact.email, contact.other_emails = name, title, email, extra
        contact.save(update_fields=["name", "title", "email", "other_emails"])
        _phones_write(contact, phones)
        Position.objects.filter(contact=contact, ended_on__isnull=True).update(title=title)
        audit_record(
            action="partner_contact_update", request=request, user=actor, agency=agency, obj=contact
        )
    return contact


def contact_move(
    *,
    agency,
    actor,
    contact: Contact,
    organization,
    title: str = "",
    on: date | None = None,
    request=None,
) -> Position:
    """ "Moved to another organization": the current position ends on `on`, the new one starts
    that day, the history stays; every agency that worked with the person at the old place gets
    a worklist item to re-establish the relationship at the new one."""
    organization = _network_organization(agency, organization)
    title = clean_text(title, field="title", max_length=200)
    on = on or agency_today(agency)
    with transaction.atomic():
        current = (
            Position.objects.select_for_update()
            .filter(contact=contact, ended_on__isnull=True)
            .first()
        )
        latest = Position.objects.filter(contact=contact).order_by("-started_on").first()
        if latest is not None and on < (latest.ended_on or latest.started_on):
            raise DomainError(
                f"The new position would overlap the one held until "
                f"{(latest.ended_on or latest.started_on):%Y-%m-%d}: the move date must be on or "
                "after it.",
                field="on",
            )
        if current is not None and current.organization_id == organization.pk:
            raise DomainError(
                f"{contact.name} already works at {organization.name}: edit the title instead.",
                field="organization",
            )
        old_organization_id = current.organization_id if current else contact.organization_id
        if current is not None:
            current.ended_on = on
            current.save(update_fields=["ended_on"])
        position = Position.objects.create(
            network_id=contact.network_id,
            contact=contact,
            organization=organization,
            title=title,
            started_on=on,
        )
        contact.organization, contact.title = organization, title
        contact.save(update_fields=["organization", "title"])
        old_name = (
            Organization.objects.filter(pk=old_organization_id)
            .values_list("name", flat=True)
            .first()
            or "their last organization"
        )
        _reestablish_after_move(contact, organization, old_organization_id, old_name, on, actor)
        audit_record(
            action="partner_contact_move",
            request=request,
            user=actor,
            agency=agency,
            obj=contact,
            detail={"from": old_organization_id, "to": organization.pk},
        )
    return position


def _reestablish_after_move(contact, organization, old_organization_id, old_name, on, actor):
    keys = KeyContact.objects.filter(
        contact=contact, relationship__organization_id=old_organization_id
    ).select_related("relationship", "relationship__agency")
    now = timezone.now()
    for key in keys:
        agency = key.relationship.agency
        new_relationship = relationship_ensure(
            agency=agency, organization=organization, owner=key.relationship.owner
        )
        moved = key_contact_ensure(relationship=new_relationship, contact=contact)
        moved.next_due_at, moved.due_reason = now, KeyContactDue.REESTABLISH
        moved.due_note = f"moved from {old_name} on {on:%Y-%m-%d}"[:300]
        moved.availability_opt_in, moved.opted_in_at = key.availability_opt_in, key.opted_in_at
        moved.save(
            update_fields=[
                "next_due_at",
                "due_reason",
                "due_note",
                "availability_opt_in",
                "opted_in_at",
            ]
        )
        key.delete()


def key_contact_done(*, key_contact: KeyContact, actor, request=None) -> KeyContact:
    """Clears what was owed to a person (re-established, or the packet went another way)."""
    key_contact.next_due_at, key_contact.due_reason, key_contact.due_note = None, "", ""
    key_contact.save(update_fields=["next_due_at", "due_reason", "due_note"])
    audit_record(
        action="partner_contact_done",
        request=request,
        user=actor,
        agency=key_contact.agency,
        obj=key_contact,
    )
    return key_contact


def contact_merge(*, agency, actor, keep: Contact, duplicate: Contact, request=None) -> Contact:
    """Merges a duplicate record of a person into `keep`: every interaction, meeting, key
    contact, phone and position moves over, its addresses become further addresses of `keep`,
    and the duplicate is removed."""
    from referloop.partners.models import MeetingAttendee

    if keep.pk == duplicate.pk:
        raise DomainError("Choose two different people to merge.", field="duplicate")
    if keep.network_id != agency.network_id or duplicate.network_id != agency.network_id:
        raise DomainError("Both people must be in your network's directory.", field="duplicate")
    with transaction.atomic():
        through = Interaction.people.through
        already = set(through.objects.filter(contact=keep).values_list("interaction_id", flat=True))
        through.objects.filter(contact=duplicate, interaction_id__in=already).delete()
        through.objects.filter(contact=duplicate).update(contact=keep)
        MeetingAttendee.objects.filter(contact=duplicate).update(contact=keep)
        kept_relationships = set(
            KeyContact.objects.filter(contact=keep).values_list("relationship_id", flat=True)
        )
        KeyContact.objects.filter(
            contact=duplicate, relationship_id__in=kept_relationships
        ).delete()
        KeyContact.objects.filter(contact=duplicate).update(contact=keep)
        known = set(Phone.objects.filter(contact=keep).values_list("number", flat=True))
        Phone.objects.filter(contact=duplicate, number__in=known).delete()
        Phone.objects.filter(contact=duplicate).update(contact=keep)
        # The duplicate's open position ends where `keep`'s history takes over.
        if Position.objects.filter(contact=keep, ended_on__isnull=True).exists():
            today = agency_today(agency)
            Position.objects.filter(contact=duplicate, ended_on__isnull=True).update(ended_on=today)
            Position.objects.filter(contact=duplicate, started_on__gt=today).update(
                started_on=today
            )
        Position.objects.filter(contact=duplicate).update(contact=keep)
        addresses = _emails(
            [*keep.other_emails, duplicate.email, *duplicate.other_emails], field="email"
        )
        keep.other_emails = [a for a in addresses if a.lower() != keep.email.lower()]
        if not keep.email and keep.other_emails:
            keep.email = keep.other_emails.pop(0)
        keep.save(update_fields=["email", "other_emails"])
        audit_record(
            action="partner_contact_merge",
            request=request,
            user=actor,
            agency=agency,
            obj=keep,
            detail={"merged": duplicate.pk},
        )
        duplicate.delete()
    return keep


# --- interactions -----------------------------------------------------------------------------


def _people(agency, relationship, people) -> list[Contact]:
    ids = {int(getattr(person, "pk", person)) for person in people or ()}
    found = list(Contact.objects.filter(network_id=agency.network_id, pk__in=ids))
    if len(found) != len(ids):
        raise DomainError("Choose people from your network's directory.", field="people")
    return found


def interaction_log(
    *,
    relationship: Relationship,
    actor,
    kind: str,
    occurred_at: datetime | None = None,
    people=(),
    summary: str = "",
    next_step: str = "",
    next_step_on: date | None = None,
    referral_id: int | None = None,
    material: Material | None = None,
    quantity: int | None = None,
    meeting=None,
    owner=None,
    request=None,
) -> Interaction:
    """Logs one touch and moves the cadence on: the last contact (and face-to-face), a status
    update owed cleared, the next step, a print packet taken off the shelf, a welcome packet due
    for a person met for the first time."""
    agency = relationship.agency
    if kind not in InteractionKind.values:
        raise DomainError(f"Unknown interaction type '{kind}'.", field="kind")
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + timedelta(minutes=5):
        raise DomainError(
            "An interaction is logged once it happened: the date is in the future.",
            field="occurred_at",
        )
    summary = clean_text(summary, field="summary", max_length=4000)
    next_step = clean_text(next_step, field="next_step", max_length=500)
    remuneration_refuse(summary, field="summary")
    remuneration_refuse(next_step, field="next_step")
    if (
        next_step_on is not None
        and next_step_on < agency_today(agency)
        and occurred_at >= now - timedelta(days=1)
    ):
        raise DomainError("The next step's date is in the past.", field="next_step_on")
    referral = None
    if referral_id is not None:
        referral = referral_selectors.referral_for_partner_log(agency=agency, pk=referral_id)
        if referral is None:
            raise DomainError("No such referral in your agency.", field="referral")
    if kind == InteractionKind.PRINT_MEDIA:
        if material is None:
            raise DomainError("Choose which material went out.", field="material")
        quantity = quantity or 1
    elif material is not None:
        raise DomainError("A material goes with a print-media packet.", field="material")
    if material is not None and material.agency_id != agency.pk:
        raise DomainError("Choose one of your agency's materials.", field="material")
    with transaction.atomic():
        locked = _locked(relationship)
        persons = _people(agency, locked, people)
        interaction = Interaction.objects.create(
            agency=agency,
            relationship=locked,
            kind=kind,
            occurred_at=occurred_at,
            owner=_owner(agency, owner) if owner is not None else actor,
            summary=summary,
            next_step=next_step,
            next_step_on=next_step_on,
            referral=referral,
            material=material,
            quantity=quantity if material is not None else None,
            meeting=meeting,
        )
        interaction.people.set(persons)
        fields = []
        if locked.last_contact_at is None or occurred_at > locked.last_contact_at:
            locked.last_contact_at = occurred_at
            fields.append("last_contact_at")
            if next_step or next_step_on or locked.next_step_on:
                locked.next_step, locked.next_step_on = next_step, next_step_on
                fields += ["next_step", "next_step_on"]
        if kind in FACE_TO_FACE_KINDS and (
            locked.last_face_to_face_at is None or occurred_at > locked.last_face_to_face_at
        ):
            locked.last_face_to_face_at = occurred_at
            fields.append("last_face_to_face_at")
        if (
            kind == InteractionKind.STATUS_UPDATE
            and locked.update_owed_since is not None
            and occurred_at >= locked.update_owed_since - timedelta(hours=1)
        ):
            locked.update_owed_since, locked.update_owed_about = None, ""
            fields += ["update_owed_since", "update_owed_about"]
        if locked.stage in (Stage.DORMANT,) and occurred_at >= now - timedelta(days=1):
            # Talking again is picking up where the relationship paused.
            StageChange.objects.create(
                agency=agency,
                relationship=locked,
                from_stage=locked.stage,
                to_stage=Stage.RAPPORT,
                note="contact logged",
                actor=actor,
            )
            locked.stage, locked.stage_changed_at = Stage.RAPPORT, now
            fields += ["stage", "stage_changed_at"]
        _relationship_save(locked, fields)
        if material is not None:
            _material_take(material, quantity, persons, occurred_at)
        elif kind != InteractionKind.AVAILABILITY_EMAIL:
            # The monthly e-mail goes to people already known: it is nobody's first contact.
            _welcome_packets_owed(locked, persons, interaction)
        audit_record(
            action="partner_interaction",
            request=request,
            user=actor,
            agency=agency,
            obj=interaction,
            detail={"kind": kind},
        )
    return interaction


def _material_take(material: Material, quantity: int, persons, occurred_at) -> None:
    taken = Material.objects.filter(pk=material.pk, on_hand__gte=quantity).update(
        on_hand=F("on_hand") - quantity
    )
    if not taken:
        raise DomainError(
            f"Only {Material.objects.get(pk=material.pk).on_hand} of '{material.name}' left on "
            "the shelf: update the stock first.",
            field="quantity",
        )
    if material.is_welcome_packet or material.kind == MaterialKind.FOLDER_PACKET:
        KeyContact.objects.filter(contact__in=persons, agency_id=material.agency_id).update(
            welcome_packet_sent_at=occurred_at
        )
        KeyContact.objects.filter(
            contact__in=persons,
            agency_id=material.agency_id,
            due_reason=KeyContactDue.WELCOME_PACKET,
        ).update(next_due_at=None, due_reason="", due_note="")


def _welcome_packets_owed(relationship, persons, interaction) -> None:
    """A first contact with a new person at a partner: send them the welcome packet."""
    for person in persons:
        key = key_contact_ensure(relationship=relationship, contact=person)
        if key.welcome_packet_sent_at is not None or key.due_reason:
            continue
        earlier = (
            Interaction.objects.filter(agency=relationship.agency, people=person)
            .exclude(pk=interaction.pk)
            .exists()
        )
        if earlier:
            continue
        key.next_due_at = interaction.occurred_at + WELCOME_PACKET_WITHIN
        key.due_reason, key.due_note = KeyContactDue.WELCOME_PACKET, "first contact"
        key.save(update_fields=["next_due_at", "due_reason", "due_note"])


# --- print materials --------------------------------------------------------------------------


def material_save(
    *,
    agency,
    actor,
    name: str,
    kind: str,
    on_hand: int,
    is_welcome_packet: bool = False,
    is_active: bool = True,
    material: Material | None = None,
    request=None,
) -> Material:
    name = clean_text(name, field="name", max_length=200, required=True, label="a name")
    if kind not in MaterialKind.values:
        raise DomainError(f"Unknown material type '{kind}'.", field="kind")
    if on_hand < 0 or on_hand > 1_000_000:
        raise DomainError("The count on hand is between 0 and 1,000,000.", field="on_hand")
    clash = Material.objects.for_agency(agency).filter(name__iexact=name)
    if material is not None:
        clash = clash.exclude(pk=material.pk)
    if clash.exists():
        raise DomainError(f"There is already a material called '{name}'.", field="name")
    material = material or Material(agency=agency)
    material.name, material.kind, material.on_hand = name, kind, on_hand
    material.is_welcome_packet, material.is_active = is_welcome_packet, is_active
    material.save()
    audit_record(
        action="partner_material", request=request, user=actor, agency=agency, obj=material
    )
    return material


DEFAULT_MATERIALS = (
    ("Rack card", MaterialKind.RACK_CARD, False),
    ("Brochure", MaterialKind.BROCHURE, False),
    ("Business card", MaterialKind.BUSINESS_CARD, False),
    ("Welcome folder packet", MaterialKind.FOLDER_PACKET, True),
)


def materials_defaults_ensure(*, agency) -> list[Material]:
    """The usual print materials, none on hand, for an agency that has no materials yet; an
    agency with its own list (renamed, retired) keeps it. Safe to call on every page view:
    get_or_create settles two first views at once on the unique name."""
    if Material.objects.for_agency(agency).exists():
        return []
    return [
        Material.objects.get_or_create(
            agency=agency,
            name=name,
            defaults={"kind": kind, "is_welcome_packet": welcome, "on_hand": 0},
        )[0]
        for name, kind, welcome in DEFAULT_MATERIALS
    ]


# --- the monthly availability e-mail --------------------------------------------------------

AVAILABILITY_KIND = "partner_availability"


def _availability_mail_cancel(key_contact: KeyContact, *, reason: str) -> None:
    """An e-mail still waiting for the worker is not sent to someone who has left the list."""
    waiting = OutboundEmail.objects.pending().filter(
        kind=AVAILABILITY_KIND,
        object_type=KeyContact._meta.label_lower,
        object_id=str(key_contact.pk),
    )
    for message in waiting:
        outbox_cancel(message=message, reason=reason)


def availability_opt_in(
    *, key_contact: KeyContact, actor, opted_in: bool, request=None
) -> KeyContact:
    """Puts a person on the monthly e-mail's list (they asked for it) or takes them off. Staff
    opting in someone who unsubscribed puts them back: do it only when the person asks."""
    contact = key_contact.contact
    if opted_in and not contact.email:
        raise DomainError(
            f"{contact.name} has no e-mail address: add one before putting them on the list.",
            field="email",
        )
    if opted_in == key_contact.availability_opt_in:
        return key_contact
    key_contact.availability_opt_in = opted_in
    key_contact.opted_in_at = timezone.now() if opted_in else None
    if opted_in:
        key_contact.unsubscribed_at = None
    key_contact.save(update_fields=["availability_opt_in", "opted_in_at", "unsubscribed_at"])
    if not opted_in:
        _availability_mail_cancel(key_contact, reason="taken off the availability list")
    audit_record(
        action="partner_availability_opt_in",
        request=request,
        user=actor,
        agency=key_contact.agency,
        obj=key_contact,
        detail={"opted_in": opted_in},
    )
    return key_contact


def availability_unsubscribe(*, key_contact: KeyContact, request=None) -> KeyContact:
    """The person's own unsubscribe, from the link in the e-mail: honoured at once, and an
    e-mail still waiting to go out is not sent. Unsubscribing twice changes nothing."""
    with transaction.atomic():
        locked = (
            KeyContact.objects.select_for_update().select_related("agency").get(pk=key_contact.pk)
        )
        if locked.unsubscribed_at is not None:
            return locked
        locked.unsubscribed_at, locked.availability_opt_in = timezone.now(), False
        locked.save(update_fields=["unsubscribed_at", "availability_opt_in"])
        _availability_mail_cancel(locked, reason="unsubscribed")
        audit_record(
            action="partner_unsubscribe", request=request, agency=locked.agency, obj=locked
        )
    return locked


def availability_month_prefix(agency) -> str:
    """The start of this month's dedupe keys (the month in the agency's zone)."""
    return f"partner-availability:{agency.pk}:{agency_today(agency):%Y-%m}:"


def availability_sent_this_month(*, agency) -> int:
    prefix = availability_month_prefix(agency)
    return OutboundEmail.objects.filter(dedupe_key__startswith=prefix).count()


def _availability_queue(key: KeyContact, *, agency, actor, availability, dedupe_key) -> bool:
    """Queues one person's e-mail with a fresh unsubscribe link; False if a send running at the
    same moment queued it first (the person's row is locked, so its link is not replaced)."""
    KeyContact.objects.select_for_update().filter(pk=key.pk).first()
    if OutboundEmail.objects.filter(dedupe_key=dedupe_key).exists():
        return False
    url = unsubscribe_url(unsubscribe_token_issue(key))
    email = availability_email_render(
        agency=agency, availability=availability, month=agency_today(agency), unsubscribe_url=url
    )
    outbox_enqueue(
        dedupe_key=dedupe_key,
        kind=AVAILABILITY_KIND,
        to=key.contact.email,
        reply_to=actor.email if actor is not None else "",
        subject=email.subject,
        body_text=email.text,
        body_html=email.html,
        agency=agency,
        obj=key,
        # RFC 2369 and RFC 8058: mail clients offer their own one-click unsubscribe button.
        headers={
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    return True


def availability_email_send(*, agency, actor, force: bool = False, request=None) -> int:
    """Queues this month's availability e-mail to every recipient (one message each, with their
    own unsubscribe link) and logs it on each recipient's relationship, which moves the cadence
    on. A second send in the same month is refused unless `force`d, and then reaches only those
    who have not had it this month. Returns how many messages were queued."""
    availability = selectors.agency_availability(agency=agency)
    if not availability:
        raise DomainError(
            "None of your agency's services has a count of beds or places in the directory: "
            "update the capacity first.",
            field="availability",
        )
    prefix = availability_month_prefix(agency)
    already = set(
        OutboundEmail.objects.filter(dedupe_key__startswith=prefix).values_list(
            "dedupe_key", flat=True
        )
    )
    if already and not force:
        raise DomainError(
            f"This month's availability e-mail went out already ({len(already)} sent). Send it "
            "again to reach only the people who have not had it this month.",
            code="conflict",
        )
    recipients = [
        key
        for key in selectors.availability_recipients(agency=agency).order_by("relationship_id")
        if f"{prefix}{key.pk}" not in already
    ]
    if not recipients:
        raise DomainError(
            "Nobody to send to: put established partners' people on the list first.",
            field="recipients",
        )
    month = agency_today(agency)
    queued = 0
    with transaction.atomic():
        for relationship, keys in groupby(recipients, key=lambda key: key.relationship):
            sent = [
                key
                for key in keys
                if _availability_queue(
                    key,
                    agency=agency,
                    actor=actor,
                    availability=availability,
                    dedupe_key=f"{prefix}{key.pk}",
                )
            ]
            if not sent:
                continue
            interaction_log(
                relationship=relationship,
                actor=actor,
                kind=InteractionKind.AVAILABILITY_EMAIL,
                people=[key.contact for key in sent],
                summary=f"Monthly availability e-mail, {month:%B %Y}",
                request=request,
            )
            queued += len(sent)
        audit_record(
            action="partner_availability_send",
            request=request,
            user=actor,
            agency=agency,
            detail={"recipients": queued, "month": f"{month:%Y-%m}"},
        )
    return queued
