"""Writes for intake: a screening checked and decided, the inquiry recorded with the options
offered, the person's choice and the warm handoff (a referral with consent, sent), the rules,
the intake profile and the rotation."""

from dataclasses import dataclass, field, fields, replace
from datetime import time

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from referloop.clients import services as client_services
from referloop.clients.models import Client
from referloop.clients.selectors import consent_covers_recipient
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError, clean_text, version_check
from referloop.core.models import Membership
from referloop.core.outbox import outbox_enqueue
from referloop.core.permissions import Perm, has_perm
from referloop.directory.models import TaxonomyTerm
from referloop.directory.search import LANGUAGE_NAMES
from referloop.directory.vocabulary import NEEDS, PAYMENT, VOCABULARIES
from referloop.intake import rules as triage
from referloop.intake import selectors
from referloop.intake.models import (
    Caller,
    Channel,
    Inquiry,
    InquiryOption,
    IntakeProfile,
    IntakeShift,
    Status,
    TriageRule,
)
from referloop.referrals import services as referral_services
from referloop.referrals.services import ReferralData

PAYMENT_CODES = {code for code, _ in VOCABULARIES[PAYMENT][1]}
ADULT_ONLY_NEEDS = {"sober-living", "employment", "medication-for-addiction"}
QUESTIONS = {
    "suicidal_risk": "Is the person imminently suicidal?",
    "homicidal_risk": "Is the person imminently homicidal?",
    "domestic_violence": "Is there domestic violence?",
    "substance_use": "Does the case involve substance use?",
    "legal_involvement": "Is the legal system involved?",
}


@dataclass
class ScreeningData:
    """What a screening answers. Yes/no questions are None until answered."""

    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    email: str = ""
    voicemail_ok: bool = False
    text_ok: bool = False
    safe_contact_note: str = ""
    channel: str = Channel.PHONE
    caller: str = Caller.SELF
    need: str = ""
    service_format: str = ""
    age_group: str = ""
    age: int | None = None
    specialties: list = field(default_factory=list)
    severity: str = ""
    suicidal_risk: bool | None = None
    homicidal_risk: bool | None = None
    domestic_violence: bool | None = None
    substance_use: bool | None = None
    detox_needed: bool | None = None
    legal_involvement: bool | None = None
    court_ordered: bool | None = None
    forensic_evaluation: bool | None = None
    insurance: str = ""
    has_transport: bool | None = None
    language: str = ""
    postal_code: str = ""
    notes: str = ""


SCREENING_FIELDS = tuple(f.name for f in fields(ScreeningData))


def _choice(value, allowed, *, field: str, what: str) -> str:
    value = str(value or "").strip()
    if not value:
        raise DomainError(f"Choose {what}.", field=field)
    if value not in allowed:
        raise DomainError(f"Unknown {what}: {value!r}.", field=field)
    return value


def _answered(value, *, field: str, question: str) -> bool:
    if value is None:
        raise DomainError(f"Answer yes or no: {question}", field=field)
    return bool(value)


