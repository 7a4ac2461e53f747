"""Referrals: the closed loop. Status follows FHIR R4 Task; every change is a timeline event;
each referral stores when it is next due (and why), so worklists never scan history."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from referloop.core.fields import EncryptedTextField
from referloop.core.models import Agency, TenantQuerySet


class Status(models.TextChoices):
    """FHIR R4 TaskStatus codes (minus `ready` and `entered-in-error`, which have no use here)."""

    DRAFT = "draft", "Draft"
    REQUESTED = "requested", "Sent"
    RECEIVED = "received", "Received"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Not accepted"
    IN_PROGRESS = "in-progress", "In progress"
    ON_HOLD = "on-hold", "On hold"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


# The allowed moves, as data: services refuse anything else.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.DRAFT: frozenset({Status.REQUESTED, Status.CANCELLED}),
    Status.REQUESTED: frozenset(
        {Status.RECEIVED, Status.ACCEPTED, Status.REJECTED, Status.CANCELLED, Status.FAILED}
    ),
    Status.RECEIVED: frozenset(
        {Status.ACCEPTED, Status.REJECTED, Status.ON_HOLD, Status.CANCELLED, Status.FAILED}
    ),
    Status.ACCEPTED: frozenset(
        {Status.IN_PROGRESS, Status.ON_HOLD, Status.COMPLETED, Status.CANCELLED, Status.FAILED}
    ),
    Status.IN_PROGRESS: frozenset(
        {Status.ON_HOLD, Status.COMPLETED, Status.CANCELLED, Status.FAILED}
    ),
    Status.ON_HOLD: frozenset(
        {Status.ACCEPTED, Status.IN_PROGRESS, Status.CANCELLED, Status.FAILED}
    ),
    Status.REJECTED: frozenset(),
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.FAILED: frozenset(),
}
# FHIR SDOHCC: statusReason is required for these.
REASON_REQUIRED = frozenset({Status.REJECTED, Status.CANCELLED, Status.ON_HOLD, Status.FAILED})
CLOSED = frozenset({Status.REJECTED, Status.COMPLETED, Status.CANCELLED, Status.FAILED})
OPEN = frozenset(Status.values) - CLOSED - {Status.DRAFT}


class Urgency(models.TextChoices):
    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"
    EMERGENCY = "emergency", "Emergency"


class DueReason(models.TextChoices):
    RECEIPT = "receipt", "No receipt confirmation yet"
    FIRST_CONTACT = "first_contact", "No first contact attempt with the client yet"
    OUTCOME = "outcome", "Outcome not known yet"
    FOLLOW_UP = "follow_up", "Follow-up with the partner due"
    REREFER = "rerefer", "Bounced back: re-refer the client"


class DispositionKind(models.TextChoices):
    OUTCOME = "outcome", "Outcome"
    NOT_ACCEPTED = "not_accepted", "Reason not accepted"
    BOTH = "both", "Outcome or reason not accepted"


class DispositionCode(models.Model):
    """An agency's small set of outcome and "not accepted" codes (defaults from seed 003)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    code = models.SlugField(max_length=40)
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=DispositionKind.choices)
    # Codes that mean the loop closed well: the client got the service.
    is_success = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["position", "label"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "code"], name="disposition_code_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=DispositionKind.values), name="disposition_kind_valid"
            ),
        ]

    def __str__(self):
        return self.label


class ReferralQuerySet(TenantQuerySet):
    def visible_to(self, user, agency):
        """The sending agency's referrals, and those sent to it (once sent, never drafts)."""
        if agency is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if not agency.memberships.filter(user=user, is_active=True).exists():
            return self.none()
        return self.filter(Q(agency=agency) | Q(receiving_agency=agency) & ~Q(status=Status.DRAFT))

    def open(self):
        return self.filter(status__in=OPEN)


