"""The referrals API: the list (outbound and inbound), create, send, status transitions,
follow-ups, notes, contact attempts, the timeline and the agency's disposition codes.

A referral is visible to the agency that sent it and, once sent, to the agency that receives it.
The sender sees its own client record; the receiver sees only the referral's non-client fields
and the packet that was shared -- and only while the consent still covers it (checked on every
read through `clients.selectors.disclosure_check`, and written to the client's disclosure ledger
at most once a day). Every write goes through `referrals.services`.
"""

from datetime import datetime
from typing import Literal

from django.http import HttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema
from ninja import Status as HttpStatus
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from referloop.clients.models import Category, Channel, Client, Consent
from referloop.core.access import api_require
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.idempotency import idempotent
from referloop.core.models import User
from referloop.core.permissions import Perm
from referloop.core.schemas import (
    API_OBJECT,
    API_WRITE,
    NOT_BLANK,
    Code,
    DomainErrorOut,
    Email,
    ErrorOut,
    Id,
    InputSchema,
    Text,
    ValidationErrorOut,
    filled,
)
from referloop.core.scoping import get_for_user_or_404
from referloop.directory.models import Organization, Service, TaxonomyTerm
from referloop.directory.vocabulary import NEEDS
from referloop.referrals import selectors, services
from referloop.referrals.models import (
    REASON_REQUIRED,
    TRANSITIONS,
    DispositionCode,
    Referral,
    Status,
    Urgency,
)
from referloop.referrals.packets import (
    packet_data,
    packet_latest,
    packet_pdf_download,
    packet_release,
)
from referloop.referrals.services import Answer
from referloop.referrals.views_packet import packet_pdf_response

router = Router(tags=["referrals"])

# --- schemas -----------------------------------------------------------------------------------


class NamedRef(Schema):
    id: int
    name: str


class ClientRef(Schema):
    id: int
    display_name: str


class DispositionRef(Schema):
    code: str
    label: str


class ReferralItemOut(Schema):
    """A referral as either side may see it: no client information for the receiving agency
    (`direction` = inbound): `client` and the sender's due time are null there."""

    id: int
    tracking_id: str
    direction: Literal["outbound", "inbound"]
    status: Status
    status_label: str
    urgency: Urgency
    sender: NamedRef
    owner: NamedRef
    organization: NamedRef
    service: NamedRef | None
    client: ClientRef | None
    disposition: DispositionRef | None
    status_reason: str
    created_at: datetime
    sent_at: datetime | None
    closed_at: datetime | None
    next_due_at: datetime | None
    due_reason: str | None
    version: int

    @staticmethod
    def resolve_direction(obj, context):
        return "outbound" if _is_sender(obj, context) else "inbound"

    @staticmethod
    def resolve_status_label(obj):
        return obj.get_status_display()

    @staticmethod
    def resolve_sender(obj):
        return {"id": obj.agency_id, "name": obj.agency.name}

    @staticmethod
    def resolve_owner(obj):
        return {"id": obj.owner_id, "name": str(obj.owner)}

    @staticmethod
    def resolve_client(obj, context):
        if not _is_sender(obj, context):
            return None
        return {"id": obj.client_id, "display_name": obj.client.display_name}

    @staticmethod
    def resolve_next_due_at(obj, context):
        return obj.next_due_at if _is_sender(obj, context) else None

    @staticmethod
    def resolve_due_reason(obj, context):
        return (obj.due_reason or None) if _is_sender(obj, context) else None


class TermOut(Schema):
    code: str
    name: str


class PacketClientOut(Schema):
    name: str | None = None
    date_of_birth: str | None = None
    preferred_language: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None


class PacketConsentOut(Schema):
    id: int
    recipient: str = ""
    categories: list[str] = []
    purpose: str = ""
    signed_on: str = ""
    signed_by: str = ""
    expires: str = ""
    part2: bool = False
    revocation: str = ""