def screening_clean(data: ScreeningData) -> ScreeningData:
    """The screening checked: every required answer given, known codes, no contradictions.
    Raises DomainError naming the field; returns a cleaned copy."""
    cleaned = replace(
        data,
        first_name=clean_text(
            data.first_name,
            field="first_name",
            max_length=100,
            required=True,
            label="the person's first name (or how they want to be called)",
        ),
        last_name=clean_text(data.last_name, field="last_name", max_length=100),
        phone=clean_text(data.phone, field="phone", max_length=50),
        email=clean_text(data.email, field="email", max_length=254).lower(),
        safe_contact_note=clean_text(
            data.safe_contact_note, field="safe_contact_note", max_length=300
        ),
        notes=clean_text(data.notes, field="notes", max_length=4000),
        channel=_choice(
            data.channel, Channel.values, field="channel", what="how the inquiry came in"
        ),
        caller=_choice(data.caller, Caller.values, field="caller", what="who is calling"),
        need=_choice(data.need, triage.NEED_NAMES, field="need", what="the service requested"),
        service_format=_choice(
            data.service_format, triage.FORMATS, field="service_format", what="a service format"
        ),
        age_group=_choice(
            data.age_group, triage.AGE_GROUPS, field="age_group", what="an age group"
        ),
        severity=_choice(data.severity, triage.SEVERITIES, field="severity", what="a severity"),
    )
    if cleaned.email and "@" not in cleaned.email:
        raise DomainError("Enter an e-mail address like name@example.org.", field="email")
    for name, question in QUESTIONS.items():
        setattr(cleaned, name, _answered(getattr(data, name), field=name, question=question))
    cleaned.detox_needed = (
        _answered(data.detox_needed, field="detox_needed", question="Is detox needed first?")
        if cleaned.substance_use
        else bool(data.detox_needed)
    )
    if cleaned.legal_involvement:
        cleaned.court_ordered = _answered(
            data.court_ordered, field="court_ordered", question="Is treatment court-ordered?"
        )
        cleaned.forensic_evaluation = _answered(
            data.forensic_evaluation,
            field="forensic_evaluation",
            question="Is a forensic evaluation (an assessment for court) needed?",
        )
    else:
        cleaned.court_ordered = bool(data.court_ordered)
        cleaned.forensic_evaluation = bool(data.forensic_evaluation)
    cleaned.specialties = list(dict.fromkeys(data.specialties or []))
    for code in cleaned.specialties:
        if code not in triage.SPECIALTIES:
            raise DomainError(f"Unknown specialty: {code!r}.", field="specialties")
    cleaned.insurance = str(data.insurance or "").strip()
    if cleaned.insurance and cleaned.insurance not in PAYMENT_CODES:
        raise DomainError(f"Unknown way to pay: {cleaned.insurance!r}.", field="insurance")
    cleaned.language = str(data.language or "").strip().lower()
    if cleaned.language and not (cleaned.language.isalpha() and 2 <= len(cleaned.language) <= 3):
        raise DomainError(
            "Give the language as a 2- or 3-letter ISO code (e.g. es).", field="language"
        )
    cleaned.postal_code = str(data.postal_code or "").strip()
    if cleaned.postal_code and not (
        cleaned.postal_code[:5].isdigit() and len(cleaned.postal_code) in (5, 10)
    ):
        raise DomainError("Enter a 5-digit ZIP code.", field="postal_code")
    cleaned.postal_code = cleaned.postal_code[:5]
    if data.age is not None:
        try:
            cleaned.age = int(data.age)
        except (TypeError, ValueError):
            raise DomainError("Enter the age as a whole number.", field="age") from None
        if not 0 <= cleaned.age <= 120:
            raise DomainError("Enter an age between 0 and 120.", field="age")
    _contradictions_refuse(cleaned)
    return cleaned


def _contradictions_refuse(s: ScreeningData) -> None:
    group = triage.AGE_GROUPS[s.age_group]
    if s.age is not None:
        low, high = triage.AGE_RANGES[s.age_group]
        if not low <= s.age <= high:
            raise DomainError(f"Age {s.age} does not fit the age group {group}.", field="age")
    if s.service_format == "couples" and s.age_group == "child":
        raise DomainError(
            "Couples therapy is not for children: check the format or age group.",
            field="service_format",
        )
    if s.need in ADULT_ONLY_NEEDS and s.age_group != "adult":
        raise DomainError(
            f"{triage.NEED_NAMES[s.need]} is an adult program: it does not fit a {group} "
            "client. Choose the service or the age group again.",
            field="need",
        )
    for code in s.specialties:
        label, groups = triage.SPECIALTIES[code]
        if groups is not None and s.age_group not in groups:
            raise DomainError(
                f"{label.capitalize()} is not for a {group} client.", field="specialties"
            )
    if s.detox_needed and not s.substance_use:
        raise DomainError(
            "Detox is needed only with substance use: check the answers.", field="detox_needed"
        )
    if (s.court_ordered or s.forensic_evaluation) and not s.legal_involvement:
        raise DomainError(
            "A court order or forensic evaluation means the legal system is "
            "involved: check the answers.",
            field="legal_involvement",
        )


