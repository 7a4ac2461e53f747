"""Writes for clients, safe-contact rules, consents and the disclosure ledger."""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from referloop.clients import matching
from referloop.clients.models import Category, Client, Consent, Disclosure, RecipientClass, Signer
from referloop.clients.selectors import client_possible_duplicates
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.timeutils import agency_zone

SAFE_CONTACT_FLAGS = (
    "do_not_contact",
    "voicemail_ok",
    "text_ok",
    "email_ok",
    "do_not_disclose_location",
)
SAFE_CONTACT_TEXT = {
    "safe_phone": 50,
    "safe_email": 254,
    "safe_hours": 120,
    "safe_contact_note": 1000,
}
IDENTITY_TEXT = {
    "first_name": 100,
    "last_name": 100,
    "preferred_name": 100,
    "phone": 50,
    "email": 254,
    "address": 500,
    "preferred_language": 60,
}


def _clean_text(value, *, field_name: str, max_length: int, required: bool = False) -> str:
    text = " ".join(str(value or "").split()) if field_name != "address" else str(value or "")
    text = text.strip()
    if "\x00" in text:
        raise DomainError("Contains a character that is not allowed (NUL).", field=field_name)
    if len(text) > max_length:
        raise DomainError(f"At most {max_length} characters.", field=field_name)
    if required and not text:
        raise DomainError("This field is required.", field=field_name)
    return text


def _clean_birth_date(value) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise DomainError(
                "Enter the date of birth as YYYY-MM-DD.", field="date_of_birth"
            ) from None
    if value > timezone.localdate():
        raise DomainError("The date of birth is in the future.", field="date_of_birth")
    if value.year < 1900:
        raise DomainError("The date of birth is before 1900.", field="date_of_birth")
    return value.isoformat()


@dataclass
class ClientData:
    first_name: str
    last_name: str
    date_of_birth: date | str | None = None
    preferred_name: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    preferred_language: str = ""
    safe_contact: dict = field(default_factory=dict)


def _apply_identity(client: Client, data: ClientData) -> None:
    for name, max_length in IDENTITY_TEXT.items():
        value = _clean_text(
            getattr(data, name),
            field_name=name,
            max_length=max_length,
            required=name in ("first_name", "last_name"),
        )
        setattr(client, name, value)
    client.date_of_birth = _clean_birth_date(data.date_of_birth)
    client.name_dob_hash = (
        matching.name_dob_hash(client.first_name, client.last_name, client.date_of_birth)
        if client.date_of_birth
        else ""
    )
    client.dob_hash = matching.dob_hash(client.date_of_birth)
    client.last_name_sound_hash = matching.last_name_sound_hash(client.last_name)


def _apply_safe_contact(client: Client, rules: dict) -> None:
    unknown = set(rules) - set(SAFE_CONTACT_FLAGS) - set(SAFE_CONTACT_TEXT)
    if unknown:
        raise DomainError(f"Unknown safe-contact rule: {sorted(unknown)[0]}.", field="safe_contact")
    for name in SAFE_CONTACT_FLAGS:
        if name in rules:
            setattr(client, name, bool(rules[name]))
    for name, max_length in SAFE_CONTACT_TEXT.items():
        if name in rules:
            setattr(client, name, _clean_text(rules[name], field_name=name, max_length=max_length))


def client_create(
    *, agency, actor, data: ClientData, allow_duplicate: bool = False, request=None
) -> Client:
    """Records a client. A possible duplicate is refused (code "duplicate", naming the existing
    record) unless the person confirmed it is someone else (`allow_duplicate`)."""
    client = Client(agency=agency, created_by=actor)
    _apply_identity(client, data)
    _apply_safe_contact(client, data.safe_contact)
    if not allow_duplicate:
        duplicates = client_possible_duplicates(
            agency=agency,
            first_name=client.first_name,
            last_name=client.last_name,
            date_of_birth=client.date_of_birth,
        )
        if duplicates:
            first = duplicates[0]
            raise DomainError(
                f"{first.client.display_name} (client #{first.client.pk}) may be the same "
                f"person: {first.why}. Open that record, or confirm this is someone else.",
                field="first_name",
                code="duplicate",
            )
    with transaction.atomic():
        client.save()
        audit_record(action="create", request=request, user=actor, agency=agency, obj=client)
    return client


def client_update(*, client: Client, actor, data: ClientData, version: int, request=None) -> Client:
    with transaction.atomic():
        locked = Client.objects.select_for_update().get(pk=client.pk)
        if locked.version != version:
            raise DomainError(
                "Someone else changed this client since you opened it. Reload to see their "
                "changes, then make yours again.",
                code="conflict",
            )
        _apply_identity(locked, data)
        _apply_safe_contact(locked, data.safe_contact)
        locked.version += 1
        locked.updated_at = timezone.now()
        locked.save()
        audit_record(action="update", request=request, user=actor, agency=locked.agency, obj=locked)
    return locked


@dataclass
class ConsentData:
    categories: list[str]
    purpose: str
    signed_at: datetime
    signed_by_name: str
    recipient_organization: object | None = None
    recipient_class: str = ""
    signer: str = Signer.CLIENT
    representative_authority: str = ""
    part2: bool = False
    expires_on: date | None = None
    expiry_event: str = ""
    no_expiry: bool = False