class PacketOut(Schema):
    """The packet as it was shared when the referral was sent. (Defaults: a snapshot keeps the
    shape it was stored with.)"""

    created_at: datetime
    tracking_id: str
    date: str = ""
    sender: str = ""
    owner: str = ""
    owner_email: str = ""
    organization: str = ""
    service: str = ""
    contact_name: str = ""
    urgency: str = ""
    urgent: bool = False
    categories: list[str] = []
    client: PacketClientOut = Field(default_factory=PacketClientOut)
    reason: str = ""
    needs: list[str] = []
    safe_contact: list[str] = []
    consent: PacketConsentOut | None = None
    part2_notice: str = ""


class ReferralOut(ReferralItemOut):
    """One referral. The sending agency gets its own data (`client`, `reason`, `needs`,
    `categories`, `consent_id`); the receiving agency gets null there and the `packet` instead
    -- or, when the consent no longer covers it, no packet and `client_details_withheld` saying
    why."""

    receiving_agency: NamedRef | None
    contact_name: str
    contact_email: str
    contact_phone: str
    received_at: datetime | None
    first_contact_at: datetime | None
    outcome_at: datetime | None
    last_follow_up_at: datetime | None
    bounce_back_of: str | None = Field(description="Tracking ID of the referral this re-refers")
    reason: str | None
    needs: list[TermOut] | None
    categories: list[str] | None
    consent_id: int | None
    packet: PacketOut | None
    client_details_withheld: str | None

    @staticmethod
    def resolve_receiving_agency(obj):
        agency = obj.receiving_agency
        return {"id": agency.pk, "name": agency.name} if agency is not None else None

    @staticmethod
    def resolve_bounce_back_of(obj, context):
        if not (_is_sender(obj, context) and obj.bounce_back_of_id):
            return None
        return obj.bounce_back_of.tracking_id

    @staticmethod
    def resolve_reason(obj, context):
        return obj.reason if _is_sender(obj, context) else None

    @staticmethod
    def resolve_needs(obj, context):
        return list(obj.needs.all()) if _is_sender(obj, context) else None

    @staticmethod
    def resolve_categories(obj, context):
        return obj.categories if _is_sender(obj, context) else None

    @staticmethod
    def resolve_consent_id(obj, context):
        return obj.consent_id if _is_sender(obj, context) else None

    @staticmethod
    def resolve_packet(obj):
        return getattr(obj, "shared_packet", None)

    @staticmethod
    def resolve_client_details_withheld(obj):
        return getattr(obj, "client_details_withheld", None)


class ReferralFilters(Schema):
    status: Status | None = None
    owner: str | None = Field(
        None, pattern=r"^(me|[0-9]{1,12})$", description='The owner\'s user id, or "me"'
    )
    organization: Id | None = Field(None, description="The partner organization's id")
    overdue: bool = Field(False, description="Only referrals whose next due time has passed")
    direction: Literal["outbound", "inbound"] | None = Field(
        None, description="outbound: sent by the agency; inbound: sent to it (default: both)"
    )


