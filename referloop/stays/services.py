"""Writes for inbound referrals, stays and the updates owed to referral sources.

Every change goes through these functions: they validate (field and reason on a DomainError),
write in one transaction, keep the stored due rows (`UpdateOwed`) in step, and audit."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from referloop.clients.models import Channel, Client
from referloop.clients.services import disclosure_record
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError, clean_text, version_check
from referloop.core.outbox import outbox_enqueue
from referloop.core.timeutils import agency_today, agency_zone, local_midnight_utc
from referloop.core.tracking_ids import tracking_id_generate
from referloop.directory.models import Contact
from referloop.partners import services as partner_services
from referloop.partners.models import InteractionKind
from referloop.stays import selectors
from referloop.stays.models import (
    Application,
    DischargeReason,
    InboundReferral,
    Origin,
    Stay,
    UpdateKind,
    UpdateOwed,
    UpdateState,
    UpdateTemplate,
)

# The moves an application may make; a decision is recorded once, then a stay follows.
APPLICATION_MOVES = {
    Application.NEW: {Application.REFERRED, Application.WITHDRAWN},
    Application.REFERRED: {
        Application.APPLIED,
        Application.APPROVED,
        Application.WAITLISTED,
        Application.DENIED,
        Application.WITHDRAWN,
    },
    Application.APPLIED: {
        Application.APPROVED,
        Application.WAITLISTED,
        Application.DENIED,
        Application.WITHDRAWN,
    },
    Application.WAITLISTED: {Application.APPROVED, Application.DENIED, Application.WITHDRAWN},
    Application.APPROVED: {Application.WITHDRAWN},
    Application.DENIED: set(),
    Application.WITHDRAWN: set(),
}
DECISIONS = {Application.APPROVED, Application.WAITLISTED, Application.DENIED}


def _new_tracking_id(agency) -> str:
    while True:
        tracking_id = tracking_id_generate()
        if not InboundReferral.objects.filter(agency=agency, tracking_id=tracking_id).exists():
            return tracking_id


def _owed(
    inbound: InboundReferral,
    kind: str,
    due_at: datetime,
    *,
    days: int = 0,
    stay: Stay | None = None,
    urgent: bool = False,
) -> UpdateOwed | None:
    """Adds one owed update (once per inbound, kind and day count), if the source can be told."""
    if inbound.source_organization_id is None:
        return None
    found = UpdateOwed.objects.filter(inbound=inbound, kind=kind, days=days).first()
    if found is not None:
        return found
    return UpdateOwed.objects.create(
        agency=inbound.agency,
        inbound=inbound,
        stay=stay,
        kind=kind,
        days=days,
        due_at=due_at,
        is_urgent=urgent,
    )


# --- inbound referrals --------------------------------------------------------------------------


@dataclass
class InboundData:
    client: Client | int | None = None
    source_organization: object = None
    source_contact: Contact | int | None = None
    referred_on: date | None = None
    note: str = ""
    owner: object = None
    origin: str = Origin.STAFF  # how it reached us (a FHIR import says so)


def _source(agency, data: InboundData):
    if data.source_organization in (None, ""):
        raise DomainError(
            "Choose the organization that referred the person.", field="source_organization"
        )
    try:
        organization = partner_services._network_organization(agency, data.source_organization)
    except DomainError as error:
        raise DomainError(error.message, field="source_organization") from None
    contact = None
    if data.source_contact not in (None, ""):
        contact_id = getattr(data.source_contact, "pk", data.source_contact)
        contact = Contact.objects.filter(network_id=agency.network_id, pk=contact_id).first()
        if contact is None:
            raise DomainError(
                "Choose a person from your network's directory.", field="source_contact"
            )
    return organization, contact


def _own_client(agency, client) -> Client | None:
    if client in (None, ""):
        return None
    found = Client.objects.for_agency(agency).filter(pk=getattr(client, "pk", client)).first()
    if found is None:
        raise DomainError("Choose one of your agency's clients.", field="client")
    return found


def inbound_create(*, agency, actor, data: InboundData, request=None) -> InboundReferral:
    """Records a referral a partner made to us (entered by staff)."""
    client = _own_client(agency, data.client)
    if client is None:
        raise DomainError("Choose the client (add them first if they are new).", field="client")
    organization, contact = _source(agency, data)
    today = agency_today(agency)
    referred_on = data.referred_on or today
    if referred_on > today:
        raise DomainError(
            "A referral is recorded once it was made: not a future date.", field="referred_on"
        )
    referred_at = (
        timezone.now() if referred_on == today else local_midnight_utc(agency, referred_on)
    )
    with transaction.atomic():
        inbound = InboundReferral.objects.create(
            agency=agency,
            tracking_id=_new_tracking_id(agency),
            origin=data.origin,
            client=client,
            source_organization=organization,
            source_contact=contact,
            note=clean_text(data.note, field="note", max_length=4000),
            owner=data.owner or actor,
            referred_at=referred_at,
        )
        partner_services.relationship_ensure(agency=agency, organization=organization, actor=actor)
        if contact is not None:
            relationship = partner_services.relationship_ensure(
                agency=agency, organization=organization
            )
            partner_services.key_contact_ensure(relationship=relationship, contact=contact)
        audit_record(action="create", request=request, user=actor, agency=agency, obj=inbound)
    return inbound


@dataclass
class FormSubmission:
    """What a partner types into the agency's public "refer someone to us" page."""

    source_name: str = ""
    source_organization_name: str = ""
    source_email: str = ""
    source_phone: str = ""
    person_name: str = ""
    person_contact: str = ""
    note: str = ""


