"""Inbound referrals (a partner refers someone to us), residents' stays, and the updates the
referring caseworker is owed: each owed update is a stored row with its due time (indexed), so
the worklist never recomputes it from the stay's history."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from referloop.core.fields import EncryptedTextField
from referloop.core.models import Agency, TenantQuerySet


class Origin(models.TextChoices):
    STAFF = "staff", "Entered by staff"
    NETWORK = "network", "Received through Referloop"
    FORM = "form", "The partner's own form"
    FHIR = "fhir", "A FHIR referral (ServiceRequest and Task)"


class Application(models.TextChoices):
    """Where the person's application stands. `new`: a form submission not yet reviewed."""

    NEW = "new", "New (from the form)"
    REFERRED = "referred", "Referred"
    APPLIED = "applied", "Applied"
    APPROVED = "approved", "Approved"
    WAITLISTED = "waitlisted", "Wait-listed"
    DENIED = "denied", "Denied"
    WITHDRAWN = "withdrawn", "Withdrawn"


class InboundReferral(models.Model):
    """Someone a partner organization (and a contact there) referred to this agency."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")  # receiver
    tracking_id = models.CharField(max_length=40)
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.STAFF)
    # The person: our own client record once staff link one (a form submission has none yet).
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    person_name = EncryptedTextField(blank=True)  # as the form gave it, before a client exists
    person_contact = EncryptedTextField(blank=True)
    note = EncryptedTextField(blank=True)  # the source's words: why, what they need
    # The source: a directory organization and a person there (the partners CRM's records).
    source_organization = models.ForeignKey(
        "directory.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_contact = models.ForeignKey(
        "directory.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the form said about the source, kept as written until staff match it to the directory.
    source_name = models.CharField(max_length=200, blank=True)
    source_email = models.EmailField(max_length=254, blank=True)
    source_phone = models.CharField(max_length=50, blank=True)
    network_referral = models.OneToOneField(
        "referrals.Referral", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=20, choices=Application.choices, default=Application.REFERRED
    )
    status_reason = models.CharField(max_length=500, blank=True)
    referred_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    admitted_at = models.DateTimeField(null=True, blank=True)  # the move-in (conversion)
    created_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)
    # The last change to it or its stay (the FHIR Task of it is polled by this).
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-referred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "tracking_id"], name="inbound_tracking_id"),
            models.CheckConstraint(
                condition=Q(status__in=Application.values), name="inbound_status_valid"
            ),
            models.CheckConstraint(condition=Q(origin__in=Origin.values), name="inbound_origin"),
        ]
        indexes = [
            models.Index(fields=["agency", "status", "-referred_at"], name="inbound_agency_status"),
            models.Index(fields=["agency", "-referred_at"], name="inbound_agency_referred"),
            models.Index(fields=["source_organization", "-referred_at"], name="inbound_source"),
            models.Index(fields=["client"], name="inbound_client"),
            models.Index(fields=["agency", "updated_at"], name="inbound_agency_updated"),
        ]

    def __str__(self):
        return self.tracking_id


class DischargeReason(models.TextChoices):
    COMPLETED = "completed", "Completed the program"
    INDEPENDENT = "independent_living", "Moved to independent living"
    TRANSFERRED = "transferred", "Transferred"
    TERMINATED = "terminated", "Terminated"
    LEFT = "left", "Left"


class Stay(models.Model):
    """A resident's stay: move-in, sobriety date, house, discharge."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    inbound = models.OneToOneField(
        InboundReferral, null=True, blank=True, on_delete=models.SET_NULL, related_name="stay"
    )
    house = models.CharField(max_length=200, blank=True)  # house or program
    move_in_on = models.DateField()
    sobriety_on = models.DateField(null=True, blank=True)
    discharge_on = models.DateField(null=True, blank=True)
    discharge_reason = models.CharField(max_length=30, choices=DischargeReason.choices, blank=True)
    discharge_note = models.CharField(max_length=500, blank=True)
    # "If appropriate": whether the source hears of a discharge is decided per client.
    tell_source_of_discharge = models.BooleanField(default=True)
    next_milestone_on = models.DateField(null=True, blank=True)  # stored: the residents list
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-move_in_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(discharge_on__isnull=True)
                | Q(discharge_on__gte=models.F("move_in_on")),
                name="stay_discharge_after_move_in",
            ),
        ]
        indexes = [
            # The residents list: current stays only.
            models.Index(
                fields=["agency", "move_in_on"],
                name="stay_current",
                condition=Q(discharge_on__isnull=True),
            ),
            models.Index(fields=["client", "-move_in_on"], name="stay_client"),
        ]

    def __str__(self):
        return f"stay {self.pk} from {self.move_in_on}"

    @property
    def is_current(self) -> bool:
        return self.discharge_on is None


class UpdateKind(models.TextChoices):
    CHECK_IN = "check_in", "Check-in after move-in"
    MILESTONE = "milestone", "Sobriety milestone"
    DECISION = "decision", "Application approved"
    WAITLIST = "waitlisted", "Wait-listed"
    DENIAL = "denial", "Application denied"
    TERMINATION = "termination", "Stay terminated"
    DISCHARGE = "discharge", "Discharge"
    INDEPENDENT = "independent_living", "Moved to independent living"


class UpdateState(models.TextChoices):
    OWED = "owed", "Owed"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "No longer owed"


class UpdateOwed(models.Model):
    """One update the referral source is owed: what about, when, and how it was settled."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    inbound = models.ForeignKey(
        InboundReferral, on_delete=models.CASCADE, related_name="updates_owed"
    )
    stay = models.ForeignKey(
        Stay, null=True, blank=True, on_delete=models.CASCADE, related_name="updates_owed"
    )
    kind = models.CharField(max_length=30, choices=UpdateKind.choices)
    days = models.PositiveIntegerField(default=0)  # +7 after move-in; 90 days sober; else 0
    due_at = models.DateTimeField()
    is_urgent = models.BooleanField(default=False)
    state = models.CharField(max_length=20, choices=UpdateState.choices, default=UpdateState.OWED)
    settled_at = models.DateTimeField(null=True, blank=True)
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    skip_reason = models.CharField(max_length=500, blank=True)
    message = EncryptedTextField(blank=True)  # what was sent: it speaks of the client
    sent_to = models.EmailField(max_length=254, blank=True)
    interaction = models.ForeignKey(
        "partners.Interaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["inbound", "kind", "days"], name="update_owed_once"),
            models.CheckConstraint(condition=Q(kind__in=UpdateKind.values), name="update_kind"),
            models.CheckConstraint(condition=Q(state__in=UpdateState.values), name="update_state"),
        ]
        indexes = [
            # The worklist path: owed rows only.
            models.Index(
                fields=["agency", "due_at"], name="update_owed_due", condition=Q(state="owed")
            ),
            models.Index(fields=["inbound", "due_at"], name="update_inbound"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.inbound_id}"


class UpdateTemplate(models.Model):
    """An agency's wording for one kind of update (the built-in wording until it writes one)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=UpdateKind.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "kind"], name="update_template_once"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} template"
