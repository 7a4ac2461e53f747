"""Intake: every inquiry (the information-and-referral record, kept for people we did not serve
too), the triage rules it was decided by, the options offered, and who is on intake when."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from referloop.core.fields import EncryptedTextField
from referloop.core.models import Agency, TenantQuerySet
from referloop.intake.rules import (
    ACTIONS,
    AGE_GROUPS,
    FORMATS,
    NEED_NAMES,
    OUTCOMES,
    SEVERITIES,
)


def choices_of(mapping: dict) -> list[tuple[str, str]]:
    """Form and model choices from one of intake.rules' vocabularies, labels in sentence case
    (a vocabulary's value may be (label, ...))."""
    labels = {key: value if isinstance(value, str) else value[0] for key, value in mapping.items()}
    return [(key, label[:1].upper() + label[1:]) for key, label in labels.items()]


class IntakeProfile(models.Model):
    """What we ourselves offer beyond our directory listings: formats, age groups, specialties,
    the severity our coverage handles, court work. The in-house facts the rules read."""

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="+")
    formats = models.JSONField(default=list, blank=True)  # keys of rules.FORMATS
    age_groups = models.JSONField(default=list, blank=True)  # keys of rules.AGE_GROUPS
    specialties = models.JSONField(default=list, blank=True)  # keys of SPECIALTIES
    max_severity = models.CharField(max_length=20, choices=choices_of(SEVERITIES), default="severe")
    court_qualified = models.BooleanField(
        default=False,
        help_text="Contracted with the court or state, or qualified for forensic work.",
    )
    accepting_new = models.BooleanField(default=True, help_text="We have openings for new clients.")
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager()

    def __str__(self):
        return f"Intake profile of agency {self.agency_id}"


class TriageRule(models.Model):
    """One rule of the agency's set (see intake.rules); the set is saved whole and checked."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=120)
    when = models.JSONField(default=dict, blank=True)
    action = models.CharField(max_length=30, choices=list(ACTIONS.items()))
    parameter = models.CharField(max_length=60, blank=True)
    explanation = models.TextField()
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["agency", "position"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "position"], name="triage_rule_position"),
        ]

    def __str__(self):
        return self.name

    def as_rule(self) -> dict:
        return {
            "name": self.name,
            "when": self.when,
            "action": self.action,
            "parameter": self.parameter,
            "explanation": self.explanation,
            "is_active": self.is_active,
        }


class IntakeShift(models.Model):
    """Who is on intake: a weekday (1 = Monday) and hours in the agency's time zone."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    weekday = models.PositiveSmallIntegerField()
    starts_at = models.TimeField()
    ends_at = models.TimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["agency", "weekday", "starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__gte=1, weekday__lte=7), name="shift_day"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="shift_hours"
            ),
        ]
        indexes = [models.Index(fields=["agency", "weekday"], name="shift_agency_day")]

    def __str__(self):
        return f"{self.user_id} on day {self.weekday} {self.starts_at}–{self.ends_at}"


class Channel(models.TextChoices):
    PHONE = "phone", "Phone call"
    WALK_IN = "walk_in", "Walk-in"
    EMAIL = "email", "E-mail"
    WEB = "web", "Web form"
    REFERRAL = "referral", "A professional referring"


class Caller(models.TextChoices):
    SELF = "self", "The person themself"
    FAMILY = "family", "Family or friend"
    PROFESSIONAL = "professional", "A professional"


class Status(models.TextChoices):
    OPEN = "open", "Open"
    REFERRED = "referred", "Referred out (warm handoff)"
    IN_HOUSE = "in_house", "Served in house"
    CLOSED = "closed", "Closed"


