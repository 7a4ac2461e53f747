"""The partners API: relationships (stage, tier, cadence, reciprocity), their interactions, and
partner people with their positions. Everything is the token agency's own: another agency's
relationship is a 404 (with an `access_denied` audit row); people belong to the network's
directory, so another network's person is a 404 too. Writes go through `partners.services`."""

from datetime import date, datetime
from typing import Literal

from django.http import HttpResponse
from ninja import Query, Router, Schema
from ninja import Status as HttpStatus
from ninja.pagination import paginate
from pydantic import Field

from referloop.core.access import api_require
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.idempotency import idempotent
from referloop.core.models import Membership
from referloop.core.pagination import Ranked
from referloop.core.permissions import Perm
from referloop.core.schemas import (
    API_OBJECT,
    API_READ,
    API_WRITE,
    AgencyDateTime,
    DomainErrorOut,
    Email,
    ErrorOut,
    Id,
    InputSchema,
    IsoDate,
    Text,
    ValidationErrorOut,
)
from referloop.core.scoping import get_for_user_or_404
from referloop.directory.models import Contact
from referloop.partners import meetings, selectors, services
from referloop.partners.meeting_views import invite_response
from referloop.partners.models import (
    InteractionKind,
    Material,
    MaterialKind,
    Meeting,
    Relationship,
    Stage,
    Tier,
)

router = Router(tags=["partners"])


# --- schemas -----------------------------------------------------------------------------------


class OrganizationRef(Schema):
    id: int
    name: str


class RelationshipOut(Schema):
    id: int
    organization: OrganizationRef
    stage: str
    stage_reason: str
    tier: str = Field(description="The tier set by hand")
    effective_tier: str = Field(description="primary when computed a top referrer")
    is_top_referrer: bool = Field(description="Computed from the referrals received")
    referrals_received_recent: int = Field(description="Over the policy's top-referrer window")
    considers: str
    mutual_benefits: str
    owner_id: int | None
    last_contact_at: datetime | None
    last_face_to_face_at: datetime | None
    update_owed_since: datetime | None
    next_step: str
    next_step_on: date | None
    next_due_at: datetime | None
    due_reason: str
    version: int


class RelationshipItemOut(RelationshipOut):
    received: int = Field(description="Referrals received from them, last 12 months")
    sent: int = Field(description="Referrals sent to them, last 12 months")
    health: str
    at_risk: bool


class RelationshipIn(InputSchema):
    organization: Id = Field(description="A directory organization of the agency's network")
    owner: Id | None = Field(None, description="A member's user id; default: the token's user")


class RelationshipPatch(InputSchema):
    """Only the fields given change. `version` is the one last read (409 if it moved on)."""

    version: int = Field(ge=1)
    owner: Id | None = None
    tier: Tier | None = None
    considers: Text(4000) = None
    mutual_benefits: Text(4000) = None


class StageIn(InputSchema):
    stage: Stage
    reason: Text(500) = Field("", description="Needed for not_a_fit")
    note: Text(500) = ""


class RelationshipFilter(Schema):
    stage: Stage | None = None
    tier: Tier | None = None
    owner: Id | None = None
    at_risk: bool = False
    due: bool = Field(False, description="Only those due now")
    sort: str = Field("last_contact", pattern="^(" + "|".join(selectors.SORTS) + ")$")


class InteractionIn(InputSchema):
    kind: InteractionKind = InteractionKind.CALL
    occurred_at: AgencyDateTime | None = Field(None, description="Default: now")
    people: list[Id] = Field(default_factory=list, max_length=50)
    summary: Text(4000) = ""
    next_step: Text(500) = ""
    next_step_on: IsoDate | None = None
    referral: Id | None = Field(None, description="A referral of the agency's it is about")
    material: Id | None = Field(None, description="For print_media: which material went out")
    quantity: int | None = Field(None, ge=1, le=10_000)


class InteractionOut(Schema):
    id: int
    relationship_id: int
    kind: str
    occurred_at: datetime
    owner_id: int | None
    people: list[int]
    summary: str
    next_step: str
    next_step_on: date | None
    referral_id: int | None
    material_id: int | None
    quantity: int | None

    @staticmethod
    def resolve_people(obj):
        return [person.pk for person in obj.people.all()]


class MonthOut(Schema):
    month: str
    received: int
    sent: int


class PositionOut(Schema):
    organization: OrganizationRef
    title: str
    started_on: date
    ended_on: date | None


