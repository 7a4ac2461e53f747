"""Clients, their safe-contact rules, their consents and the ledger of what was disclosed.

Identifying fields are encrypted at rest (EncryptedTextField); keyed-hash columns next to them
allow the exact lookups duplicate detection needs without decrypting the table.
"""

from datetime import date

from django.conf import settings
from django.db import models
from django.utils import timezone

from referloop.core.fields import EncryptedTextField, keyed_hash_field
from referloop.core.models import Agency, TenantQuerySet


class Category(models.TextChoices):
    """Categories of client information a consent can cover and a disclosure can contain."""

    IDENTITY = "identity", "Identity (name, date of birth)"
    CONTACT = "contact", "Contact details and safe-contact rules"
    REASON = "reason", "Reason for referral"
    SUBSTANCE_USE = "substance_use", "Substance use (42 CFR Part 2)"
    MENTAL_HEALTH = "mental_health", "Mental health"
    PHYSICAL_HEALTH = "physical_health", "Physical health"
    LEGAL = "legal", "Legal and court involvement"
    HOUSING = "housing", "Housing and income"


class Client(models.Model):
    """A person an agency serves. Only the agency that records them ever sees this record; a
    receiving partner sees only the packet the consent allowed."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    first_name = EncryptedTextField()
    last_name = EncryptedTextField()
    preferred_name = EncryptedTextField(blank=True)
    date_of_birth = EncryptedTextField(blank=True)  # ISO date; encrypted like the name
    phone = EncryptedTextField(blank=True)
    email = EncryptedTextField(blank=True)
    address = EncryptedTextField(blank=True)
    preferred_language = models.CharField(max_length=60, blank=True)
    # Keyed hashes for duplicate detection: exact name + DOB, and a phonetic key of the last name
    # so "Jon Smyth" finds "John Smith" born the same day.
    name_dob_hash = keyed_hash_field()
    dob_hash = keyed_hash_field()
    last_name_sound_hash = keyed_hash_field()

    # Safe-contact rules: shown wherever someone would contact the client, enforced wherever
    # Referloop itself sends anything.
    do_not_contact = models.BooleanField(default=False)
    voicemail_ok = models.BooleanField(default=False)
    text_ok = models.BooleanField(default=False)
    email_ok = models.BooleanField(default=False)
    safe_phone = EncryptedTextField(blank=True)
    safe_email = EncryptedTextField(blank=True)
    safe_hours = models.CharField(max_length=120, blank=True)  # e.g. "weekdays after 6 pm"
    do_not_disclose_location = models.BooleanField(default=False)
    safe_contact_note = EncryptedTextField(blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["agency", "-created_at"], name="client_agency_created"),
        ]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self) -> str:
        first = self.preferred_name or self.first_name
        return f"{first} {self.last_name}".strip()

    @property
    def birth_date(self) -> date | None:
        return date.fromisoformat(self.date_of_birth) if self.date_of_birth else None


class RecipientClass(models.TextChoices):
    """Named classes of recipients a consent may designate instead of one organization."""

    NETWORK_AGENCIES = "network_agencies", "Agencies of our referral network using Referloop"


class Signer(models.TextChoices):
    CLIENT = "client", "The client"
    GUARDIAN = "guardian", "Parent or guardian"
    REPRESENTATIVE = "representative", "Authorized representative"


class ConsentQuerySet(TenantQuerySet):
    def in_force(self, at=None):
        """Signed, not revoked, not ended and not past its expiry date at `at` (default now)."""
        at = at or timezone.now()
        return self.filter(
            revoked_at__isnull=True, ended_at__isnull=True, signed_at__lte=at
        ).filter(models.Q(expires_on__isnull=True) | models.Q(expires_on__gte=at.date()))


class Consent(models.Model):
    """A client's consent to share information: with whom, what, why, until when.

    Holds the elements of 42 CFR 2.31(a) and 45 CFR 164.508(c). `clients.selectors.
    disclosure_check` is the only place that decides whether it covers a disclosure.
    """

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    # Exactly one of: a specific organization of the directory, or a named class.
    recipient_organization = models.ForeignKey(
        "directory.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    recipient_class = models.CharField(max_length=30, choices=RecipientClass.choices, blank=True)
    categories = models.JSONField(default=list)  # values of Category
    purpose = models.CharField(max_length=300)
    part2 = models.BooleanField(
        default=False, help_text="Meets 42 CFR 2.31: may cover substance-use information."
    )
    signed_at = models.DateTimeField()
    signed_by_name = models.CharField(max_length=200)
    signer = models.CharField(max_length=20, choices=Signer.choices, default=Signer.CLIENT)
    representative_authority = models.CharField(max_length=300, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    expiry_event = models.CharField(max_length=200, blank=True)  # e.g. "end of treatment"
    ended_at = models.DateTimeField(null=True, blank=True)  # the expiry event happened
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_method = models.CharField(max_length=200, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-signed_at", "-id"]
        indexes = [
            models.Index(fields=["client", "-signed_at"], name="consent_client_signed"),
            models.Index(
                fields=["agency", "expires_on"],
                name="consent_expiring",
                condition=models.Q(
                    revoked_at__isnull=True, ended_at__isnull=True, expires_on__isnull=False
                ),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(recipient_organization__isnull=False, recipient_class="")
                    | models.Q(recipient_organization__isnull=True) & ~models.Q(recipient_class="")
                ),
                name="consent_one_recipient",
            )
        ]

    def __str__(self):
        return f"Consent #{self.pk} ({self.recipient_label})"

    @property
    def recipient_label(self) -> str:
        if self.recipient_organization_id:
            return self.recipient_organization.name
        return self.get_recipient_class_display()

    @property
    def category_labels(self) -> list[str]:
        return [Category(value).label for value in self.categories if value in Category.values]

    def state_at(self, at=None) -> str:
        at = at or timezone.now()
        if self.revoked_at and self.revoked_at <= at:
            return "revoked"
        if self.ended_at and self.ended_at <= at:
            return "ended"
        if self.expires_on and self.expires_on < at.date():
            return "expired"
        if self.signed_at > at:
            return "not yet signed"
        return "in force"


class Channel(models.TextChoices):
    PACKET_EMAIL = "packet_email", "Referral e-mail with packet"
    PACKET_PDF = "packet_pdf", "Packet PDF"
    PARTNER_PAGE = "partner_page", "Partner reply page"
    AGENCY_INBOX = "agency_inbox", "Receiving agency's inbox"
    EXPORT = "export", "Export"
    API = "api", "API"
    STATUS_UPDATE = "status_update", "Status update to the referral source"


class Disclosure(models.Model):
    """The disclosure ledger: what about a client went to whom, when, under which consent.

    Written in the same transaction as the disclosure itself and never changed, so it stays the
    record of past sharing after a consent is revoked (42 CFR 2.24 asks for such a list).
    """

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="disclosures")
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="disclosures")
    recipient_name = models.CharField(max_length=300)
    recipient_address = models.CharField(max_length=254, blank=True)  # e-mail, if any
    channel = models.CharField(max_length=20, choices=Channel.choices)
    categories = models.JSONField(default=list)
    description = models.CharField(max_length=300)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["client", "-at"], name="disclosure_client_at")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d} {self.get_channel_display()} to {self.recipient_name}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("disclosures are a ledger: append-only")
        super().save(*args, **kwargs)