def _validate_consent(data: ConsentData, client: Client) -> None:
    if (data.recipient_organization is None) == (not data.recipient_class):
        raise DomainError(
            "Name either one organization or a class of recipients.", field="recipient"
        )
    if data.recipient_class and data.recipient_class not in RecipientClass.values:
        raise DomainError("Unknown class of recipients.", field="recipient_class")
    if data.recipient_organization is not None and (
        data.recipient_organization.network_id != client.agency.network_id
    ):
        raise DomainError(
            "That organization is not in your network's directory.", field="recipient"
        )
    if not data.categories:
        raise DomainError("Choose at least one category of information.", field="categories")
    unknown = [value for value in data.categories if value not in Category.values]
    if unknown:
        raise DomainError(f"Unknown category of information: {unknown[0]}.", field="categories")
    if Category.SUBSTANCE_USE in data.categories and not data.part2:
        raise DomainError(
            "Substance-use information can only be shared under a 42 CFR Part 2 consent: tick "
            "the Part 2 box once the form has every Part 2 element.",
            field="part2",
        )
    _clean_text(data.purpose, field_name="purpose", max_length=300, required=True)
    _clean_text(data.signed_by_name, field_name="signed_by_name", max_length=200, required=True)
    if data.signer not in Signer.values:
        raise DomainError("Unknown signer.", field="signer")
    if data.signer != Signer.CLIENT and not data.representative_authority.strip():
        raise DomainError(
            "Describe the representative's authority to sign for the client.",
            field="representative_authority",
        )
    if data.signed_at > timezone.now():
        raise DomainError("The signature date is in the future.", field="signed_at")
    expiry_given = sum(
        bool(x) for x in (data.expires_on, data.expiry_event.strip(), data.no_expiry)
    )
    if expiry_given != 1:
        raise DomainError(
            "Give exactly one expiry: a date, an event (e.g. end of treatment), or none.",
            field="expires_on",
        )
    signed_on = timezone.localtime(data.signed_at, agency_zone(client.agency)).date()
    if data.expires_on and data.expires_on < signed_on:
        raise DomainError("The consent would expire before it was signed.", field="expires_on")


def consent_record(*, client: Client, actor, data: ConsentData, request=None) -> Consent:
    _validate_consent(data, client)
    consent = Consent(
        agency=client.agency,
        client=client,
        recipient_organization=data.recipient_organization,
        recipient_class=data.recipient_class,
        categories=[value for value in Category.values if value in data.categories],
        purpose=" ".join(data.purpose.split()),
        part2=data.part2,
        signed_at=data.signed_at,
        signed_by_name=" ".join(data.signed_by_name.split()),
        signer=data.signer,
        representative_authority=data.representative_authority.strip()[:300],
        expires_on=data.expires_on,
        expiry_event=" ".join(data.expiry_event.split())[:200],
        recorded_by=actor,
    )
    with transaction.atomic():
        consent.save()
        audit_record(
            action="create", request=request, user=actor, agency=client.agency, obj=consent
        )
    return consent


def consent_revoke(*, consent: Consent, actor, method: str, request=None) -> Consent:
    """Stops all future sharing under the consent at once; past disclosures stay in the ledger."""
    method = _clean_text(method, field_name="revocation_method", max_length=200, required=True)
    with transaction.atomic():
        locked = Consent.objects.select_for_update().get(pk=consent.pk)
        if locked.revoked_at is not None:
            raise DomainError("This consent was already revoked.", code="conflict")
        locked.revoked_at = timezone.now()
        locked.revocation_method = method
        locked.revoked_by = actor
        locked.save(update_fields=["revoked_at", "revocation_method", "revoked_by"])
        audit_record(action="revoke", request=request, user=actor, agency=locked.agency, obj=locked)
    return locked


def consent_end(*, consent: Consent, actor, request=None) -> Consent:
    """Records that the consent's expiry event (e.g. end of treatment) has happened."""
    with transaction.atomic():
        locked = Consent.objects.select_for_update().get(pk=consent.pk)
        if not locked.expiry_event:
            raise DomainError("This consent does not end on an event.", field="expiry_event")
        if locked.ended_at is not None:
            raise DomainError("This consent has already ended.", code="conflict")
        locked.ended_at = timezone.now()
        locked.save(update_fields=["ended_at"])
        audit_record(action="end", request=request, user=actor, agency=locked.agency, obj=locked)
    return locked


def disclosure_record(
    *,
    consent: Consent,
    channel: str,
    recipient_name: str,
    categories,
    description: str,
    recipient_address: str = "",
    obj=None,
    by=None,
) -> Disclosure:
    """Adds a row to the client's disclosure ledger; call it inside the disclosing transaction."""
    return Disclosure.objects.create(
        agency_id=consent.agency_id,
        client_id=consent.client_id,
        consent=consent,
        channel=channel,
        recipient_name=recipient_name[:300],
        recipient_address=recipient_address[:254],
        categories=list(categories),
        description=description[:300],
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        by=by,
    )
