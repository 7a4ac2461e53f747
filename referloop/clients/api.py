"""The clients API: clients (with safe-contact rules), their consents and the disclosure ledger.

Everything is the token agency's own data: a client or consent of another agency is a 404 (with
an `access_denied` audit row). Every read of client data writes an audit row, and every write goes
through `clients.services`, which validates it and writes its own.
"""

from datetime import date, datetime

from ninja import Query, Router, Schema
from ninja import Status as HttpStatus
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from referloop.clients import selectors, services
from referloop.clients.models import Category, Client, Consent, RecipientClass, Signer
from referloop.core.access import api_require
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.idempotency import idempotent
from referloop.core.pagination import Ranked
from referloop.core.permissions import Perm
from referloop.core.schemas import (
    NOT_BLANK,
    AgencyDateTime,
    DomainErrorOut,
    Email,
    ErrorOut,
    Id,
    InputSchema,
    IsoDate,
    Text,
    ValidationErrorOut,
    filled,
)
from referloop.core.scoping import get_for_user_or_404
from referloop.directory.models import Organization

router = Router(tags=["clients"])


# --- schemas -----------------------------------------------------------------------------------


class SafeContactIn(InputSchema):
    """Only the rules given change; the others keep their value."""

    do_not_contact: bool = False
    voicemail_ok: bool = False
    text_ok: bool = False
    email_ok: bool = False
    do_not_disclose_location: bool = False
    safe_phone: Text(50) = ""
    safe_email: Email = ""
    safe_hours: Text(120) = Field("", description='e.g. "weekdays after 6 pm"')
    safe_contact_note: Text(1000) = ""


class ClientIn(InputSchema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "first_name": "Dana",
                    "last_name": "Rivers",
                    "preferred_name": "Dee",
                    "date_of_birth": "1990-04-12",
                    "phone": "555-0100",
                    "preferred_language": "Spanish",
                    "safe_contact": {
                        "voicemail_ok": True,
                        "text_ok": False,
                        "safe_hours": "weekdays after 6 pm",
                    },
                }
            ]
        }
    )

    first_name: Text(100, required=True)
    last_name: Text(100, required=True)
    preferred_name: Text(100) = ""
    date_of_birth: IsoDate | None = None
    phone: Text(50) = ""
    email: Email = ""
    address: Text(500) = ""
    preferred_language: Text(60) = ""
    safe_contact: SafeContactIn = Field(default_factory=SafeContactIn)
    allow_duplicate: bool = Field(
        False, description="Record the client even though a possible duplicate exists."
    )


class ClientPatch(InputSchema):
    """Only the fields given change ("" empties a text, null a birth date). `version` is the
    one the caller last read: if someone changed the client since, nothing is saved and the
    answer is a 409."""

    version: int = Field(ge=1)
    # Left out, a field keeps its value; a null text is refused (an empty one is "").
    first_name: Text(100, required=True) = None
    last_name: Text(100, required=True) = None
    preferred_name: Text(100) = None
    date_of_birth: IsoDate | None = None
    phone: Text(50) = None
    email: Email = None
    address: Text(500) = None
    preferred_language: Text(60) = None
    safe_contact: SafeContactIn | None = None


class SafeContactOut(Schema):
    do_not_contact: bool
    voicemail_ok: bool
    text_ok: bool
    email_ok: bool
    do_not_disclose_location: bool
    safe_phone: str
    safe_email: str
    safe_hours: str
    safe_contact_note: str
    rules: list[str] = Field(description="The rules in plain words, as shown to staff")


class ClientOut(Schema):
    id: int
    first_name: str
    last_name: str
    preferred_name: str
    display_name: str
    date_of_birth: date | None
    phone: str
    email: str
    address: str
    preferred_language: str
    safe_contact: SafeContactOut
    created_at: datetime
    updated_at: datetime
    version: int

    @staticmethod
    def resolve_date_of_birth(obj):
        return obj.birth_date

    @staticmethod
    def resolve_safe_contact(obj):
        return {
            **{name: getattr(obj, name) for name in services.SAFE_CONTACT_FLAGS},
            **{name: getattr(obj, name) for name in services.SAFE_CONTACT_TEXT},
            "rules": selectors.safe_contact_rules(obj),
        }


