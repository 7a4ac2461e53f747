"""Writes for referrals: create, send, one function per status transition, partner answers,
follow-ups, notes, owner changes and bounce-backs.

Each function validates, locks the referral row, checks the move is allowed (TRANSITIONS),
saves with `update_fields`, appends the timeline event, recomputes the stored due time and
queues notifications on commit -- all in one transaction. Web views, the API, the partner reply
page, the spreadsheet import and the CLI all call these; none of them repeats a rule.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from referloop.clients.models import Channel
from referloop.clients.selectors import disclosure_check
from referloop.clients.services import disclosure_record
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.models import Membership, OutboundEmail
from referloop.core.outbox import outbox_enqueue
from referloop.core.services import tracking_id_issue
from referloop.referrals import notifications, packets
from referloop.referrals.dispositions import DEFAULT_CODES
from referloop.referrals.due import next_due
from referloop.referrals.models import (
    CLOSED,
    REASON_REQUIRED,
    TRANSITIONS,
    DispositionCode,
    DispositionKind,
    EventKind,
    Referral,
    ReferralEvent,
    Status,
    Urgency,
)
from referloop.referrals.reply_links import reply_link_create, reply_url
from referloop.referrals.signals import referral_status_changed

DUE_FIELDS = ["next_due_at", "due_reason"]
# Dispositions that mean the outcome is known even though the referral is not closed.
OUTCOME_KNOWN_STATUSES = CLOSED | {Status.IN_PROGRESS}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a staff user (of the sending or the receiving agency), or a partner
    without an account (a reply link), or a process such as an import."""

    user: object | None = None
    agency: object | None = None
    label: str = ""  # for actors without an account

    @property
    def name(self) -> str:
        return self.label or (str(self.user) if self.user is not None else "Referloop")


# --- disposition codes -----------------------------------------------------------------------


def disposition_defaults_ensure(*, agency) -> int:
    """Gives an agency the default codes it does not have yet; returns how many were added."""
    existing = set(DispositionCode.objects.for_agency(agency).values_list("code", flat=True))
    new = [
        DispositionCode(
            agency=agency, code=code, label=label, kind=kind, is_success=success, position=index
        )
        for index, (code, label, kind, success) in enumerate(DEFAULT_CODES)
        if code not in existing
    ]
    DispositionCode.objects.bulk_create(new)
    return len(new)


def disposition_for(*, agency, code: str, for_status: str) -> DispositionCode:
    disposition = (
        DispositionCode.objects.for_agency(agency).filter(code=code, is_active=True).first()
    )
    if disposition is None:
        raise DomainError(f"Unknown disposition code '{code}'.", field="disposition")
    wanted = (
        DispositionKind.NOT_ACCEPTED if for_status == Status.REJECTED else DispositionKind.OUTCOME
    )
    if disposition.kind not in (wanted, DispositionKind.BOTH):
        raise DomainError(
            f"'{disposition.label}' is not a {DispositionKind(wanted).label.lower()} code.",
            field="disposition",
        )
    return disposition


# --- helpers shared by every write -------------------------------------------------------------


def _locked(referral: Referral, version: int | None) -> Referral:
    locked = (
        Referral.objects.select_for_update()
        # The client is loaded (and decrypted) only by the writes that need it, e.g. sending.
        .select_related("agency", "agency__network", "organization", "owner")
        .get(pk=referral.pk)
    )
    if version is not None and locked.version != version:
        raise DomainError(
            "Someone else changed this referral while you were looking at it. Reload to see "
            "the latest, then try again.",
            code="conflict",
        )
    return locked


def _save(referral: Referral, fields: list[str]) -> None:
    due = next_due(referral, referral.agency)
    referral.next_due_at, referral.due_reason = due.at, due.reason
    referral.version += 1
    referral.save(update_fields=sorted({*fields, *DUE_FIELDS, "version", "updated_at"}))


def _event(referral: Referral, actor: Actor, kind: str, *, at=None, **fields) -> ReferralEvent:
    return ReferralEvent.objects.create(
        agency_id=referral.agency_id,
        referral=referral,
        at=at or timezone.now(),
        kind=kind,
        actor=actor.user,
        actor_label=actor.label[:200],
        actor_agency=actor.agency,
        **fields,
    )