FORM_AUDIT_ACTION = "referral_form"  # the audit rows the public form's rate limit counts


def inbound_from_form(*, agency, data: FormSubmission, request=None) -> InboundReferral:
    """A draft inbound referral from the public form (no account): staff review it, link a
    client and the source, and it becomes a referral. The answer is its tracking ID."""
    source_name = clean_text(
        data.source_name, field="source_name", max_length=200, required=True, label="Your name"
    )
    organization_name = clean_text(
        data.source_organization_name,
        field="source_organization_name",
        max_length=200,
        required=True,
        label="Your organization",
    )
    email = partner_services.email_normalized(data.source_email, field="source_email")
    if not email:
        raise DomainError("Your e-mail address is required, so we can reply.", field="source_email")
    phone = (
        partner_services.phone_e164(data.source_phone, field="source_phone")
        if str(data.source_phone or "").strip()
        else ""
    )
    person = clean_text(
        data.person_name,
        field="person_name",
        max_length=200,
        required=True,
        label="The person's name",
    )
    match = selectors.directory_match(agency=agency, name=organization_name, email=email)
    inbound = InboundReferral.objects.create(
        agency=agency,
        tracking_id=_new_tracking_id(agency),
        origin=Origin.FORM,
        status=Application.NEW,
        person_name=person,
        person_contact=clean_text(data.person_contact, field="person_contact", max_length=500),
        note=clean_text(data.note, field="note", max_length=4000),
        source_name=f"{source_name}, {organization_name}"[:200],
        source_email=email,
        source_phone=phone,
        source_organization=match.organization,
        source_contact=match.contact,
    )
    audit_record(
        action=FORM_AUDIT_ACTION,
        request=request,
        agency=agency,
        obj=inbound,
        detail={"matched": match.organization is not None},
    )
    return inbound


def inbound_review(
    *, inbound: InboundReferral, actor, data: InboundData, request=None
) -> InboundReferral:
    """A form submission taken in: its client and source set, it becomes a referral."""
    agency = inbound.agency
    client = _own_client(agency, data.client)
    if client is None:
        raise DomainError("Choose the client (add them first if they are new).", field="client")
    organization, contact = _source(agency, data)
    with transaction.atomic():
        locked = InboundReferral.objects.select_for_update().get(pk=inbound.pk)
        if locked.status != Application.NEW:
            raise DomainError("This referral was taken in already.", field="status")
        locked.client = client
        locked.source_organization = organization
        locked.source_contact = contact
        locked.owner = data.owner or locked.owner or actor
        locked.status = Application.REFERRED
        locked.version += 1
        locked.save()
        partner_services.relationship_ensure(agency=agency, organization=organization, actor=actor)
        audit_record(action="review", request=request, user=actor, agency=agency, obj=locked)
    return locked