def screening_from_dict(values: dict) -> ScreeningData:
    unknown = set(values) - set(SCREENING_FIELDS)
    if unknown:
        raise DomainError(f"Unknown field: {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    return ScreeningData(**values)


# --- the inquiry -----------------------------------------------------------------------------


def _owner_alert(inquiry: Inquiry) -> None:
    """Imminent risk: the owner (or, with nobody on intake, the agency's leads) hears now. The
    message carries no one's details: the link does, behind sign-in."""
    if inquiry.owner_id:
        recipients = [inquiry.owner]
    else:
        leads = Membership.objects.filter(agency=inquiry.agency, is_active=True).select_related(
            "user"
        )
        recipients = [m.user for m in leads if has_perm(m, Perm.RECEIVE_ESCALATIONS)]
    url = f"{settings.BASE_URL}{reverse('intake:detail', args=[inquiry.pk])}"
    for user in recipients:
        outbox_enqueue(
            dedupe_key=f"intake-urgent:{inquiry.pk}:{user.pk}",
            kind="intake_urgent",
            to=user.email,
            subject=f"Urgent: inquiry {inquiry.pk} — imminent risk, crisis pathway",
            body_text=(
                f"An inquiry at {inquiry.agency.name} screened for imminent risk: the crisis "
                f"pathway comes first.\n\nOpen it now: {url}\n"
            ),
            agency=inquiry.agency,
            obj=inquiry,
        )
    inquiry.owner_alerted_at = timezone.now()
    inquiry.save(update_fields=["owner_alerted_at"])


def _options_store(inquiry: Inquiry, options) -> None:
    rows = []
    for need_options in options:
        for recommendation in need_options.recommendations:
            result = recommendation.result
            rows.append(
                InquiryOption(
                    agency=inquiry.agency,
                    inquiry=inquiry,
                    position=len(rows) + 1,
                    need=need_options.need,
                    before_admission=need_options.before_admission,
                    service=result.service,
                    organization=result.service.organization,
                    service_name=result.service.name[:300],
                    organization_name=result.service.organization.name[:300],
                    reasons=[*result.matched, *result.failed, *result.notes, *recommendation.notes],
                )
            )
    InquiryOption.objects.bulk_create(rows)


def inquiry_create(*, agency, actor, data: ScreeningData, at=None, request=None) -> Inquiry:
    """Checks and decides the screening, and records the inquiry with the rules that fired and
    the options offered. Its owner is whoever is on intake; imminent risk alerts them now."""
    screening = screening_clean(data)
    decided = selectors.triage_screening(agency=agency, screening=screening)
    received_at = at or timezone.now()
    owner = selectors.on_intake(agency=agency, at=received_at)
    values = {name: getattr(screening, name) for name in SCREENING_FIELDS}
    with transaction.atomic():
        inquiry = Inquiry.objects.create(
            agency=agency,
            owner=owner,
            received_at=received_at,
            created_by=actor,
            outcome=decided.decision.outcome,
            fired=[
                {
                    "name": f.name,
                    "action": f.action,
                    "parameter": f.parameter,
                    "explanation": f.explanation,
                }
                for f in decided.decision.fired
            ],
            contraindicated=list(decided.decision.contraindicated),
            urgent=decided.decision.urgent,
            status=Status.OPEN,
            **values,
        )
        _options_store(inquiry, decided.options)
        if inquiry.urgent:
            _owner_alert(inquiry)
        audit_record(action="create", request=request, user=actor, agency=agency, obj=inquiry)
    return inquiry


def inquiry_assign(*, inquiry: Inquiry, actor, owner, version=None, request=None) -> Inquiry:
    if (
        owner is None
        or not Membership.objects.filter(agency=inquiry.agency, user=owner, is_active=True).exists()
    ):
        raise DomainError("Choose someone in your agency.", field="owner")
    with transaction.atomic():
        locked = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
        version_check(locked, version)
        locked.owner, locked.version = owner, locked.version + 1
        locked.save(update_fields=["owner", "version"])
        if locked.urgent and locked.owner_alerted_at is None:
            _owner_alert(locked)
        audit_record(
            action="update",
            request=request,
            user=actor,
            agency=locked.agency,
            obj=locked,
            detail={"owner": owner.pk},
        )
    return locked


def option_choose(*, option: InquiryOption, actor, chosen: bool, request=None) -> InquiryOption:
    """The person chose (or no longer chooses) this option."""
    option.chosen_at = (option.chosen_at or timezone.now()) if chosen else None
    if not chosen and option.referral_id:
        raise DomainError("A referral was sent for this option already.", field="chosen")
    option.save(update_fields=["chosen_at"])
    audit_record(
        action="update",
        request=request,
        user=actor,
        agency=option.agency,
        obj=option.inquiry,
        detail={"option": option.pk, "chosen": chosen},
    )
    return option


CLOSING = {Status.IN_HOUSE, Status.CLOSED}


def inquiry_close(
    *, inquiry: Inquiry, actor, status: str, choice_note: str, version=None, request=None
) -> Inquiry:
    """Records what the person chose and ends the inquiry: served in house, or closed."""
    if status not in CLOSING:
        raise DomainError("Choose served in house or closed.", field="status")
    note = clean_text(
        choice_note,
        field="choice_note",
        max_length=2000,
        required=status == Status.CLOSED,
        label="what the person chose (or why nothing was)",
    )
    with transaction.atomic():
        locked = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
        version_check(locked, version)
        locked.status, locked.choice_note = status, note
        locked.closed_at = timezone.now()
        locked.version += 1
        locked.save(update_fields=["status", "choice_note", "closed_at", "version"])
        audit_record(
            action="update",
            request=request,
            user=actor,
            agency=locked.agency,
            obj=locked,
            detail={"status": status},
        )
    return locked


# --- the warm handoff -------------------------------------------------------------------------


@dataclass
class Handoff:
    """The referral one option becomes: for which client, under which consent, to whom."""

    client: Client | None = None  # None: a new client from the inquiry's person
    last_name: str = ""  # when the inquiry has none yet (a client record needs one)
    date_of_birth: str = ""
    allow_duplicate: bool = False
    consent: object | None = None  # an existing consent in force covering the organization
    consent_data: object | None = None  # else: one recorded now (clients.services.ConsentData)
    contact_email: str = ""
    reason: str = ""
    send: bool = True
    tracking_id: str | None = None  # an ID drawn already (the demo's reproducible ones)


def _handoff_client(inquiry: Inquiry, actor, handoff: Handoff, request) -> Client:
    if handoff.client is not None:
        if handoff.client.agency_id != inquiry.agency_id:
            raise DomainError("Unknown client.", field="client")
        return handoff.client
    if inquiry.client_id:
        return inquiry.client
    return client_services.client_create(
        agency=inquiry.agency,
        actor=actor,
        data=client_services.ClientData(
            first_name=inquiry.first_name,
            last_name=handoff.last_name or inquiry.last_name,
            date_of_birth=handoff.date_of_birth or None,
            phone=inquiry.phone,
            email=inquiry.email,
            preferred_language=LANGUAGE_NAMES.get(inquiry.language, inquiry.language),
            safe_contact={
                "voicemail_ok": inquiry.voicemail_ok,
                "text_ok": inquiry.text_ok,
                "safe_contact_note": inquiry.safe_contact_note,
            },
        ),
        allow_duplicate=handoff.allow_duplicate,
        request=request,
    )


def inquiry_refer(*, option: InquiryOption, actor, handoff: Handoff, request=None):
    """Makes an option a warm handoff: the client recorded (from the inquiry), the consent
    checked or recorded, the referral created and sent — all or nothing. Returns the referral."""
    inquiry = option.inquiry
    if option.referral_id:
        raise DomainError("A referral was sent for this option already.", field="option")
    if option.organization is None:
        raise DomainError("That listing is no longer in the directory.", field="option")
    with transaction.atomic():
        client = _handoff_client(inquiry, actor, handoff, request)
        consent = handoff.consent
        if consent is None and handoff.consent_data is not None:
            consent = client_services.consent_record(
                client=client, actor=actor, data=handoff.consent_data, request=request
            )
        if consent is None or consent.client_id != client.pk or consent.state_at() != "in force":
            raise DomainError(
                "Record the person's consent to share with this organization first.",
                field="consent",
                code="consent",
            )
        if not consent_covers_recipient(consent, option.organization):
            raise DomainError("That consent does not cover this organization.", field="consent")
        referral = referral_services.referral_create(
            agency=inquiry.agency,
            actor=referral_services.Actor(user=actor, agency=inquiry.agency),
            data=ReferralData(
                client=client,
                organization=option.organization,
                service=option.service,
                owner=inquiry.owner or actor,
                contact_email=handoff.contact_email
                or (option.service.email if option.service else "")
                or option.organization.email,
                needs=tuple(_need_terms(option)),
                reason=clean_text(handoff.reason, field="reason", max_length=4000),
                urgency="urgent" if inquiry.urgent else "routine",
                consent=consent,
                categories=tuple(consent.categories),
            ),
            tracking_id=handoff.tracking_id,
            request=request,
        )
        if handoff.send:
            referral = referral_services.referral_send(
                referral=referral,
                actor=referral_services.Actor(user=actor, agency=inquiry.agency),
                request=request,
            )
        option.referral = referral
        option.chosen_at = option.chosen_at or timezone.now()
        option.save(update_fields=["referral", "chosen_at"])
        locked = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
        locked.client = client
        if locked.status == Status.OPEN:
            locked.status = Status.REFERRED
        locked.version += 1
        locked.save(update_fields=["client", "status", "version"])
        audit_record(
            action="update",
            request=request,
            user=actor,
            agency=locked.agency,
            obj=locked,
            detail={"referral": referral.tracking_id, "option": option.pk},
        )
    return referral


def _need_terms(option: InquiryOption):
    return TaxonomyTerm.objects.filter(taxonomy__name=NEEDS, code=option.need)[:1]


# --- configuration ----------------------------------------------------------------------------


def rules_save(*, agency, actor, rules: list, request=None) -> list[TriageRule]:
    """Replaces the agency's rule set with `rules`, checked whole (see intake.rules)."""
    try:
        cleaned = triage.ruleset_clean(rules)
    except triage.RuleError as error:
        raise DomainError(error.message, field=error.field) from None
    now = timezone.now()
    with transaction.atomic():
        TriageRule.objects.for_agency(agency).delete()
        rows = TriageRule.objects.bulk_create(
            TriageRule(agency=agency, position=index + 1, updated_at=now, **rule)
            for index, rule in enumerate(cleaned)
        )
        audit_record(
            action="update",
            request=request,
            user=actor,
            agency=agency,
            detail={"triage_rules": len(rows)},
        )
    return rows


def rules_reset(*, agency, actor, request=None) -> list[TriageRule]:
    return rules_save(agency=agency, actor=actor, rules=triage.DEFAULT_RULES, request=request)


@dataclass
class ProfileData:
    formats: list
    age_groups: list
    specialties: list
    max_severity: str
    court_qualified: bool
    accepting_new: bool


def profile_save(*, agency, actor, data: ProfileData, request=None) -> IntakeProfile:
    for name, allowed in (
        ("formats", triage.FORMATS),
        ("age_groups", triage.AGE_GROUPS),
        ("specialties", triage.SPECIALTIES),
    ):
        unknown = [value for value in getattr(data, name) if value not in allowed]
        if unknown:
            raise DomainError(f"Unknown value: {unknown[0]!r}.", field=name)
    if data.max_severity not in triage.SEVERITIES:
        raise DomainError("Choose a severity.", field="max_severity")
    profile, _ = IntakeProfile.objects.update_or_create(
        agency=agency,
        defaults={
            "formats": [f for f in triage.FORMATS if f in data.formats],
            "age_groups": [g for g in triage.AGE_GROUPS if g in data.age_groups],
            "specialties": [s for s in triage.SPECIALTIES if s in data.specialties],
            "max_severity": data.max_severity,
            "court_qualified": bool(data.court_qualified),
            "accepting_new": bool(data.accepting_new),
            "updated_at": timezone.now(),
        },
    )
    audit_record(action="update", request=request, user=actor, agency=agency, obj=profile)
    return profile


@dataclass(frozen=True)
class ShiftData:
    user_id: int
    weekday: int
    starts_at: time
    ends_at: time


def shifts_save(*, agency, actor, shifts: list[ShiftData], request=None) -> list[IntakeShift]:
    """Replaces the intake rotation."""
    members = set(
        Membership.objects.filter(agency=agency, is_active=True).values_list("user_id", flat=True)
    )
    for index, shift in enumerate(shifts, start=1):
        if shift.user_id not in members:
            raise DomainError(f"Shift {index}: choose someone in your agency.", field="user")
        if not 1 <= shift.weekday <= 7:
            raise DomainError(f"Shift {index}: days are 1 (Monday) to 7 (Sunday).", field="weekday")
        if shift.ends_at <= shift.starts_at:
            raise DomainError(
                f"Shift {index}: the shift must end after it starts.", field="ends_at"
            )
    with transaction.atomic():
        IntakeShift.objects.for_agency(agency).delete()
        rows = IntakeShift.objects.bulk_create(
            IntakeShift(
                agency=agency,
                user_id=s.user_id,
                weekday=s.weekday,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
            )
            for s in shifts
        )
        audit_record(
            action="update",
            request=request,
            user=actor,
            agency=agency,
            detail={"intake_shifts": len(rows)},
        )
    return rows