class ContactOut(Schema):
    id: int
    name: str
    title: str
    email: str
    other_emails: list[str]
    phones: list[str]
    organization: OrganizationRef | None
    positions: list[PositionOut]

    @staticmethod
    def resolve_phones(obj):
        return [phone.number for phone in obj.phones.all()]

    @staticmethod
    def resolve_positions(obj):
        return list(obj.positions.all())


class ContactIn(InputSchema):
    organization: Id
    name: Text(200, required=True)
    title: Text(200) = ""
    email: Email = ""
    other_emails: list[Email] = Field(default_factory=list, max_length=20)
    phones: list[Text(50)] = Field(default_factory=list, max_length=20)


class ContactPatch(InputSchema):
    """Only the fields given change."""

    name: Text(200, required=True) = None
    title: Text(200) = None
    email: Email = None
    other_emails: list[Email] | None = Field(None, max_length=20)
    phones: list[Text(50)] | None = Field(None, max_length=20)


class MoveIn(InputSchema):
    organization: Id
    title: Text(200) = ""
    on: IsoDate | None = Field(None, description="Default: today")


class MergeIn(InputSchema):
    keep: Id
    duplicate: Id


class ContactDuplicateOut(Schema):
    keep: int
    duplicate: int
    reason: str


# --- helpers -----------------------------------------------------------------------------------


def _relationship(request, relationship_id: int) -> Relationship:
    queryset = Relationship.objects.select_related("agency", "organization")
    return get_for_user_or_404(queryset, request, pk=relationship_id)


def _member_user(request, user_id: int | None):
    if user_id is None:
        return None
    membership = Membership.objects.filter(
        agency=request.agency, user_id=user_id, is_active=True
    ).first()
    if membership is None:
        raise DomainError("The owner must be an active member of your agency.", field="owner")
    return membership.user


def _contact(request, contact_id: int) -> Contact:
    queryset = Contact.objects.select_related("organization").prefetch_related(
        "phones", "positions__organization"
    )
    return get_for_user_or_404(queryset, request, pk=contact_id)


# --- relationships -----------------------------------------------------------------------------


@router.get(
    "/relationships",
    response={200: list[RelationshipItemOut], **API_READ},
    summary="The agency's partners, with reciprocity and health",
)
@paginate
def relationship_list(request, filters: Query[RelationshipFilter]):
    api_require(request, Perm.VIEW)
    rows = selectors.relationship_list(
        agency=request.agency,
        stage=filters.stage or "",
        tier=filters.tier or "",
        owner_id=filters.owner,
        at_risk=filters.at_risk,
        due=filters.due,
        sort=filters.sort,
    )
    audit_record(action="list", request=request, object_type="partners.relationship")
    key = selectors.relationship_sort_key(filters.sort)
    items = []
    for row in rows:
        relationship = row.relationship
        relationship.received, relationship.sent = row.received, row.sent
        relationship.health, relationship.at_risk = row.health, row.at_risk
        items.append((key(row), relationship))
    return Ranked(items)


@router.post(
    "/relationships",
    response={201: RelationshipOut, 200: RelationshipOut, **API_WRITE},
    summary="Start a relationship with a directory organization (200: it already exists)",
)
@idempotent
def relationship_create(request, payload: RelationshipIn):
    api_require(request, Perm.WRITE)
    existing = Relationship.objects.for_agency(request.agency).filter(
        organization_id=payload.organization
    )
    known = existing.exists()
    relationship = services.relationship_ensure(
        agency=request.agency,
        organization=payload.organization,
        actor=request.user,
        owner=_member_user(request, payload.owner),
    )
    return HttpStatus(200 if known else 201, relationship)


@router.get(
    "/relationships/{int:relationship_id}",
    response={200: RelationshipOut, **API_OBJECT},
    summary="One partner relationship",
)
def relationship_detail(request, relationship_id: int):
    api_require(request, Perm.VIEW)
    relationship = _relationship(request, relationship_id)
    audit_record(action="view", request=request, obj=relationship)
    return relationship


@router.patch(
    "/relationships/{int:relationship_id}",
    response={200: RelationshipOut, **API_WRITE},
    summary="Change the owner, the hand-set tier, what they value, the mutual benefits",
)
def relationship_patch(request, relationship_id: int, payload: RelationshipPatch):
    """400 with code `remuneration` when the mutual benefits describe paying for referrals."""
    api_require(request, Perm.WRITE)
    relationship = _relationship(request, relationship_id)
    given = payload.model_dump(exclude_unset=True)
    return services.relationship_update(
        relationship=relationship,
        actor=request.user,
        owner=_member_user(request, given.get("owner")),
        tier=given.get("tier"),
        considers=given.get("considers"),
        mutual_benefits=given.get("mutual_benefits"),
        version=payload.version,
        request=request,
    )