def _clean_note(note: str, *, field: str = "note", max_length: int = 4000) -> str:
    note = (note or "").strip()
    if "\x00" in note:
        raise DomainError("Contains a character that is not allowed (NUL).", field=field)
    if len(note) > max_length:
        raise DomainError(f"At most {max_length} characters.", field=field)
    return note


def _valid_owner(agency, owner):
    if not Membership.objects.filter(agency=agency, user=owner, is_active=True).exists():
        raise DomainError("The owner must be an active member of the agency.", field="owner")
    return owner


# --- create and send -------------------------------------------------------------------------


@dataclass
class ReferralData:
    client: object
    organization: object
    service: object | None = None
    owner: object | None = None
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    needs: tuple = ()
    reason: str = ""
    urgency: str = Urgency.ROUTINE
    consent: object | None = None
    categories: tuple = ()


def _recent_closed_referral(*, agency, client, now) -> Referral | None:
    """The client's referral that this new one bounces back from, if any: one not accepted and
    not yet re-referred, or one closed within the agency's bounce-back window."""
    window = now - timedelta(days=agency.policies.bounce_back_days)
    recent = Referral.objects.for_agency(agency).filter(client=client, status__in=CLOSED)
    unresolved = (
        recent.filter(status=Status.REJECTED, bounce_resolved_at__isnull=True)
        .order_by("-closed_at")
        .first()
    )
    return unresolved or recent.filter(closed_at__gte=window).order_by("-closed_at").first()


def referral_create(
    *,
    agency,
    actor: Actor,
    data: ReferralData,
    at: datetime | None = None,
    tracking_id: str | None = None,
    request=None,
) -> Referral:
    """A draft referral. A referral for a client whose last one bounced back (not accepted, or
    closed within the bounce-back window) links to it, and clears its "re-refer" item.

    `tracking_id` keeps an ID the team already uses (an imported tracking sheet); otherwise a
    new one is issued."""
    client, organization = data.client, data.organization
    if client.agency_id != agency.pk:
        raise DomainError("Unknown client.", field="client")
    if organization.network_id != agency.network_id:
        raise DomainError(
            "That organization is not in your network's directory.", field="organization"
        )
    if data.service is not None and data.service.organization_id != organization.pk:
        raise DomainError("That service belongs to another organization.", field="service")
    if data.urgency not in Urgency.values:
        raise DomainError("Choose routine, urgent or emergency.", field="urgency")
    if data.consent is not None and data.consent.client_id != client.pk:
        raise DomainError("That consent belongs to another client.", field="consent")
    owner = _valid_owner(agency, data.owner or actor.user)
    now = at or timezone.now()
    with transaction.atomic():
        if (
            tracking_id
            and Referral.objects.for_agency(agency).filter(tracking_id=tracking_id).exists()
        ):
            raise DomainError(
                f"The tracking ID {tracking_id} is already in use.", field="tracking_id"
            )
        bounced = _recent_closed_referral(agency=agency, client=client, now=now)
        referral = Referral(
            agency=agency,
            tracking_id=tracking_id or tracking_id_issue(network=agency.network),
            client=client,
            owner=owner,
            created_by=actor.user,
            organization=organization,
            service=data.service,
            contact_name=_clean_note(data.contact_name, field="contact_name", max_length=200),
            contact_email=(data.contact_email or "").strip().lower()[:254],
            contact_phone=_clean_note(data.contact_phone, field="contact_phone", max_length=50),
            reason=_clean_note(data.reason, field="reason"),
            urgency=data.urgency,
            consent=data.consent,
            categories=list(dict.fromkeys(data.categories)),
            bounce_back_of=bounced,
            created_at=now,
        )
        referral.save()
        if data.needs:
            referral.needs.set(data.needs)
        _event(referral, actor, EventKind.CREATED, at=now)
        if bounced is not None:
            _event(
                referral,
                actor,
                EventKind.BOUNCE_BACK,
                at=now,
                data={"bounce_back_of": bounced.tracking_id},
            )
            _bounce_resolve(bounced, actor, note=f"Re-referred as {referral.tracking_id}")
        audit_record(action="create", request=request, user=actor.user, agency=agency, obj=referral)
    return referral


def _bounce_resolve(referral: Referral, actor: Actor, *, note: str) -> None:
    locked = _locked(referral, None)
    if locked.bounce_resolved_at is not None:
        return
    locked.bounce_resolved_at = timezone.now()
    _save(locked, ["bounce_resolved_at"])
    _event(locked, actor, EventKind.BOUNCE_BACK, note=note, data={"resolved": True})