def inbound_from_network(*, referral, actor=None) -> InboundReferral:
    """The receiving agency's own record of a referral another Referloop agency sent it, so the
    sender's caseworker is owed the same updates as any other source. The client stays the
    sender's record: staff take it in (a client record of their own) when the person arrives."""
    agency = referral.receiving_agency
    found = InboundReferral.objects.filter(network_referral=referral).first()
    if found is not None:
        return found
    organization = selectors.sending_organization(referral)
    try:
        with transaction.atomic():
            return InboundReferral.objects.create(
                agency=agency,
                tracking_id=_new_tracking_id(agency),
                origin=Origin.NETWORK,
                status=Application.NEW,  # staff link a client record of their own
                network_referral=referral,
                source_organization=organization,
                source_name=referral.agency.name[:200],
                owner=actor,
                referred_at=referral.sent_at or timezone.now(),
            )
    except IntegrityError:  # a second request made it first
        return InboundReferral.objects.get(network_referral=referral)


def application_record(
    *,
    inbound: InboundReferral,
    actor,
    status: str,
    reason: str = "",
    version: int | None = None,
    request=None,
) -> InboundReferral:
    """Records where the application stands. A decision owes the source news: a denial at once
    (urgent), an approval or a wait-list within the policy's days."""
    reason = clean_text(reason, field="reason", max_length=500)
    if status not in Application.values:
        raise DomainError(f"Unknown application status '{status}'.", field="status")
    if status == Application.DENIED and not reason:
        raise DomainError("Say why the application was denied.", field="reason")
    with transaction.atomic():
        locked = InboundReferral.objects.select_for_update().get(pk=inbound.pk)
        version_check(locked, version)
        if status not in APPLICATION_MOVES[locked.status]:
            raise DomainError(
                f"An application that is {locked.get_status_display().lower()} cannot become "
                f"{Application(status).label.lower()}.",
                field="status",
                code="invalid_transition",
            )
        now = timezone.now()
        locked.status = status
        locked.status_reason = reason
        if status == Application.APPLIED:
            locked.applied_at = now
        if status in DECISIONS:
            locked.decided_at = now
        locked.version += 1
        locked.save()
        policy = locked.agency.policies
        if status == Application.DENIED:
            _owed(locked, UpdateKind.DENIAL, now, urgent=True)
        elif status in DECISIONS:
            kind = UpdateKind.DECISION if status == Application.APPROVED else UpdateKind.WAITLIST
            _owed(locked, kind, now + timedelta(days=policy.partner_update_within_days))
        audit_record(
            action="application",
            request=request,
            user=actor,
            agency=locked.agency,
            obj=locked,
            detail={"status": status},
        )
    return locked


# --- stays ---------------------------------------------------------------------------------------


def next_milestone(stay: Stay, today: date) -> date | None:
    if stay.sobriety_on is None or stay.discharge_on is not None:
        return None
    for days in stay.agency.policies.stay_milestone_days:
        day = stay.sobriety_on + timedelta(days=days)
        if day >= today:
            return day
    return None


def stay_updates_schedule(stay: Stay) -> None:
    """The check-ins after move-in and the milestones still ahead, for a stay with a source."""
    inbound = stay.inbound
    if inbound is None:
        return
    agency = stay.agency
    policy = agency.policies
    for days in policy.stay_check_in_days:
        due = local_midnight_utc(agency, stay.move_in_on + timedelta(days=days))
        _owed(inbound, UpdateKind.CHECK_IN, due, days=days, stay=stay)
    if stay.sobriety_on is not None:
        for days in policy.stay_milestone_days:
            day = stay.sobriety_on + timedelta(days=days)
            if day >= stay.move_in_on:  # milestones reached before move-in are not news to them
                _owed(
                    inbound,
                    UpdateKind.MILESTONE,
                    local_midnight_utc(agency, day),
                    days=days,
                    stay=stay,
                )