@router.post(
    "/relationships/{int:relationship_id}/stage",
    response={200: RelationshipOut, **API_WRITE},
    summary="Move a relationship to another stage",
)
def relationship_stage(request, relationship_id: int, payload: StageIn):
    api_require(request, Perm.WRITE)
    relationship = _relationship(request, relationship_id)
    return services.relationship_stage_move(
        relationship=relationship,
        actor=request.user,
        stage=payload.stage,
        reason=payload.reason,
        note=payload.note,
        request=request,
    )


@router.get(
    "/relationships/{int:relationship_id}/reciprocity",
    response={200: list[MonthOut], **API_OBJECT},
    summary="Referrals received from and sent to the partner, per month, last 12 months",
)
def relationship_reciprocity(request, relationship_id: int):
    api_require(request, Perm.VIEW)
    relationship = _relationship(request, relationship_id)
    page = selectors.partner_page(relationship=relationship, timeline_limit=0)
    return [{"month": m, "received": r, "sent": s} for m, r, s in page.months]


@router.get(
    "/relationships/{int:relationship_id}/interactions",
    response={200: list[InteractionOut], **API_OBJECT},
    summary="The relationship's interactions, newest first",
)
@paginate
def interaction_list(request, relationship_id: int):
    api_require(request, Perm.VIEW)
    relationship = _relationship(request, relationship_id)
    return relationship.interactions.prefetch_related("people").order_by("-occurred_at", "-pk")


@router.post(
    "/relationships/{int:relationship_id}/interactions",
    response={201: InteractionOut, **API_WRITE},
    summary="Log an interaction (moves the cadence on)",
)
@idempotent
def interaction_create(request, relationship_id: int, payload: InteractionIn):
    """400 with code `remuneration` when it records a payment or reward for referrals."""
    api_require(request, Perm.WRITE)
    relationship = _relationship(request, relationship_id)
    material = None
    if payload.material is not None:
        material = Material.objects.for_agency(request.agency).filter(pk=payload.material).first()
        if material is None:
            raise DomainError("No such material in your agency.", field="material")
    interaction = services.interaction_log(
        relationship=relationship,
        actor=request.user,
        kind=payload.kind,
        occurred_at=payload.occurred_at,
        people=payload.people,
        summary=payload.summary,
        next_step=payload.next_step,
        next_step_on=payload.next_step_on,
        referral_id=payload.referral,
        material=material,
        quantity=payload.quantity,
        request=request,
    )
    return HttpStatus(201, interaction)


# --- people ------------------------------------------------------------------------------------


@router.get(
    "/contacts",
    response={200: list[ContactOut], **API_READ},
    summary="The agency's partner people, with their positions",
)
@paginate
def contact_list(request):
    api_require(request, Perm.VIEW)
    ids = [key.contact_id for key in selectors.partner_people(agency=request.agency)]
    return (
        Contact.objects.filter(pk__in=ids)
        .select_related("organization")
        .prefetch_related("phones", "positions__organization")
        .order_by("name", "pk")
    )


@router.post("/contacts", response={201: ContactOut, **API_WRITE}, summary="Add a partner person")
@idempotent
def contact_create(request, payload: ContactIn):
    api_require(request, Perm.WRITE)
    contact = services.partner_contact_create(
        agency=request.agency,
        actor=request.user,
        name=payload.name,
        organization=payload.organization,
        title=payload.title,
        email=payload.email,
        other_emails=payload.other_emails,
        phones=payload.phones,
        request=request,
    )
    return HttpStatus(201, _contact(request, contact.pk))


@router.get(
    "/contacts/{int:contact_id}", response={200: ContactOut, **API_OBJECT}, summary="One person"
)
def contact_detail(request, contact_id: int):
    api_require(request, Perm.VIEW)
    return _contact(request, contact_id)


@router.patch(
    "/contacts/{int:contact_id}",
    response={200: ContactOut, **API_WRITE},
    summary="Correct a person's name, title, addresses and numbers",
)
def contact_update(request, contact_id: int, payload: ContactPatch):
    api_require(request, Perm.WRITE)
    contact = _contact(request, contact_id)
    given = payload.model_dump(exclude_unset=True)
    services.partner_contact_update(
        agency=request.agency,
        actor=request.user,
        contact=contact,
        name=given.get("name", contact.name),
        title=given.get("title", contact.title),
        email=given.get("email", contact.email),
        other_emails=given.get("other_emails", contact.other_emails) or [],
        phones=given.get("phones", [phone.number for phone in contact.phones.all()]) or [],
        request=request,
    )
    return _contact(request, contact_id)