class ReferralIn(InputSchema):
    """A draft referral. `needs` are codes of the "Referloop needs" vocabulary; `categories`
    are what the packet will share (the consent must cover them when it is sent)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client": 42,
                    "organization": 7,
                    "service": 19,
                    "contact_name": "Pat Intake",
                    "contact_email": "intake@harbor.example.org",
                    "needs": ["sober-living", "peer-support"],
                    "reason": "Needs a sober-living bed after detox, discharge on Friday.",
                    "urgency": "urgent",
                    "consent": 88,
                    "categories": ["identity", "contact", "reason"],
                }
            ]
        }
    )

    client: Id = Field(description="The client's id")
    organization: Id = Field(description="The receiving organization's id")
    service: Id | None = Field(None, description="One of its services' id")
    contact_name: Text(200) = ""
    contact_email: Email = Field("", description="Where the partner gets the reply link")
    contact_phone: Text(50) = ""
    needs: list[Code] = Field(default_factory=list, max_length=30)
    reason: Text(4000) = Field("", description="The reason for referral, in your words")
    urgency: Urgency = Urgency.ROUTINE
    consent: Id | None = Field(None, description="The consent that covers sharing")
    categories: list[Category] = Field(default_factory=list, max_length=len(Category))
    owner: Id | None = Field(None, description="A member's user id (default: you)")


class SendIn(InputSchema):
    version: int | None = Field(None, ge=1, description="The version you last read")


# The statuses a transition moves a referral to: never back to a draft, and never to sent (a
# draft is sent with POST /referrals/{id}/send, which checks the consent).
TRANSITION_TARGETS = tuple(
    status.value
    for status in Status
    if status in frozenset().union(*TRANSITIONS.values()) - {Status.REQUESTED}
)


class TransitionIn(InputSchema):
    """Not accepted (`rejected`) needs a `disposition`; cancelled, on hold and failed need a
    `reason` or a `disposition`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "accepted", "note": "Bed ready on Monday.", "version": 3},
                {"status": "rejected", "disposition": "no_capacity", "version": 3},
                {"status": "on-hold", "reason": "Waiting for the court date.", "version": 4},
            ],
            "allOf": [
                {
                    "if": filled("status", const=Status.REJECTED.value),
                    "then": filled("disposition", type="string"),
                },
                {
                    "if": filled("status", enum=sorted(REASON_REQUIRED - {Status.REJECTED})),
                    "then": {
                        "anyOf": [
                            filled("reason", pattern=NOT_BLANK),
                            filled("disposition", type="string"),
                        ]
                    },
                },
            ],
        }
    )

    status: Literal[TRANSITION_TARGETS] = Field(
        description="A draft is sent with POST /referrals/{id}/send, never here"
    )
    disposition: Code | None = Field(None, description="A code of GET /dispositions")
    reason: Text(500) = Field(
        "", description="Why: cancelled, on hold and failed need this or a `disposition`"
    )
    note: Text(4000) = ""
    version: int | None = Field(None, ge=1, description="The version you last read")


class FollowUpIn(InputSchema):
    channel: Literal["call", "email", "visit", "text", "other"] = "call"
    note: Text(4000) = ""
    version: int | None = Field(None, ge=1, description="The version you last read")


class OwnerIn(InputSchema):
    owner: Id = Field(description="A member's user id")
    version: int | None = Field(None, ge=1, description="The version you last read")


class BounceResolveIn(InputSchema):
    note: Text(4000, required=True) = Field(description="Why no new referral is needed")


class DispositionPatch(InputSchema):
    """Only the fields given change."""

    label: Text(100, required=True) = None
    is_active: bool = None


class NoteIn(InputSchema):
    note: Text(4000, required=True)


class ContactAttemptIn(InputSchema):
    note: Text(4000) = ""


class EventOut(Schema):
    """One timeline entry. The receiving agency sees the notes (and details) its own people
    wrote; the sender's (which may be about the client) stay with the sender."""

    id: int
    at: datetime
    kind: str
    kind_label: str
    actor: str
    actor_agency: str | None
    from_status: str
    to_status: str
    disposition: DispositionRef | None
    note: str
    data: dict

    @staticmethod
    def resolve_kind_label(obj):
        return obj.get_kind_display()

    @staticmethod
    def resolve_actor(obj):
        return obj.actor_label or (str(obj.actor) if obj.actor_id else "Referloop")

    @staticmethod
    def resolve_actor_agency(obj):
        return obj.actor_agency.name if obj.actor_agency_id else None

    @staticmethod
    def resolve_note(obj, context):
        return obj.note if _wrote_or_sent(obj, context) else ""

    @staticmethod
    def resolve_data(obj, context):
        return obj.data if _wrote_or_sent(obj, context) else {}