class Inquiry(models.Model):
    """One inquiry and its screening, the decision and why: the information-and-referral record."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(default=timezone.now)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.PHONE)
    caller = models.CharField(max_length=20, choices=Caller.choices, default=Caller.SELF)
    # The person (encrypted at rest): who to call back, and how safely.
    first_name = EncryptedTextField()
    last_name = EncryptedTextField(blank=True)
    phone = EncryptedTextField(blank=True)
    email = EncryptedTextField(blank=True)
    voicemail_ok = models.BooleanField(default=False)
    text_ok = models.BooleanField(default=False)
    safe_contact_note = EncryptedTextField(blank=True)
    # What they ask for.
    need = models.CharField(max_length=60)  # a code of the "Referloop needs" vocabulary
    service_format = models.CharField(max_length=20, choices=choices_of(FORMATS))
    age_group = models.CharField(max_length=20, choices=choices_of(AGE_GROUPS))
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    specialties = models.JSONField(default=list, blank=True)
    severity = models.CharField(max_length=20, choices=choices_of(SEVERITIES))
    # The screening questions (each one answered: yes or no).
    suicidal_risk = models.BooleanField()
    homicidal_risk = models.BooleanField()
    domestic_violence = models.BooleanField()
    substance_use = models.BooleanField()
    detox_needed = models.BooleanField(default=False)
    legal_involvement = models.BooleanField()
    court_ordered = models.BooleanField(default=False)
    forensic_evaluation = models.BooleanField(default=False)
    # Their resources.
    insurance = models.CharField(max_length=60, blank=True)  # a "Referloop payment" code
    has_transport = models.BooleanField(null=True, blank=True)
    language = models.CharField(max_length=12, blank=True)  # ISO 639, e.g. "es"
    postal_code = models.CharField(max_length=10, blank=True)
    notes = EncryptedTextField(blank=True)
    # The decision, as it was made (the rules may change later; this record does not).
    outcome = models.CharField(max_length=20, choices=list(OUTCOMES.items()))
    fired = models.JSONField(default=list)  # [{name, action, parameter, explanation}]
    contraindicated = models.JSONField(default=list, blank=True)
    urgent = models.BooleanField(default=False)
    owner_alerted_at = models.DateTimeField(null=True, blank=True)
    # What happened: the person's choice and the warm handoff.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    choice_note = EncryptedTextField(blank=True)
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "inquiries"
        constraints = [
            models.CheckConstraint(condition=Q(status__in=Status.values), name="inquiry_status"),
            models.CheckConstraint(condition=Q(outcome__in=list(OUTCOMES)), name="inquiry_outcome"),
        ]
        indexes = [
            models.Index(fields=["agency", "-received_at"], name="inquiry_agency_received"),
            models.Index(fields=["agency", "status", "-received_at"], name="inquiry_agency_status"),
            models.Index(fields=["agency", "owner", "status"], name="inquiry_agency_owner"),
            # The worklist: an owner's open inquiries at imminent risk, "inquiry without owner".
            models.Index(
                fields=["agency", "owner", "received_at"],
                name="inquiry_urgent_open",
                condition=Q(urgent=True, status="open"),
            ),
            # The worklist's "inquiry without owner".
            models.Index(
                fields=["agency", "received_at"],
                name="inquiry_unassigned",
                condition=Q(owner__isnull=True, status="open"),
            ),
        ]

    def __str__(self):
        return f"Inquiry {self.pk}"

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class InquiryOption(models.Model):
    """A service offered to the person for one need, with why it matched; chosen or not, and
    the referral that made it a warm handoff."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    inquiry = models.ForeignKey(Inquiry, on_delete=models.CASCADE, related_name="options")
    position = models.PositiveSmallIntegerField()
    need = models.CharField(max_length=60)
    before_admission = models.BooleanField(default=False)
    service = models.ForeignKey(
        "directory.Service", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    organization = models.ForeignKey(
        "directory.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # As offered, so the record reads the same after the listing changes.
    service_name = models.CharField(max_length=300)
    organization_name = models.CharField(max_length=300, blank=True)
    reasons = models.JSONField(default=list, blank=True)  # "✓ ...", "✗ ...", "? ..."
    chosen_at = models.DateTimeField(null=True, blank=True)
    referral = models.ForeignKey(
        "referrals.Referral", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["inquiry", "position"]
        constraints = [
            models.UniqueConstraint(fields=["inquiry", "position"], name="inquiry_option_position")
        ]

    def __str__(self):
        return self.service_name

    @property
    def need_name(self) -> str:
        return NEED_NAMES.get(self.need, self.need)