@router.post(
    "/contacts/{int:contact_id}/move",
    response={200: ContactOut, **API_WRITE},
    summary="The person moved to another organization (history kept, re-establish item)",
)
def contact_move(request, contact_id: int, payload: MoveIn):
    api_require(request, Perm.WRITE)
    contact = _contact(request, contact_id)
    services.contact_move(
        agency=request.agency,
        actor=request.user,
        contact=contact,
        organization=payload.organization,
        title=payload.title,
        on=payload.on,
        request=request,
    )
    return _contact(request, contact_id)


@router.post(
    "/contacts/merge",
    response={200: ContactOut, **API_WRITE},
    summary="Merge a duplicate person into the one kept (every interaction kept)",
)
def contact_merge(request, payload: MergeIn):
    api_require(request, Perm.WRITE)
    keep, duplicate = _contact(request, payload.keep), _contact(request, payload.duplicate)
    services.contact_merge(
        agency=request.agency, actor=request.user, keep=keep, duplicate=duplicate, request=request
    )
    return _contact(request, keep.pk)


@router.get(
    "/duplicates",
    response={200: list[ContactDuplicateOut], **API_READ},
    summary="Likely duplicate people (same e-mail, similar names at one organization)",
)
def duplicate_list(request):
    api_require(request, Perm.VIEW)
    return [
        {"keep": pair.keep.pk, "duplicate": pair.duplicate.pk, "reason": pair.reason}
        for pair in selectors.contact_duplicates(agency=request.agency)
    ]


ERRORS = {400: DomainErrorOut, 401: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut}


# --- meetings ---------------------------------------------------------------------------------


class MeetingIn(InputSchema):
    """A meeting sent as a calendar invitation to `contacts` (partner contact ids of the
    network's directory, each with an e-mail address), `colleagues` (user ids of the agency's
    members) and the caller, who organizes it."""

    title: Text(200, required=True)
    starts_at: AgencyDateTime
    ends_at: AgencyDateTime = Field(description="After starts_at, at most 24 hours later")
    kind: Literal["in_person", "video"] = "in_person"
    location: Text(300) = ""
    description: Text(4000) = ""
    contacts: list[Id] = Field(default_factory=list, max_length=200)
    colleagues: list[Id] = Field(default_factory=list, max_length=200)
    relationship: Id | None = Field(None, description="The partner relationship it is about")


class MeetingPatch(InputSchema):
    """Only the fields given change; `contacts` and `colleagues` are the whole new lists. A
    change re-sends the invitation to everyone (a new time asks them to answer again); people
    taken off the list get a cancellation."""

    title: Text(200, required=True) = None
    starts_at: AgencyDateTime = None
    ends_at: AgencyDateTime = Field(None, description="After starts_at, at most 24 hours later")
    kind: Literal["in_person", "video"] = None
    location: Text(300) = None
    description: Text(4000) = None
    contacts: list[Id] = Field(None, max_length=200)
    colleagues: list[Id] = Field(None, max_length=200)


class AttendeeOut(Schema):
    name: str
    email: str
    contact_id: int | None
    user_id: int | None
    partstat: str = Field(description="RFC 5545 PARTSTAT: NEEDS-ACTION, ACCEPTED, DECLINED...")
    responded_at: datetime | None


class MeetingOut(Schema):
    id: int
    uid: str
    sequence: int
    status: str
    title: str
    description: str
    location: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    time_zone: str
    organizer_id: int
    relationship_id: int | None
    attendees: list[AttendeeOut]

    @staticmethod
    def resolve_attendees(obj):
        return list(obj.attendees.all())


def _meeting(request, meeting_id: int) -> Meeting:
    queryset = Meeting.objects.select_related("organizer", "agency").prefetch_related("attendees")
    return get_for_user_or_404(queryset, request, pk=meeting_id)


@router.post(
    "/meetings",
    response={201: MeetingOut, **ERRORS},
    summary="Schedule a meeting and send the invitations",
)
@idempotent
def meeting_create(request, payload: MeetingIn):
    api_require(request, Perm.WRITE)
    meeting = meetings.meeting_schedule(
        agency=request.agency, actor=request.user, request=request, **payload.model_dump()
    )
    return HttpStatus(201, meeting)