def referral_bounce_resolve(*, referral: Referral, actor: Actor, note: str) -> Referral:
    """The owner decides a bounced-back referral needs no re-referral (and says why)."""
    note = _clean_note(note)
    if not note:
        raise DomainError("Say why no new referral is needed.", field="note")
    with transaction.atomic():
        locked = _locked(referral, None)
        if locked.status != Status.REJECTED or locked.bounce_resolved_at is not None:
            raise DomainError("This referral is not waiting to be re-referred.", code="conflict")
        _bounce_resolve(locked, actor, note=note)
    return Referral.objects.get(pk=referral.pk)


def send_refusal(referral: Referral) -> str | None:
    """Why this referral may not leave the agency now, or None."""
    client = referral.client
    if client.do_not_contact:
        return (
            "The client's safe-contact rules say do not contact: nothing about them may be sent "
            "to a partner who would reach out."
        )
    decision = disclosure_check(
        consent=referral.consent,
        client=client,
        organization=referral.organization,
        categories=referral.categories,
    )
    if not decision:
        return decision.reason
    if referral.organization.agency_id is None and not referral.contact_email:
        return (
            f"{referral.organization.name} does not use Referloop: give the contact's e-mail "
            "address so they can receive the referral and reply."
        )
    return None


def referral_send(
    *, referral: Referral, actor: Actor, version: int | None = None, request=None
) -> Referral:
    """Sends a draft: checks safe-contact rules and consent, snapshots the packet (and records
    the disclosure), then either delivers to the receiving agency's inbox (when the organization
    uses Referloop) or e-mails the partner a reply link."""
    with transaction.atomic():
        locked = _locked(referral, version)
        if locked.status != Status.DRAFT:
            raise DomainError(
                "Only a draft can be sent.", field="status", code="invalid_transition"
            )
        refusal = send_refusal(locked)
        if refusal is None:
            _deliver(locked, actor, request=request)
    if refusal is not None:
        # Recorded after the (empty) transaction ended, so the refusal itself stays on record.
        audit_record(
            action="send_refused",
            request=request,
            user=actor.user,
            agency=locked.agency,
            obj=locked,
            outcome="denied",
            detail={"reason": refusal},
        )
        raise DomainError(refusal, field="consent", code="consent")
    return locked


def _deliver(locked: Referral, actor: Actor, *, request) -> None:
    """The sending itself (inside referral_send's transaction, once every check passed)."""
    now = timezone.now()
    receiving_agency = locked.organization.agency
    locked.status = Status.REQUESTED
    locked.sent_at = now
    locked.receiving_agency = receiving_agency
    _save(locked, ["status", "sent_at", "receiving_agency"])
    packet = packets.packet_snapshot(referral=locked, by=actor.user)
    channel = Channel.AGENCY_INBOX if receiving_agency else Channel.PACKET_EMAIL
    recipient = receiving_agency.name if receiving_agency else locked.organization.name
    disclosure_record(
        consent=locked.consent,
        channel=channel,
        recipient_name=recipient,
        recipient_address="" if receiving_agency else locked.contact_email,
        categories=locked.categories,
        description=f"Referral packet {locked.tracking_id}",
        obj=packet,
        by=actor.user,
    )
    _event(
        locked,
        actor,
        EventKind.SENT,
        at=now,
        from_status=Status.DRAFT,
        to_status=Status.REQUESTED,
        data={"to": recipient, "channel": channel},
    )
    if receiving_agency is None:
        partner_email_queue(referral=locked, actor=actor)
    audit_record(action="send", request=request, user=actor.user, agency=locked.agency, obj=locked)


def partner_email_queue(*, referral, actor) -> None:
    """Queues the referral e-mail to the partner contact, once per referral. Call it with the
    referral row locked (referral_send does): a second call must not make a new link, which
    would revoke the one in the e-mail already queued."""
    dedupe_key = f"referral-partner:{referral.pk}"
    if OutboundEmail.objects.filter(dedupe_key=dedupe_key).exists():
        return
    link, raw = reply_link_create(referral=referral)
    context = {
        "referral": referral,
        "url": reply_url(raw),
        "expires_at": link.expires_at,
        "sender": referral.agency.name,
        "owner": referral.owner,
    }
    message, _ = outbox_enqueue(
        dedupe_key=dedupe_key,
        kind="referral_partner",
        to=referral.contact_email,
        reply_to=referral.owner.email,
        subject=f"Referral {referral.tracking_id} from {referral.agency.name}",
        body_text=render_to_string("referrals/email/partner_referral.txt", context),
        body_html=render_to_string("referrals/email/partner_referral.html", context),
        agency=referral.agency,
        obj=referral,
    )
    _event(
        referral,
        actor,
        EventKind.EMAIL,
        data={"to": referral.contact_email, "message": message.pk, "kind": message.kind},
    )