class Referral(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")  # the sender
    tracking_id = models.CharField(max_length=40)
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The receiver: an organization of the directory, optionally one of its services; when the
    # organization is run by a Referloop agency, that agency (set on sending) gets it in its inbox.
    organization = models.ForeignKey(
        "directory.Organization", on_delete=models.PROTECT, related_name="+"
    )
    service = models.ForeignKey(
        "directory.Service", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    receiving_agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(max_length=254, blank=True)
    contact_phone = models.CharField(max_length=50, blank=True)
    needs = models.ManyToManyField("directory.TaxonomyTerm", blank=True, related_name="+")
    reason = EncryptedTextField(blank=True)  # the reason for referral, in the sender's words
    urgency = models.CharField(max_length=20, choices=Urgency.choices, default=Urgency.ROUTINE)
    consent = models.ForeignKey(
        "clients.Consent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    categories = models.JSONField(default=list)  # what the packet shares (clients.Category)

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    disposition = models.ForeignKey(
        DispositionCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status_reason = models.CharField(max_length=500, blank=True)
    # Milestones, set by the services as they happen (metrics read the events, these drive dues).
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    first_contact_at = models.DateTimeField(null=True, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    last_follow_up_at = models.DateTimeField(null=True, blank=True)
    last_partner_update_at = models.DateTimeField(null=True, blank=True)
    # Bounce-back chain: the referral this one re-refers after it bounced back.
    bounce_back_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="re_referrals"
    )
    bounce_resolved_at = models.DateTimeField(null=True, blank=True)
    # What is due next, stored (recomputed by every service that changes the referral).
    next_due_at = models.DateTimeField(null=True, blank=True)
    due_reason = models.CharField(max_length=20, choices=DueReason.choices, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)  # last escalation digest
    version = models.PositiveIntegerField(default=1)  # optimistic lock for edits from forms
    updated_at = models.DateTimeField(auto_now=True)  # the last change (FHIR polling reads it)

    objects = ReferralQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "tracking_id"], name="referral_tracking_id"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="referral_status"),
            models.CheckConstraint(
                condition=Q(urgency__in=Urgency.values), name="referral_urgency"
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "-created_at"], name="referral_agency_created"),
            models.Index(fields=["agency", "status", "-created_at"], name="referral_agency_status"),
            models.Index(
                fields=["receiving_agency", "-created_at"],
                name="referral_inbox",
                condition=Q(receiving_agency__isnull=False),
            ),
            # The receiving agency's "acknowledge" worklist items: only unacknowledged rows.
            models.Index(
                fields=["receiving_agency", "sent_at"],
                name="referral_inbox_unacknowledged",
                condition=Q(receiving_agency__isnull=False, status="requested"),
            ),
            # The worklist paths: due rows only (closed referrals leave these indexes).
            models.Index(
                fields=["owner", "next_due_at"],
                name="referral_owner_due",
                condition=Q(next_due_at__isnull=False),
            ),
            models.Index(
                fields=["agency", "next_due_at"],
                name="referral_agency_due",
                condition=Q(next_due_at__isnull=False),
            ),
            # The metrics' cohorts: the referrals sent in a period, each way.
            models.Index(
                fields=["agency", "sent_at"],
                name="referral_agency_sent",
                condition=Q(sent_at__isnull=False),
            ),
            models.Index(
                fields=["receiving_agency", "sent_at"],
                name="referral_inbox_sent",
                condition=Q(receiving_agency__isnull=False, sent_at__isnull=False),
            ),
            models.Index(fields=["client", "-created_at"], name="referral_client_created"),
            models.Index(fields=["organization", "-created_at"], name="referral_partner"),
            models.Index(fields=["tracking_id"], name="referral_tracking_lookup"),
            models.Index(fields=["agency", "updated_at"], name="referral_agency_updated"),
        ]

    def __str__(self):
        return self.tracking_id

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    SENT = "sent", "Sent"
    STATUS = "status", "Status changed"
    PARTNER_REPLY = "partner_reply", "Partner replied"
    CONTACT_ATTEMPT = "contact_attempt", "Client contact attempt"
    FOLLOW_UP = "follow_up", "Followed up with the partner"
    NOTE = "note", "Note"
    EMAIL = "email", "E-mail queued"
    PACKET = "packet", "Packet shared"
    OWNER = "owner", "Owner changed"
    ESCALATED = "escalated", "Escalated"
    BOUNCE_BACK = "bounce_back", "Bounce-back"
    IMPORTED = "imported", "Imported"


class ReferralEventQuerySet(TenantQuerySet):
    def update(self, **kwargs):
        raise ValueError("timeline events are append-only")

    def delete(self):
        raise ValueError("timeline events are append-only")


class ReferralEvent(models.Model):
    """One immutable entry of a referral's timeline: who, when, what, note."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")  # the sender
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who acted, in words, for actors without an account ("Partner via reply link", "Import").
    actor_label = models.CharField(max_length=200, blank=True)
    actor_agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    disposition = models.ForeignKey(
        DispositionCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = EncryptedTextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = ReferralEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["referral", "-at"], name="referral_event_timeline"),
            models.Index(fields=["agency", "-at"], name="referral_event_agency_at"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("timeline events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("timeline events are append-only")


class ReplyLink(models.Model):
    """A partner's one-question reply link: a random token, stored hashed, for one referral."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="reply_links")
    token_hash = models.CharField(max_length=64, unique=True)
    contact_email = models.EmailField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_viewed_at = models.DateTimeField(null=True, blank=True)
    last_answer = models.CharField(max_length=30, blank=True)
    last_answered_at = models.DateTimeField(null=True, blank=True)
    answer_count = models.PositiveIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"reply link for {self.referral_id}"


class Packet(models.Model):
    """A referral packet as it was shared: the snapshot of exactly what left the agency."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="packets")
    consent = models.ForeignKey("clients.Consent", on_delete=models.PROTECT, related_name="+")
    categories = models.JSONField(default=list)
    content = EncryptedTextField()  # JSON of the rendered fields, encrypted: it names the client
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["referral", "-created_at"], name="packet_referral")]

    def __str__(self):
        return f"packet {self.pk} of {self.referral_id}"