class ReplyLinkOut(Schema):
    """A one-question reply link e-mailed to the partner, and what came back through it."""

    id: int
    contact_email: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_viewed_at: datetime | None
    answer: str | None = Field(description="The partner's last answer through the link")
    answer_label: str | None
    answered_at: datetime | None
    answers: int = Field(description="How many times the partner answered (corrections too)")

    @staticmethod
    def resolve_answer(obj):
        return obj.last_answer or None

    @staticmethod
    def resolve_answer_label(obj):
        return Answer.LABELS.get(obj.last_answer) if obj.last_answer else None

    @staticmethod
    def resolve_answered_at(obj):
        return obj.last_answered_at

    @staticmethod
    def resolve_answers(obj):
        return obj.answer_count


class DispositionOut(Schema):
    code: str
    label: str
    kind: str
    is_success: bool


# --- helpers -----------------------------------------------------------------------------------

LIST_RELATED = ("organization", "service", "owner", "client", "disposition")
# Fetched apart (a few agencies in all): joined too, their two joins grew PostgreSQL's planning of
# the list to ten times its run time.
LIST_AGENCIES = ("agency", "receiving_agency")


def _is_sender(referral: Referral, context) -> bool:
    return referral.agency_id == context["request"].agency.pk


def _wrote_or_sent(event, context) -> bool:
    """The viewer's agency sent the referral, or wrote this event."""
    return context["request"].agency.pk in (event.agency_id, event.actor_agency_id)


def _actor(request) -> services.Actor:
    return services.Actor(user=request.user, agency=request.agency)


def _referral(request, referral_id: int, *, sender_only: bool = False) -> Referral:
    """The referral if the token's agency sent or received it (404 and an audit row if not).
    `sender_only` refuses, with a 403, what only the sending side does (send, follow up)."""
    referral = selectors.with_viewer_agency(
        get_for_user_or_404(
            Referral.objects.select_related(*LIST_RELATED), request, pk=referral_id
        ),
        request.agency,
    )
    if sender_only and referral.agency_id != request.agency.pk:
        raise DomainError(
            f"Only {referral.agency.name}, which sent this referral, does this.",
            code="forbidden",
        )
    return referral


def _visible_or_error(queryset, request, pk, *, field: str, message: str):
    """An object a request body names: one the agency may use, or a 400 naming the field."""
    if pk is None:
        return None
    found = queryset.visible_to(request.user, request.agency).filter(pk=pk).first()
    if found is None:
        raise DomainError(message, field=field)
    return found


def _owner(user_id: int | None) -> User | None:
    """The user a body names as owner (the service checks they are an active member)."""
    if user_id is None:
        return None
    owner = User.objects.filter(pk=user_id).first()
    if owner is None:
        raise DomainError("The owner must be an active member of the agency.", field="owner")
    return owner


def _needs(codes: list[str]) -> list[TaxonomyTerm]:
    wanted = list(dict.fromkeys(codes))
    terms = list(TaxonomyTerm.objects.filter(taxonomy__name=NEEDS, code__in=wanted))
    unknown = set(wanted) - {term.code for term in terms}
    if unknown:
        raise DomainError(f"Unknown need '{sorted(unknown)[0]}'.", field="needs")
    return terms


def _share_with_receiver(request, referral: Referral) -> None:
    """The receiving agency's view of the client: the packet that was sent, if its consent still
    covers it now (else why not) -- the same gate and ledger as the packet pages, channel API."""
    packet = packet_latest(referral=referral)
    if packet is None:  # only a sent referral reaches a receiver, and sending stores the packet
        return
    release = packet_release(
        packet=packet, agency=request.agency, by=request.user, as_pdf=False, channel=Channel.API
    )
    if not release:
        referral.client_details_withheld = release.decision.reason
        return
    referral.shared_packet = {"created_at": packet.created_at, **packet_data(packet)}