def referral_record_sent(
    *, referral: Referral, actor: Actor, at: datetime | None = None, note: str = "", request=None
) -> Referral:
    """Records that a draft was sent outside Referloop (fax, phone, an imported tracking sheet):
    the clock starts, but nothing is disclosed through Referloop, so no consent check and no
    packet here -- a later packet or reply link still has to pass the consent gate."""
    note = _clean_note(note)
    with transaction.atomic():
        locked = _locked(referral, None)
        if locked.status != Status.DRAFT:
            raise DomainError(
                "Only a draft can be sent.", field="status", code="invalid_transition"
            )
        at = at or timezone.now()
        locked.status = Status.REQUESTED
        locked.sent_at = at
        _save(locked, ["status", "sent_at"])
        _event(
            locked,
            actor,
            EventKind.SENT,
            at=at,
            from_status=Status.DRAFT,
            to_status=Status.REQUESTED,
            note=note,
            data={"outside_referloop": True},
        )
        audit_record(
            action="send", request=request, user=actor.user, agency=locked.agency, obj=locked
        )
    return locked


# --- status transitions ----------------------------------------------------------------------

# The outcome a status records unless another code is given.
DEFAULT_DISPOSITION = {Status.IN_PROGRESS: "service_started", Status.COMPLETED: "completed"}

# Moves the receiving side makes; when the receiver uses Referloop only its staff make them.
RECEIVER_MOVES = frozenset(
    {
        Status.RECEIVED,
        Status.ACCEPTED,
        Status.REJECTED,
        Status.IN_PROGRESS,
        Status.ON_HOLD,
        Status.COMPLETED,
        Status.FAILED,
    }
)


def _may_move(referral: Referral, actor: Actor, to_status: str) -> bool:
    if actor.user is None:  # a partner's reply link or an import: checked by their callers
        return True
    if actor.agency is not None and actor.agency.pk == referral.receiving_agency_id:
        return to_status in RECEIVER_MOVES
    return not (referral.receiving_agency_id is not None and to_status in RECEIVER_MOVES)