def _dates_check(agency, *, move_in_on: date, sobriety_on: date | None, inbound) -> None:
    today = agency_today(agency)
    if move_in_on > today:
        raise DomainError(
            "Record a move-in once it happened: not a future date.", field="move_in_on"
        )
    if inbound is not None:
        referred_on = timezone.localdate(inbound.referred_at, agency_zone(agency))
        if move_in_on < referred_on:
            raise DomainError(
                f"The move-in cannot be before the referral ({referred_on:%b %d, %Y}).",
                field="move_in_on",
            )
    if sobriety_on is not None and sobriety_on > today:
        raise DomainError("The sobriety date cannot be in the future.", field="sobriety_on")


def _move_in_allowed(inbound: InboundReferral) -> None:
    if inbound.client_id is None:
        raise DomainError("Take the referral in first: link its client.", field="client")
    if inbound.status in (Application.DENIED, Application.WITHDRAWN):
        raise DomainError(
            f"The application was {inbound.get_status_display().lower()}: no move-in.",
            field="status",
        )


def stay_move_in(
    *,
    agency,
    actor,
    move_in_on: date,
    inbound: InboundReferral | None = None,
    client: Client | int | None = None,
    sobriety_on: date | None = None,
    house: str = "",
    request=None,
) -> Stay:
    """A resident moves in: for an inbound referral (its client) or a client of ours. The
    source's check-ins and milestone updates are owed from here."""
    if not agency.policies.stays_enabled:
        raise DomainError("Stays are turned off in your agency's settings.", field="move_in_on")
    if inbound is not None:
        if inbound.agency_id != agency.pk:
            raise DomainError("No such referral in your agency.", field="inbound")
        inbound = InboundReferral.objects.select_related("client").get(pk=inbound.pk)
        _move_in_allowed(inbound)
        client = inbound.client
    else:
        client = _own_client(agency, client)
        if client is None:
            raise DomainError("Choose the resident.", field="client")
    house = clean_text(house, field="house", max_length=200)
    _dates_check(agency, move_in_on=move_in_on, sobriety_on=sobriety_on, inbound=inbound)
    with transaction.atomic():
        if inbound is not None:
            inbound = InboundReferral.objects.select_for_update().get(pk=inbound.pk)
            _move_in_allowed(inbound)
            if Stay.objects.filter(inbound=inbound).exists():
                raise DomainError("This referral has a stay already.", field="inbound")
            inbound.admitted_at = local_midnight_utc(agency, move_in_on)
            if inbound.status in (Application.REFERRED, Application.APPLIED):
                inbound.status = Application.APPROVED
                inbound.decided_at = inbound.decided_at or timezone.now()
            inbound.version += 1
            inbound.save()
        if Stay.objects.filter(client=client, discharge_on__isnull=True).exists():
            raise DomainError(
                "This resident has a current stay: discharge it first.", field="client"
            )
        stay = Stay(
            agency=agency,
            client=client,
            inbound=inbound,
            house=house,
            move_in_on=move_in_on,
            sobriety_on=sobriety_on,
            created_by=actor,
        )
        stay.next_milestone_on = next_milestone(stay, agency_today(agency))
        stay.save()
        stay_updates_schedule(stay)
        audit_record(action="move_in", request=request, user=actor, agency=agency, obj=stay)
    return stay


def stay_update(
    *,
    stay: Stay,
    actor,
    sobriety_on: date | None,
    house: str,
    tell_source_of_discharge: bool,
    version: int | None = None,
    request=None,
) -> Stay:
    """Corrects the sobriety date (a relapse restarts it), the house, and whether the source
    hears of a discharge. Milestones not yet settled follow the new date."""
    agency = stay.agency
    house = clean_text(house, field="house", max_length=200)
    _dates_check(agency, move_in_on=stay.move_in_on, sobriety_on=sobriety_on, inbound=None)
    with transaction.atomic():
        locked = (
            Stay.objects.select_for_update(of=("self",))
            .select_related("agency", "inbound")
            .get(pk=stay.pk)
        )
        version_check(locked, version)
        changed = locked.sobriety_on != sobriety_on
        locked.sobriety_on, locked.house = sobriety_on, house
        locked.tell_source_of_discharge = tell_source_of_discharge
        locked.next_milestone_on = next_milestone(locked, agency_today(agency))
        locked.version += 1
        locked.save()
        if changed and locked.is_current:
            UpdateOwed.objects.filter(
                stay=locked, kind=UpdateKind.MILESTONE, state=UpdateState.OWED
            ).delete()
            stay_updates_schedule(locked)
        audit_record(action="update", request=request, user=actor, agency=agency, obj=locked)
    return locked