@router.get(
    "/meetings",
    response={200: list[MeetingOut], **ERRORS},
    summary="The agency's meetings, latest start first",
)
@paginate
def meeting_list(request):
    api_require(request, Perm.VIEW)
    return (
        Meeting.objects.visible_to(request.user, request.agency)
        .select_related("organizer")
        .prefetch_related("attendees")
        .order_by("-starts_at", "-pk")
    )


@router.get(
    "/meetings/{int:meeting_id}",
    response={200: MeetingOut, **API_OBJECT},
    summary="A meeting with its attendees' answers",
)
def meeting_detail(request, meeting_id: Id):
    api_require(request, Perm.VIEW)
    return _meeting(request, meeting_id)


@router.patch(
    "/meetings/{int:meeting_id}",
    response={200: MeetingOut, 404: ErrorOut, 409: DomainErrorOut, **ERRORS},
    summary="Change a meeting: everyone invited gets the updated invitation",
)
def meeting_update(request, meeting_id: Id, payload: MeetingPatch):
    api_require(request, Perm.WRITE)
    return meetings.meeting_update(
        meeting=_meeting(request, meeting_id),
        actor=request.user,
        request=request,
        **payload.model_dump(exclude_unset=True),
    )


@router.post(
    "/meetings/{int:meeting_id}/cancel",
    response={200: MeetingOut, 404: ErrorOut, 409: DomainErrorOut, **ERRORS},
    summary="Cancel a meeting: every attendee gets the cancellation",
)
def meeting_cancel(request, meeting_id: Id):
    """409 when the meeting is already cancelled."""
    api_require(request, Perm.WRITE)
    return meetings.meeting_cancel(
        meeting=_meeting(request, meeting_id), actor=request.user, request=request
    )


@router.get(
    "/meetings/{int:meeting_id}/invite.ics",
    response={200: str, **API_OBJECT},
    summary="The invitation as an iCalendar file",
    openapi_extra={"responses": {"200": {"content": {"text/calendar": {}}}}},
)
def meeting_invite(request, meeting_id: Id) -> HttpResponse:
    api_require(request, Perm.VIEW)
    return invite_response(_meeting(request, meeting_id))


MAX_ON_HAND = 1_000_000


# --- schemas -----------------------------------------------------------------------------------


class MaterialIn(InputSchema):
    name: Text(200, required=True)
    kind: MaterialKind
    on_hand: int = Field(0, ge=0, le=MAX_ON_HAND, description="How many are on the shelf")
    is_welcome_packet: bool = Field(
        False, description="Sending it clears a person's 'send the welcome packet' item"
    )
    is_active: bool = True


class MaterialPatch(InputSchema):
    """Only the fields given change."""

    name: Text(200, required=True) = None
    kind: MaterialKind = None
    on_hand: int = Field(None, ge=0, le=MAX_ON_HAND)
    is_welcome_packet: bool = None
    is_active: bool = None


class MaterialOut(Schema):
    id: int
    name: str
    kind: str
    on_hand: int
    is_welcome_packet: bool
    is_active: bool


# --- materials ---------------------------------------------------------------------------------


@router.get(
    "/materials",
    response={200: list[MaterialOut], 401: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut},
    summary="The agency's print materials, with the count on hand",
)
@paginate
def material_list(request):
    api_require(request, Perm.VIEW)
    return selectors.agency_materials(agency=request.agency)


@router.post(
    "/materials",
    response={
        201: MaterialOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="Add a print material",
)
@idempotent
def material_create(request, payload: MaterialIn):
    """400 with `field` "name": the agency already has a material of that name."""
    api_require(request, Perm.WRITE)
    material = services.material_save(
        agency=request.agency, actor=request.user, request=request, **payload.model_dump()
    )
    return HttpStatus(201, material)


@router.patch(
    "/materials/{int:material_id}",
    response={
        200: MaterialOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="Change a print material (its name, type, count on hand, use)",
)
def material_update(request, material_id: int, payload: MaterialPatch):
    """400 with `field` "name": another material of the agency has that name."""
    api_require(request, Perm.WRITE)
    material = get_for_user_or_404(Material, request, pk=material_id)
    current = {name: getattr(material, name) for name in MaterialIn.model_fields}
    return services.material_save(
        agency=request.agency,
        actor=request.user,
        material=material,
        request=request,
        **{**current, **payload.model_dump(exclude_unset=True)},
    )