def referral_transition(
    *,
    referral: Referral,
    actor: Actor,
    to_status: str,
    disposition: str | None = None,
    reason: str = "",
    note: str = "",
    version: int | None = None,
    kind: str = EventKind.STATUS,
    at: datetime | None = None,
    correction: bool = False,
    request=None,
) -> Referral:
    """Moves a referral to `to_status` if TRANSITIONS allows it (or, with `correction`, when a
    partner changes an earlier answer). Rejected needs a "not accepted" code; cancelled, on hold
    and failed need a reason or a code; started and completed record their outcome code. `at`
    backdates the change (imported history)."""
    reason = _clean_note(reason, field="reason", max_length=500)
    note = _clean_note(note)
    with transaction.atomic():
        locked = _locked(referral, version)
        from_status = locked.status
        allowed = TRANSITIONS[from_status]
        if to_status not in Status.values:
            raise DomainError(f"Unknown status '{to_status}'.", field="status")
        if to_status == Status.REQUESTED:
            # Sending has its own service: it checks consent and safe-contact rules first.
            raise DomainError(
                "Send the referral (or record it as sent outside Referloop) to start it.",
                field="status",
                code="invalid_transition",
            )
        if to_status not in allowed and not correction:
            choices = ", ".join(Status(s).label.lower() for s in sorted(allowed)) or "nothing"
            raise DomainError(
                f"A referral that is {Status(from_status).label.lower()} cannot become "
                f"{Status(to_status).label.lower()} (it can become: {choices}).",
                field="status",
                code="invalid_transition",
            )
        if not _may_move(locked, actor, to_status):
            raise DomainError(
                f"{locked.receiving_agency} updates this referral in Referloop; your side may "
                "cancel it or add notes.",
                field="status",
                code="forbidden",
            )
        disposition = disposition or DEFAULT_DISPOSITION.get(to_status)
        if to_status == Status.REJECTED and not disposition:
            raise DomainError("Choose why the referral was not accepted.", field="disposition")
        code = None
        if disposition:
            code = disposition_for(agency=locked.agency, code=disposition, for_status=to_status)
        if to_status in REASON_REQUIRED and not (reason or code):
            raise DomainError(
                f"Say why the referral is {Status(to_status).label.lower()} (a reason or a code).",
                field="reason",
            )
        now = at or timezone.now()
        locked.status = to_status
        fields = ["status", "status_reason", "disposition"]
        locked.status_reason = reason
        locked.disposition = code or (locked.disposition if to_status == from_status else None)
        if to_status in RECEIVER_MOVES and locked.received_at is None:
            locked.received_at = now
            fields.append("received_at")
        if to_status in OUTCOME_KNOWN_STATUSES:
            if locked.outcome_at is None:
                locked.outcome_at = now
                fields.append("outcome_at")
        elif locked.outcome_at is not None:  # a correction reopened the loop
            locked.outcome_at = None
            fields.append("outcome_at")
        if to_status in CLOSED:
            locked.closed_at = now
            fields.append("closed_at")
        elif locked.closed_at is not None:
            locked.closed_at = None
            fields.append("closed_at")
        if actor.user is None or actor.agency is None or actor.agency.pk != locked.agency_id:
            locked.last_partner_update_at = now
            fields.append("last_partner_update_at")
        _save(locked, fields)
        event = _event(
            locked,
            actor,
            kind,
            at=now,
            from_status=from_status,
            to_status=to_status,
            disposition=code,
            note=note or reason,
            data={"correction": True} if correction else {},
        )
        if to_status in (Status.REJECTED, Status.FAILED) and at is None:
            # Bad news goes out at once -- news, not history: backdated (imported) changes don't.
            notifications.bad_news_queue(referral=locked, event=event)
        if at is None:
            transaction.on_commit(
                partial(referral_status_changed.send, Referral, referral=locked, event=event)
            )
        audit_record(
            action="transition",
            request=request,
            user=actor.user,
            agency=actor.agency or locked.agency,
            obj=locked,
            detail={"from": from_status, "to": to_status},
        )
    return locked


# Named transitions (what web forms, the API and the CLI call): each is the one transition
# function with its target status fixed.
referral_receive = partial(referral_transition, to_status=Status.RECEIVED)
referral_accept = partial(referral_transition, to_status=Status.ACCEPTED)
referral_reject = partial(referral_transition, to_status=Status.REJECTED)
referral_start = partial(referral_transition, to_status=Status.IN_PROGRESS)
referral_hold = partial(referral_transition, to_status=Status.ON_HOLD)
referral_complete = partial(referral_transition, to_status=Status.COMPLETED)
referral_cancel = partial(referral_transition, to_status=Status.CANCELLED)
referral_fail = partial(referral_transition, to_status=Status.FAILED)


# --- partner answers (reply page and receiving agency alike) ---------------------------------


class Answer:
    RECEIVED = "received"
    ACCEPTED = "accepted"
    NOT_ACCEPTED = "not_accepted"
    CLIENT_CONTACTED = "client_contacted"
    SERVICE_STARTED = "service_started"
    COMPLETED = "completed"
    NO_SHOW = "no_show"

    CHOICES = (
        (RECEIVED, "Received"),
        (ACCEPTED, "Accepted"),
        (NOT_ACCEPTED, "Not accepted"),
        (CLIENT_CONTACTED, "Client contacted"),
        (SERVICE_STARTED, "Service started"),
        (COMPLETED, "Completed"),
        (NO_SHOW, "Client did not show"),
    )
    LABELS = dict(CHOICES)
    # answer -> (status it moves the referral to, disposition code it records)
    EFFECT = {
        RECEIVED: (Status.RECEIVED, None),
        ACCEPTED: (Status.ACCEPTED, None),
        NOT_ACCEPTED: (Status.REJECTED, None),  # plus the reason code the partner chose
        SERVICE_STARTED: (Status.IN_PROGRESS, "service_started"),
        COMPLETED: (Status.COMPLETED, "completed"),
        NO_SHOW: (Status.FAILED, "client_no_show"),
    }