def stay_discharge(
    *,
    stay: Stay,
    actor,
    discharge_on: date,
    reason: str,
    note: str = "",
    tell_source: bool | None = None,
    request=None,
) -> Stay:
    """The stay ends. Updates not yet due are no longer owed; a termination owes the source news
    at once (urgent); another discharge owes it if the agency tells this source (per client)."""
    agency = stay.agency
    if reason not in DischargeReason.values:
        raise DomainError("Choose why the stay ended.", field="reason")
    note = clean_text(note, field="note", max_length=500)
    if discharge_on > agency_today(agency):
        raise DomainError(
            "Record a discharge once it happened: not a future date.", field="discharge_on"
        )
    if discharge_on < stay.move_in_on:
        raise DomainError(
            f"The discharge cannot be before the move-in ({stay.move_in_on:%b %d, %Y}).",
            field="discharge_on",
        )
    with transaction.atomic():
        locked = (
            Stay.objects.select_for_update(of=("self",))
            .select_related("agency", "inbound")
            .get(pk=stay.pk)
        )
        if not locked.is_current:
            raise DomainError("This stay has ended already.", field="discharge_on")
        now = timezone.now()
        locked.discharge_on, locked.discharge_reason, locked.discharge_note = (
            discharge_on,
            reason,
            note,
        )
        if tell_source is not None:
            locked.tell_source_of_discharge = tell_source
        locked.next_milestone_on = None
        locked.version += 1
        locked.save()
        UpdateOwed.objects.filter(stay=locked, state=UpdateState.OWED, due_at__gt=now).update(
            state=UpdateState.CANCELLED, settled_at=now, skip_reason="The stay ended."
        )
        if locked.inbound is not None:
            # The referral's outcome changed with its stay: its FHIR Task is newer.
            InboundReferral.objects.filter(pk=locked.inbound_id).update(
                updated_at=now, version=F("version") + 1
            )
            if reason == DischargeReason.TERMINATED:
                _owed(locked.inbound, UpdateKind.TERMINATION, now, stay=locked, urgent=True)
            elif locked.tell_source_of_discharge:
                kind = (
                    UpdateKind.INDEPENDENT
                    if reason == DischargeReason.INDEPENDENT
                    else UpdateKind.DISCHARGE
                )
                due = now + timedelta(days=agency.policies.partner_update_within_days)
                _owed(locked.inbound, kind, due, stay=locked)
        audit_record(
            action="discharge",
            request=request,
            user=actor,
            agency=agency,
            obj=locked,
            detail={"reason": reason},
        )
    return locked


# --- the updates themselves -------------------------------------------------------------------


def update_send(
    *,
    update: UpdateOwed,
    actor,
    subject: str,
    body: str,
    to: str = "",
    request=None,
) -> UpdateOwed:
    """Sends the update to the source contact by e-mail, only within what the client consented
    to share with that source; records the disclosure, logs it as a status-update interaction
    with that person (it counts toward the relationship's cadence), and settles the item."""
    subject = clean_text(subject, field="subject", max_length=200, required=True)
    body = clean_text(body, field="body", max_length=8000, required=True, label="the message")
    partner_services.remuneration_refuse(body, field="body")
    with transaction.atomic():
        locked = (
            # of=("self",): PostgreSQL cannot lock the nullable side of an outer join.
            UpdateOwed.objects.select_for_update(of=("self",))
            .select_related(
                "agency",
                "inbound__client",
                "inbound__source_organization",
                "inbound__source_contact",
            )
            .get(pk=update.pk)
        )
        if locked.state != UpdateState.OWED:
            raise DomainError("This update was settled already.", field="state")
        inbound = locked.inbound
        recipient = partner_services.email_normalized(
            to or selectors.update_recipient(inbound), field="to"
        )
        if not recipient:
            raise DomainError(
                "The source contact has no e-mail address: add one to their record.", field="to"
            )
        decision = selectors.update_consent(locked)
        if decision:
            _update_deliver(
                locked,
                decision,
                actor=actor,
                to=recipient,
                subject=subject,
                body=body,
                request=request,
            )
    if not decision:
        # Recorded after the (empty) transaction ended, so the refusal itself stays on record.
        audit_record(
            action="send_refused",
            request=request,
            user=actor,
            agency=locked.agency,
            obj=locked,
            outcome="denied",
            detail={"reason": decision.reason},
        )
        raise DomainError(f"Consent needed: {decision.reason}", field="consent", code="consent")
    return locked