WRITE_ERRORS = {
    400: DomainErrorOut,
    401: ErrorOut,
    403: DomainErrorOut,
    404: ErrorOut,
    409: DomainErrorOut,
    422: ValidationErrorOut,
}


# --- referrals ---------------------------------------------------------------------------------


@router.get(
    "/referrals",
    response={200: list[ReferralItemOut], 401: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut},
    summary="Referrals the agency sent or received, newest first",
)
@paginate
def referral_list(request, filters: Query[ReferralFilters]):
    api_require(request, Perm.VIEW)
    agency = request.agency
    referrals = (
        Referral.objects.visible_to(request.user, agency)
        .select_related(*LIST_RELATED)
        .prefetch_related(*LIST_AGENCIES)
    )
    if filters.direction == "outbound":
        referrals = referrals.filter(agency=agency)
    elif filters.direction == "inbound":
        referrals = referrals.filter(receiving_agency=agency)
    if filters.status:
        referrals = referrals.filter(status=filters.status)
    if filters.owner:
        owner = request.user.pk if filters.owner == "me" else int(filters.owner)
        referrals = referrals.filter(owner_id=owner)
    if filters.organization:
        referrals = referrals.filter(organization_id=filters.organization)
    if filters.overdue:
        referrals = referrals.filter(next_due_at__lte=timezone.now())
    audit_record(
        action="list",
        request=request,
        object_type="referrals.referral",
        detail={"filters": filters.model_dump(mode="json", exclude_defaults=True)},
    )
    return referrals.order_by("-created_at", "-id")