def referral_partner_answer(
    *,
    referral: Referral,
    actor: Actor,
    answer: str,
    disposition: str = "",
    note: str = "",
    may_correct: bool = False,
    request=None,
) -> Referral:
    """Records what the partner says happened. Steps the partner skipped are implied (answering
    "service started" to a referral never marked received first records the receipt), an answer
    equal to the current status adds only the note, and with `may_correct` the partner can change
    an earlier answer even if the life cycle would not otherwise allow that move."""
    if answer not in Answer.LABELS:
        raise DomainError("Choose one of the answers.", field="answer")
    if answer == Answer.NOT_ACCEPTED and not disposition:
        raise DomainError("Tell us why the referral was not accepted.", field="disposition")
    if answer == Answer.CLIENT_CONTACTED:
        return referral_contact_attempt(
            referral=referral, actor=actor, note=note, by_partner=True, request=request
        )
    to_status, code = Answer.EFFECT[answer]
    current = Referral.objects.only("status").get(pk=referral.pk).status
    if current == to_status:
        return referral_note_add(
            referral=referral,
            actor=actor,
            note=note or Answer.LABELS[answer],
            kind=EventKind.PARTNER_REPLY,
        )
    allowed = TRANSITIONS[current]
    if to_status not in allowed and current in (Status.REQUESTED, Status.RECEIVED):
        # Implied steps: a partner who answers "service started" has received and accepted it.
        for step in (Status.RECEIVED, Status.ACCEPTED):
            if to_status in TRANSITIONS[step] and step in allowed:
                referral_transition(
                    referral=referral,
                    actor=actor,
                    to_status=step,
                    kind=EventKind.PARTNER_REPLY,
                    request=request,
                )
                break
        current = Referral.objects.only("status").get(pk=referral.pk).status
    correction = may_correct and to_status not in TRANSITIONS[current]
    return referral_transition(
        referral=referral,
        actor=actor,
        to_status=to_status,
        disposition=disposition or code,
        note=note,
        kind=EventKind.PARTNER_REPLY,
        correction=correction,
        request=request,
    )


# --- contact, follow-up, notes, owner ---------------------------------------------------------


def referral_contact_attempt(
    *, referral, actor: Actor, note="", at=None, by_partner=False, request=None
) -> Referral:
    """A first (or later) attempt to reach the client, by the partner or by the sending team."""
    note = _clean_note(note)
    with transaction.atomic():
        locked = _locked(referral, None)
        if locked.status in (Status.DRAFT, *CLOSED):
            raise DomainError(
                "Contact attempts are recorded on open referrals only.", code="invalid_transition"
            )
        now = at or timezone.now()
        fields = []
        if locked.first_contact_at is None:
            locked.first_contact_at = now
            fields.append("first_contact_at")
        if locked.received_at is None:
            locked.received_at = now
            fields.append("received_at")
        if locked.status == Status.REQUESTED:
            locked.status = Status.RECEIVED
            fields.append("status")
        if by_partner:
            locked.last_partner_update_at = now
            fields.append("last_partner_update_at")
        _save(locked, fields)
        _event(
            locked,
            actor,
            EventKind.PARTNER_REPLY if by_partner else EventKind.CONTACT_ATTEMPT,
            at=now,
            note=note,
            data={"answer": Answer.CLIENT_CONTACTED},
        )
        audit_record(
            action="contact_attempt",
            request=request,
            user=actor.user,
            agency=actor.agency or locked.agency,
            obj=locked,
        )
    return locked


def referral_follow_up_log(
    *, referral, actor: Actor, channel: str = "call", note="", version=None, request=None
) -> Referral:
    """The owner chased the partner: the follow-up clock restarts from now."""
    note = _clean_note(note)
    if channel not in ("call", "email", "visit", "text", "other"):
        raise DomainError("Choose how you followed up.", field="channel")
    with transaction.atomic():
        locked = _locked(referral, version)
        if not locked.is_open:
            raise DomainError("Only open referrals need follow-up.", code="invalid_transition")
        locked.last_follow_up_at = timezone.now()
        _save(locked, ["last_follow_up_at"])
        _event(locked, actor, EventKind.FOLLOW_UP, note=note, data={"channel": channel})
        audit_record(
            action="follow_up", request=request, user=actor.user, agency=locked.agency, obj=locked
        )
    return locked