def _update_deliver(locked, decision, *, actor, to: str, subject: str, body: str, request) -> None:
    """The sending itself (inside update_send's transaction, once consent allowed it)."""
    inbound = locked.inbound
    agency = locked.agency
    message, _ = outbox_enqueue(
        dedupe_key=f"stay-update:{locked.pk}",
        kind="stay_update",
        to=to,
        reply_to=actor.email,
        subject=subject,
        body_text=body,
        agency=agency,
        obj=locked,
    )
    categories = selectors.UPDATE_CATEGORIES[locked.kind]
    disclosure_record(
        consent=decision.consent,
        channel=Channel.STATUS_UPDATE,
        recipient_name=inbound.source_organization.name,
        recipient_address=to,
        categories=categories,
        description=f"{locked.get_kind_display()} ({inbound.tracking_id})",
        obj=locked,
        by=actor,
    )
    relationship = partner_services.relationship_ensure(
        agency=agency, organization=inbound.source_organization, actor=actor
    )
    interaction = partner_services.interaction_log(
        relationship=relationship,
        actor=actor,
        kind=InteractionKind.STATUS_UPDATE,
        people=[inbound.source_contact] if inbound.source_contact_id else [],
        summary=f"{locked.get_kind_display()}: {subject}",
        referral_id=inbound.network_referral_id,
        request=request,
    )
    now = timezone.now()
    locked.state, locked.settled_at, locked.settled_by = UpdateState.SENT, now, actor
    locked.message, locked.sent_to, locked.interaction = body, to, interaction
    locked.save()
    audit_record(
        action="send",
        request=request,
        user=actor,
        agency=agency,
        obj=locked,
        detail={"message": message.pk},
    )


def update_skip(*, update: UpdateOwed, actor, reason: str, request=None) -> UpdateOwed:
    """Settles an owed update without sending it (the reason is kept: it counts as not sent)."""
    reason = clean_text(reason, field="reason", max_length=500, required=True, label="a reason")
    with transaction.atomic():
        locked = UpdateOwed.objects.select_for_update().get(pk=update.pk)
        if locked.state != UpdateState.OWED:
            raise DomainError("This update was settled already.", field="state")
        locked.state, locked.settled_at, locked.settled_by = (
            UpdateState.SKIPPED,
            timezone.now(),
            actor,
        )
        locked.skip_reason = reason
        locked.save()
        audit_record(action="skip", request=request, user=actor, agency=locked.agency, obj=locked)
    return locked


def template_save(*, agency, actor, kind: str, subject: str, body: str, request=None):
    """The agency's wording for one kind of update; placeholders are checked before saving."""
    if kind not in UpdateKind.values:
        raise DomainError(f"Unknown update kind '{kind}'.", field="kind")
    subject = clean_text(subject, field="subject", max_length=200, required=True)
    body = clean_text(body, field="body", max_length=8000, required=True, label="the message")
    for field, text in (("subject", subject), ("body", body)):
        unknown = selectors.unknown_placeholders(text)
        if unknown:
            raise DomainError(
                f"Unknown placeholder {{{unknown[0]}}}: use "
                + ", ".join(f"{{{name}}}" for name in selectors.PLACEHOLDERS),
                field=field,
            )
    template, _ = UpdateTemplate.objects.update_or_create(
        agency=agency,
        kind=kind,
        defaults={"subject": subject, "body": body, "updated_at": timezone.now()},
    )
    audit_record(action="update", request=request, user=actor, agency=agency, obj=template)
    return template