@router.post(
    "/referrals",
    response={
        201: ReferralOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="Create a draft referral",
)
@idempotent
def referral_create(request, payload: ReferralIn):
    """400 with `field`: a client, organization, service, consent, owner or need the agency
    cannot use, a service of another organization, a consent of another client."""
    api_require(request, Perm.WRITE)
    organization = _visible_or_error(
        Organization.objects,
        request,
        payload.organization,
        field="organization",
        message="That organization is not in your network's directory.",
    )
    data = services.ReferralData(
        client=_visible_or_error(
            Client.objects, request, payload.client, field="client", message="Unknown client."
        ),
        organization=organization,
        service=_visible_or_error(
            Service.objects,
            request,
            payload.service,
            field="service",
            message="That service is not in your network's directory.",
        ),
        owner=_owner(payload.owner),
        contact_name=payload.contact_name,
        contact_email=payload.contact_email,
        contact_phone=payload.contact_phone,
        needs=tuple(_needs(payload.needs)),
        reason=payload.reason,
        urgency=payload.urgency,
        consent=_visible_or_error(
            Consent.objects, request, payload.consent, field="consent", message="Unknown consent."
        ),
        categories=tuple(payload.categories),
    )
    created = services.referral_create(
        agency=request.agency, actor=_actor(request), data=data, request=request
    )
    return HttpStatus(201, _referral(request, created.pk))


@router.get(
    "/referrals/{int:referral_id}",
    response={200: ReferralOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="One referral (the receiving agency sees the shared packet, not the client record)",
)
def referral_detail(request, referral_id: int):
    api_require(request, Perm.VIEW)
    referral = _referral(request, referral_id)
    sender = referral.agency_id == request.agency.pk
    if not sender:
        _share_with_receiver(request, referral)
    audit_record(
        action="view",
        request=request,
        obj=referral,
        detail={
            "as": "sender" if sender else "receiver",
            "withheld": bool(getattr(referral, "client_details_withheld", None)),
        },
    )
    return referral


@router.post(
    "/referrals/{int:referral_id}/send",
    response={200: ReferralItemOut, **WRITE_ERRORS},
    summary="Send a draft",
)
def referral_send(request, referral_id: int, payload: SendIn | None = None):
    """Checks the client's safe-contact rules and the consent, stores the packet, and delivers
    it to the receiving agency's inbox (an organization on Referloop) or e-mails the partner a
    reply link. 409 with code `consent` and the reason when the consent does not cover it (or
    `conflict` on a stale `version`); 400 when the referral is not a draft."""
    api_require(request, Perm.WRITE)
    referral = _referral(request, referral_id, sender_only=True)
    version = payload.version if payload else None
    return services.referral_send(
        referral=referral, actor=_actor(request), version=version, request=request
    )


@router.post(
    "/referrals/{int:referral_id}/transitions",
    response={200: ReferralItemOut, **WRITE_ERRORS},
    summary="Change a referral's status",
)
def referral_transition(request, referral_id: int, payload: TransitionIn):
    """Moves the referral along its life cycle (FHIR Task statuses). 400 with code
    `invalid_transition` and the allowed moves when the move is not allowed; 400 naming
    `reason` or `disposition` when one is required; 403 (code `forbidden`) when the other side
    makes this move; 409 on a stale `version`."""
    api_require(request, Perm.WRITE)
    referral = _referral(request, referral_id)
    return services.referral_transition(
        referral=referral,
        actor=_actor(request),
        to_status=payload.status,
        disposition=payload.disposition,
        reason=payload.reason,
        note=payload.note,
        version=payload.version,
        request=request,
    )


@router.post(
    "/referrals/{int:referral_id}/owner",
    response={200: ReferralItemOut, **WRITE_ERRORS},
    summary="Give the referral to another member",
)
def referral_reassign(request, referral_id: int, payload: OwnerIn):
    """The sending agency's (403 otherwise). 400 naming `owner` when they are not an active
    member of the agency; 409 on a stale `version`."""
    api_require(request, Perm.WRITE)
    referral = _referral(request, referral_id, sender_only=True)
    return services.referral_reassign(
        referral=referral,
        actor=_actor(request),
        owner=_owner(payload.owner),
        version=payload.version,
        request=request,
    )


@router.post(
    "/referrals/{int:referral_id}/no-rereferral",
    response={200: ReferralItemOut, **WRITE_ERRORS},
    summary="A referral not accepted needs no new referral (and why)",
)
def referral_bounce_resolve(request, referral_id: int, payload: BounceResolveIn):
    """Settles a bounce-back: the referral was not accepted and the owner decides no other
    partner is needed. The sending agency's (403 otherwise); 409 with code `conflict` when
    the referral is not waiting to be re-referred."""
    api_require(request, Perm.WRITE)
    referral = _referral(request, referral_id, sender_only=True)
    return services.referral_bounce_resolve(
        referral=referral, actor=_actor(request), note=payload.note
    )


@router.post(
    "/referrals/{int:referral_id}/follow-ups",
    response={201: ReferralItemOut, **WRITE_ERRORS},
    summary="Record a follow-up with the partner",
)
@idempotent
def referral_follow_up_create(request, referral_id: int, payload: FollowUpIn | None = None):
    """The owner chased the partner; the follow-up clock restarts. Only the sending agency
    follows up (403 otherwise); only open referrals (400)."""
    api_require(request, Perm.WRITE)
    referral = _referral(request, referral_id, sender_only=True)
    payload = payload or FollowUpIn()
    updated = services.referral_follow_up_log(
        referral=referral,
        actor=_actor(request),
        channel=payload.channel,
        note=payload.note,
        version=payload.version,
        request=request,
    )
    return HttpStatus(201, updated)


@router.post(
    "/referrals/{int:referral_id}/notes",
    response={201: ReferralItemOut, **WRITE_ERRORS},
    summary="Add a note to the timeline",
)
@idempotent
def referral_note_create(request, referral_id: int, payload: NoteIn):
    api_require(request, Perm.WRITE)
    referral = _referral(request, referral_id)
    updated = services.referral_note_add(
        referral=referral, actor=_actor(request), note=payload.note, request=request
    )
    return HttpStatus(201, updated)


@router.post(
    "/referrals/{int:referral_id}/contact-attempts",
    response={201: ReferralItemOut, **WRITE_ERRORS},
    summary="Record an attempt to reach the client",
)
@idempotent
def referral_contact_attempt_create(
    request, referral_id: int, payload: ContactAttemptIn | None = None
):
    """By the sending team, or by the receiving agency's staff (a partner update). Only open
    referrals (400 with code `invalid_transition` otherwise)."""
    api_require(request, Perm.WRITE)
    referral = _referral(request, referral_id)
    updated = services.referral_contact_attempt(
        referral=referral,
        actor=_actor(request),
        note=payload.note if payload else "",
        by_partner=referral.receiving_agency_id == request.agency.pk,
        request=request,
    )
    return HttpStatus(201, updated)


@router.get(
    "/referrals/{int:referral_id}/timeline",
    response={
        200: list[EventOut],
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="A referral's timeline, newest first",
)
@paginate
def referral_timeline(request, referral_id: int):
    api_require(request, Perm.VIEW)
    referral = _referral(request, referral_id)
    audit_record(action="view", request=request, obj=referral, detail={"timeline": True})
    return referral.events.select_related("actor", "actor_agency", "disposition")


@router.get(
    "/referrals/{int:referral_id}/replies",
    response={200: list[ReplyLinkOut], **API_OBJECT},
    summary="The reply links sent to the partner and their answers, newest first",
)
@paginate
def referral_reply_list(request, referral_id: int):
    """What came back through the one-question reply link e-mailed to a partner not on
    Referloop (its answers also move the referral and are in its timeline). The sending
    agency's: a receiving agency sees none."""
    api_require(request, Perm.VIEW)
    referral = _referral(request, referral_id)
    audit_record(action="view", request=request, obj=referral, detail={"replies": True})
    return selectors.referral_reply_links(referral=referral, agency=request.agency)


@router.get(
    "/referrals/{int:referral_id}/packet.pdf",
    response={200: str, **API_OBJECT, 409: DomainErrorOut},
    summary="The packet the referral was sent with, as a PDF",
    openapi_extra={"responses": {"200": {"content": {"application/pdf": {}}}}},
)
def referral_packet_pdf(request, referral_id: int) -> HttpResponse:
    """As the packet page's download: the consent is checked now and the download written to
    the client's disclosure ledger (the sending agency's every time, the receiving agency's at
    most once a day); 409 with code `consent` and the reason when the consent no longer covers
    it. 404 for a draft (no packet yet)."""
    api_require(request, Perm.VIEW)
    referral = _referral(request, referral_id)
    packet = packet_latest(referral=referral)
    if packet is None:
        raise HttpError(404, "This referral has no packet yet: it is stored when it is sent.")
    release = packet_pdf_download(request=request, packet=packet, channel=Channel.API)
    if not release:
        raise DomainError(release.decision.reason, code="consent")
    return packet_pdf_response(referral, release.pdf)


@router.get(
    "/dispositions",
    response={200: list[DispositionOut], 401: ErrorOut, 403: ErrorOut},
    summary="The agency's disposition codes (outcomes and reasons not accepted)",
)
def disposition_list(request):
    api_require(request, Perm.VIEW)
    return DispositionCode.objects.for_agency(request.agency).filter(is_active=True)


@router.patch(
    "/dispositions/{code}",
    response={200: DispositionOut, **API_WRITE},
    summary="Rename a disposition code, or turn it off or on (administrators)",
)
def disposition_update(request, code: Code, payload: DispositionPatch):
    """400 naming `is_active` for a code the life cycle records itself (rename it instead)."""
    api_require(request, Perm.CONFIGURE_AGENCY)
    disposition = get_for_user_or_404(DispositionCode, request, code=code)
    given = payload.model_dump(exclude_unset=True)
    return services.disposition_code_update(
        disposition=disposition,
        actor=request.user,
        label=given.get("label", disposition.label),
        is_active=given.get("is_active", disposition.is_active),
        request=request,
    )