def referral_note_add(*, referral, actor: Actor, note: str, kind=EventKind.NOTE, request=None):
    note = _clean_note(note)
    if not note:
        raise DomainError("Write a note.", field="note")
    with transaction.atomic():
        locked = _locked(referral, None)
        fields = []
        if kind == EventKind.PARTNER_REPLY:
            locked.last_partner_update_at = timezone.now()
            fields.append("last_partner_update_at")
        _save(locked, fields)
        _event(locked, actor, kind, note=note)
        audit_record(
            action="note",
            request=request,
            user=actor.user,
            agency=actor.agency or locked.agency,
            obj=locked,
        )
    return locked


def referral_reassign(*, referral, actor: Actor, owner, version=None, request=None) -> Referral:
    with transaction.atomic():
        locked = _locked(referral, version)
        _valid_owner(locked.agency, owner)
        if locked.owner_id == owner.pk:
            return locked
        previous = str(locked.owner)
        locked.owner = owner
        _save(locked, ["owner"])
        _event(locked, actor, EventKind.OWNER, data={"from": previous, "to": str(owner)})
        audit_record(
            action="reassign", request=request, user=actor.user, agency=locked.agency, obj=locked
        )
    return locked


def referral_due_refresh(*, referral: Referral) -> Referral:
    """Recomputes the stored due time (after a policy change); no event, no version bump."""
    due = next_due(referral, referral.agency)
    Referral.objects.filter(pk=referral.pk).update(next_due_at=due.at, due_reason=due.reason)
    referral.next_due_at, referral.due_reason = due.at, due.reason
    return referral


# --- escalation ---------------------------------------------------------------------------


def referral_escalations_record(*, agency, now: datetime) -> int:
    """Marks the agency's referrals that escalated (once per overdue spell: a referral chased and
    late again escalates anew) and notes it on their timelines."""
    from referloop.referrals.selectors import referrals_to_escalate

    newly = list(
        referrals_to_escalate(agency=agency, now=now)
        .filter(Q(escalated_at__isnull=True) | Q(escalated_at__lt=F("next_due_at")))
        .values_list("pk", "next_due_at")
    )
    if not newly:
        return 0
    referrals_to_escalate(agency=agency, now=now).filter(pk__in=[pk for pk, _ in newly]).update(
        escalated_at=now
    )
    ReferralEvent.objects.bulk_create(
        ReferralEvent(
            agency=agency,
            referral_id=pk,
            at=now,
            kind=EventKind.ESCALATED,
            actor_label="Daily digest",
            note="Overdue past the escalation threshold: sent to the program leads.",
            data={"overdue_since": due_at.isoformat()},
        )
        for pk, due_at in newly
    )
    return len(newly)


# --- disposition codes (agency settings) -------------------------------------------------------

# Codes the life cycle itself records (service started, completed, no-show): they may be renamed
# but not retired, or partner answers would have nothing to record.
LIFE_CYCLE_CODES = frozenset({"service_started", "completed", "client_no_show"})


def disposition_code_create(*, agency, actor, code: str, label: str, kind: str, request=None):
    code = (code or "").strip().lower().replace(" ", "_").replace("-", "_")
    if not code or len(code) > 40 or not code.replace("_", "").isalnum():
        raise DomainError("Use letters, digits and underscores (at most 40).", field="code")
    label = _clean_note(label, field="label", max_length=100)
    if not label:
        raise DomainError("Give the code a label people will read.", field="label")
    if kind not in DispositionKind.values:
        raise DomainError("Choose what the code is for.", field="kind")
    if DispositionCode.objects.for_agency(agency).filter(code=code).exists():
        raise DomainError(f"The code '{code}' already exists.", field="code")
    with transaction.atomic():
        created = DispositionCode.objects.create(
            agency=agency,
            code=code,
            label=label,
            kind=kind,
            position=DispositionCode.objects.for_agency(agency).count(),
        )
        audit_record(action="create", request=request, user=actor, agency=agency, obj=created)
    return created


def disposition_code_update(*, disposition, actor, label: str, is_active: bool, request=None):
    label = _clean_note(label, field="label", max_length=100)
    if not label:
        raise DomainError("Give the code a label people will read.", field="label")
    if not is_active and disposition.code in LIFE_CYCLE_CODES:
        raise DomainError(
            f"“{disposition.label}” is recorded by the life cycle itself; rename it instead.",
            field="is_active",
        )
    disposition.label, disposition.is_active = label, is_active
    with transaction.atomic():
        disposition.save(update_fields=["label", "is_active"])
        audit_record(
            action="update",
            request=request,
            user=actor,
            agency=disposition.agency,
            obj=disposition,
        )
    return disposition