# The columns a list item reads (the list decrypts nothing else).
LIST_COLUMNS = (
    "id",
    "agency_id",
    "first_name",
    "last_name",
    "preferred_name",
    "date_of_birth",
    "created_at",
    "version",
)


class ClientItemOut(Schema):
    id: int
    display_name: str
    date_of_birth: date | None
    created_at: datetime
    version: int
    match: str | None = Field(None, description="Why a name search found this client")

    @staticmethod
    def resolve_date_of_birth(obj):
        return obj.birth_date

    @staticmethod
    def resolve_match(obj):
        return getattr(obj, "match", None)


class ClientSearch(Schema):
    first_name: Text(100) = Field("", description="With last_name: find possible matches")
    last_name: Text(100) = ""
    date_of_birth: IsoDate | None = Field(
        None, description="With the names: also finds the same name and birth date exactly"
    )


class DuplicateOut(Schema):
    id: int
    display_name: str
    why: str


class DuplicateErrorOut(DomainErrorOut):
    duplicates: list[DuplicateOut]


class OrganizationRef(Schema):
    id: int
    name: str


class ConsentIn(InputSchema):
    """The recipient is either one organization of the network's directory
    (`recipient_organization`, an id) or a class of recipients (`recipient_class`); the expiry is
    exactly one of `expires_on`, `expiry_event` or `no_expiry`; substance-use information needs
    `part2`, and a signer other than the client their `representative_authority`."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "oneOf": [
                        filled("recipient_organization", type="integer"),
                        filled("recipient_class", type="string"),
                    ]
                },
                {
                    "oneOf": [
                        filled("expires_on", type="string"),
                        filled("expiry_event", pattern=NOT_BLANK),
                        filled("no_expiry", const=True),
                    ]
                },
                {
                    "if": filled("categories", contains={"const": Category.SUBSTANCE_USE.value}),
                    "then": filled("part2", const=True),
                },
                {
                    "if": filled("signer", enum=[s for s in Signer.values if s != Signer.CLIENT]),
                    "then": filled("representative_authority", pattern=NOT_BLANK),
                },
            ]
        }
    )

    recipient_organization: Id | None = None
    recipient_class: RecipientClass | None = None
    categories: list[Category] = Field(min_length=1, max_length=len(Category))
    purpose: Text(300, required=True)
    part2: bool = Field(False, description="The form meets 42 CFR 2.31 (substance use)")
    signed_at: AgencyDateTime
    signed_by_name: Text(200, required=True)
    signer: Signer = Signer.CLIENT
    representative_authority: Text(300) = ""
    expires_on: IsoDate | None = None
    expiry_event: Text(200) = Field("", description='e.g. "end of treatment"')
    no_expiry: bool = False


class ConsentOut(Schema):
    id: int
    client_id: int
    recipient_organization: OrganizationRef | None
    recipient_class: str
    recipient_label: str
    categories: list[str]
    purpose: str
    part2: bool
    signed_at: datetime
    signed_by_name: str
    signer: str
    representative_authority: str
    expires_on: date | None
    expiry_event: str
    ended_at: datetime | None
    revoked_at: datetime | None
    revocation_method: str
    state: str = Field(description="in force, revoked, ended, expired or not yet signed")
    created_at: datetime

    @staticmethod
    def resolve_state(obj):
        return obj.state_at()


class RevokeIn(InputSchema):
    method: Text(200, required=True) = Field(
        description='How the client revoked it, e.g. "in writing, signed form"'
    )


class DisclosureOut(Schema):
    id: int
    consent_id: int
    recipient_name: str
    recipient_address: str
    channel: str
    categories: list[str]
    description: str
    object_type: str
    object_id: str
    at: datetime
    by: str | None

    @staticmethod
    def resolve_by(obj):
        return str(obj.by) if obj.by_id else None


# --- helpers -----------------------------------------------------------------------------------


def _client(request, client_id: int) -> Client:
    return get_for_user_or_404(Client, request, pk=client_id)


def _client_data(payload: Schema, current: Client | None = None) -> services.ClientData:
    """The service's input: the fields given, over the client's current values (for a PATCH)."""
    given = payload.model_dump(exclude_unset=True, exclude={"version", "allow_duplicate"})
    safe_contact = given.pop("safe_contact", None) or {}
    base = {}
    if current is not None:
        base = {name: getattr(current, name) for name in services.IDENTITY_TEXT}
        base["date_of_birth"] = current.date_of_birth
    return services.ClientData(**{**base, **given}, safe_contact=safe_contact)


def _name_search(request, search: ClientSearch) -> Ranked:
    """The possible matches, the same name and birth date first, then newest first."""
    if not (search.first_name.strip() and search.last_name.strip()):
        raise DomainError(
            "Give both first and last name to find a client.",
            field="last_name" if search.first_name.strip() else "first_name",
        )
    found = selectors.client_possible_duplicates(
        agency=request.agency,
        first_name=search.first_name,
        last_name=search.last_name,
        date_of_birth=search.date_of_birth.isoformat() if search.date_of_birth else "",
    )
    for item in found:
        item.client.match = item.why
    return Ranked(
        sorted(
            ((item.why != selectors.SAME_NAME_AND_BIRTH, -item.client.pk), item.client)
            for item in found
        )
    )


# --- clients -----------------------------------------------------------------------------------


@router.get(
    "/clients",
    response={
        200: list[ClientItemOut],
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="The agency's clients, newest first, or those matching a name",
)
@paginate
def client_list(request, search: Query[ClientSearch]):
    """Without a name: every client of the agency, newest first. With `first_name` and
    `last_name` (and optionally `date_of_birth`): the clients who may be that person -- the
    same name and birth date, or a similar name -- best match first, each with `match`. Names
    are encrypted at rest; the search goes through keyed hashes, never a scan."""
    api_require(request, Perm.VIEW)
    searching = bool(search.first_name or search.last_name)
    if searching:
        clients = _name_search(request, search)
    else:
        clients = selectors.agency_clients(agency=request.agency).only(*LIST_COLUMNS)
    audit_record(
        action="list", request=request, object_type="clients.client", detail={"search": searching}
    )
    return clients


@router.post(
    "/clients",
    response={
        201: ClientOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        409: DuplicateErrorOut,
        422: ValidationErrorOut,
    },
    summary="Record a client",
)
@idempotent
def client_create(request, payload: ClientIn):
    """409 with code `duplicate` and the possible `duplicates` (their ids) when the agency may
    already know this person; send again with `allow_duplicate: true` if it is someone else.
    400 with `field`: a rule the value breaks (a birth date in the future, ...)."""
    api_require(request, Perm.WRITE)
    data = _client_data(payload)
    try:
        client = services.client_create(
            agency=request.agency,
            actor=request.user,
            data=data,
            allow_duplicate=payload.allow_duplicate,
            request=request,
        )
    except DomainError as error:
        if error.code != "duplicate":
            raise
        duplicates = selectors.client_possible_duplicates(
            agency=request.agency,
            first_name=data.first_name,
            last_name=data.last_name,
            date_of_birth=payload.date_of_birth.isoformat() if payload.date_of_birth else "",
        )
        return HttpStatus(
            409,
            {
                "detail": error.message,
                "field": error.field,
                "code": error.code,
                "duplicates": [
                    {
                        "id": item.client.pk,
                        "display_name": item.client.display_name,
                        "why": item.why,
                    }
                    for item in duplicates
                ],
            },
        )
    return HttpStatus(201, client)


@router.get(
    "/clients/{int:client_id}",
    response={200: ClientOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="One client, with safe-contact rules",
)
def client_detail(request, client_id: int):
    api_require(request, Perm.VIEW)
    client = _client(request, client_id)
    audit_record(action="view", request=request, obj=client)
    return client


@router.patch(
    "/clients/{int:client_id}",
    response={
        200: ClientOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: DomainErrorOut,
        422: ValidationErrorOut,
    },
    summary="Change a client's details or safe-contact rules",
)
def client_update(request, client_id: int, payload: ClientPatch):
    """409 with code `conflict` when `version` is not the client's current version (someone
    else changed it): read it again, then send the change again."""
    api_require(request, Perm.WRITE)
    client = _client(request, client_id)
    return services.client_update(
        client=client,
        actor=request.user,
        data=_client_data(payload, client),
        version=payload.version,
        request=request,
    )


# --- consents and the ledger ---------------------------------------------------------------------


@router.get(
    "/clients/{int:client_id}/consents",
    response={
        200: list[ConsentOut],
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="A client's consents, newest first",
)
@paginate
def client_consent_list(request, client_id: int):
    api_require(request, Perm.VIEW)
    client = _client(request, client_id)
    audit_record(action="list", request=request, object_type="clients.consent", object_id=client.pk)
    return selectors.client_consents(client=client)


@router.post(
    "/clients/{int:client_id}/consents",
    response={
        201: ConsentOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="Record a client's consent to share information",
)
@idempotent
def client_consent_create(request, client_id: int, payload: ConsentIn):
    """400 with `field`: no or two recipients, an organization outside the network's directory,
    substance use without the Part 2 box, a representative without their authority, a
    signature in the future, not exactly one expiry."""
    api_require(request, Perm.WRITE)
    client = _client(request, client_id)
    organization = None
    if payload.recipient_organization is not None:
        organization = (
            Organization.objects.visible_to(request.user, request.agency)
            .filter(pk=payload.recipient_organization)
            .first()
        )
        if organization is None:
            raise DomainError(
                "That organization is not in your network's directory.",
                field="recipient_organization",
            )
    data = services.ConsentData(
        categories=list(payload.categories),
        purpose=payload.purpose,
        signed_at=payload.signed_at,
        signed_by_name=payload.signed_by_name,
        recipient_organization=organization,
        recipient_class=payload.recipient_class or "",
        signer=payload.signer,
        representative_authority=payload.representative_authority,
        part2=payload.part2,
        expires_on=payload.expires_on,
        expiry_event=payload.expiry_event,
        no_expiry=payload.no_expiry,
    )
    consent = services.consent_record(client=client, actor=request.user, data=data, request=request)
    return HttpStatus(201, consent)


@router.post(
    "/consents/{int:consent_id}/revoke",
    response={
        200: ConsentOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: DomainErrorOut,
        422: ValidationErrorOut,
    },
    summary="Revoke a consent",
)
def consent_revoke(request, consent_id: int, payload: RevokeIn):
    """Stops all future sharing under the consent at once; what was shared before stays in the
    disclosure ledger. 409 with code `conflict` if it was already revoked."""
    api_require(request, Perm.WRITE)
    consent = get_for_user_or_404(
        Consent.objects.select_related("recipient_organization"), request, pk=consent_id
    )
    return services.consent_revoke(
        consent=consent, actor=request.user, method=payload.method, request=request
    )


@router.post(
    "/consents/{int:consent_id}/end",
    response={
        200: ConsentOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: DomainErrorOut,
        422: ValidationErrorOut,
    },
    summary="Record that a consent's expiry event has happened",
)
def consent_end(request, consent_id: int):
    """For a consent that ends on an event (`expiry_event`, e.g. "end of treatment"): nothing
    more is shared under it. 400 naming `expiry_event` when it has none; 409 with code
    `conflict` if it has ended already."""
    api_require(request, Perm.WRITE)
    consent = get_for_user_or_404(
        Consent.objects.select_related("recipient_organization"), request, pk=consent_id
    )
    return services.consent_end(consent=consent, actor=request.user, request=request)


@router.get(
    "/clients/{int:client_id}/disclosures",
    response={
        200: list[DisclosureOut],
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="The client's disclosure ledger: what went to whom, when, under which consent",
)
@paginate
def client_disclosure_list(request, client_id: int):
    api_require(request, Perm.VIEW)
    client = _client(request, client_id)
    audit_record(
        action="list", request=request, object_type="clients.disclosure", object_id=client.pk
    )
    return selectors.client_disclosures(client=client)
