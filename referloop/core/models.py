from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from referloop.core.fields import EncryptedTextField
from referloop.core.permissions import Role
from referloop.core.policy import AgencyPolicy, policy_from_document


class TenantQuerySet(models.QuerySet):
    """The one scoping mechanism for tenant-owned rows (every such model has an `agency` FK).

    `for_agency` is the plain filter; `visible_to` is what views and API handlers use: the rows of
    the request's agency, and only if the user is an active member of it. Models whose rows are
    seen by more than one agency (a referral: sender and receiver) override `visible_to`.
    """

    def for_agency(self, agency):
        if agency is None:
            return self.none()
        return self.filter(agency=agency)

    def visible_to(self, user, agency):
        if agency is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        return self.for_agency(agency).filter(
            agency__memberships__user=user, agency__memberships__is_active=True
        )


class AuditEventQuerySet(TenantQuerySet):
    """Audit rows are only ever added: bulk updates and deletes are refused here too."""

    def update(self, **kwargs):
        raise ValueError("audit events are append-only")

    def delete(self):
        raise ValueError("audit events are append-only")


# The community scorecard's small-cell threshold: no count below it is shown (reports.community).
# 11 is the common rule for public health data (counts of 1-10 suppressed); it may be raised per
# network, never set below 5, under which a count points at a handful of people.
COMMUNITY_MIN_CELL_DEFAULT = 11
COMMUNITY_MIN_CELL_FLOOR = 5


class Network(models.Model):
    """A community of agencies that share one directory and refer to each other."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    is_demo = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # The community scorecard: its suppression threshold (set by the installation's operators in
    # the admin site), and whether it is published on the public directory (by whom, since when).
    community_min_cell = models.PositiveSmallIntegerField(
        "community scorecard threshold",
        default=COMMUNITY_MIN_CELL_DEFAULT,
        validators=[MinValueValidator(COMMUNITY_MIN_CELL_FLOOR), MaxValueValidator(1000)],
        help_text="The community scorecard shows no count below this (at least "
        f"{COMMUNITY_MIN_CELL_FLOOR}; {COMMUNITY_MIN_CELL_DEFAULT} is the usual rule).",
    )
    community_published_at = models.DateTimeField(null=True, blank=True)
    community_published_by = models.ForeignKey(
        "User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(community_min_cell__gte=COMMUNITY_MIN_CELL_FLOOR)
                & models.Q(community_min_cell__lte=1000),
                name="network_community_min_cell",
            )
        ]

    def __str__(self):
        return self.name


class Agency(models.Model):
    """A tenant: one organization using Referloop, with its own staff and data."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="agencies")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64)
    # Validated by core.policy.AgencyPolicy on every write (services.agency_policy_update).
    policy = models.JSONField(default=dict, blank=True)
    # Null until an administrator has reviewed the policy: drives the set-up worklist item.
    policy_reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="agency_policy_unreviewed",
                condition=models.Q(policy_reviewed_at__isnull=True),
            )
        ]

    def __str__(self):
        return self.name

    @property
    def policies(self) -> AgencyPolicy:
        return policy_from_document(self.policy)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("an e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an e-mail address; what they may do comes from memberships."""

    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    # Access to Django's admin site; for the people who run the installation, not agency staff.
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self):
        return self.full_name or self.email

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return (self.full_name or self.email).split(" ")[0]


class Membership(models.Model):
    """A user's place in an agency, with the one role that decides what they may do there."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["agency__name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "agency"], name="membership_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]

    def __str__(self):
        return f"{self.user} · {self.agency} · {self.get_role_display()}"


class ApiToken(models.Model):
    """A bearer token for the API, acting as one user in one agency. Only its hash is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12)  # shown in lists so people can tell tokens apart
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    def __str__(self):
        return f"{self.prefix}… ({self.user})"


class IdempotentRequest(models.Model):
    """A create the API was asked for under an `Idempotency-Key`, with its first answer: a retry
    with the same key (the same agency and token user) and the same request gets that answer
    again, for 24 hours. The answer may name a client, so it is encrypted like client fields."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)  # SHA-256 of the method, path and body
    status = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    content = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "user", "key"], name="idempotent_request_key_unique"
            )
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotent_request_created")]

    def __str__(self):
        return f"{self.key} ({self.user}, {self.status})"


class AuditEvent(models.Model):
    """Append-only record of who did what to which object, from where, and whether it was allowed.

    User and agency are kept as plain ids without foreign-key constraints: the record must outlive
    the rows it describes. A database trigger (migration 0002) refuses UPDATE of any row.
    """

    class Outcome(models.TextChoices):
        OK = "ok", "Allowed"
        DENIED = "denied", "Refused"
        FAILED = "failed", "Failed"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        User, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    agency = models.ForeignKey(
        Agency, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["agency", "-at"], name="audit_agency_at"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            models.Index(fields=["user", "-at"], name="audit_user_at"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only")


class LoginThrottle(models.Model):
    """Failed sign-ins for one (account, address) pair; past the limit the pair is locked."""

    key = models.CharField(max_length=64, unique=True)  # keyed hash of e-mail + IP
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(default=timezone.now, db_index=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.failures} failure(s), locked until {self.locked_until or '-'}"


class IssuedTrackingId(models.Model):
    """Every tracking ID handed out in a network, so none is ever issued twice there."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=12)
    issued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "code"], name="tracking_id_unique")
        ]

    def __str__(self):
        return self.code


class SweepState(models.Model):
    """When a periodic sweep next runs and which worker holds it (claimed compare-and-set)."""

    name = models.CharField(max_length=200, unique=True)
    next_run_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self):
        return self.name


class OutboundEmailQuerySet(TenantQuerySet):
    def pending(self):
        return self.filter(sent_at__isnull=True, cancelled_at__isnull=True)


class OutboundEmail(models.Model):
    """One e-mail Referloop sends: written in the transaction that decided to send it, then
    delivered by the worker (claimed compare-and-set, so two workers never send it twice).

    `dedupe_key` makes enqueueing idempotent ("the partner e-mail for referral 12", "Ana's digest
    for 2026-11-24"). Without an SMTP host rows stay pending and administrators read them on the
    Outbox page. Bodies can name a client (digests for staff): they are encrypted at rest.
    """

    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=40)
    dedupe_key = models.CharField(max_length=200, unique=True)
    to = models.EmailField(max_length=254)
    reply_to = models.EmailField(max_length=254, blank=True)
    subject = models.CharField(max_length=200)
    body_text = EncryptedTextField()
    body_html = EncryptedTextField(blank=True)
    # An iCalendar invitation (RFC 5545) sent with the message, and its iTIP method (REQUEST,
    # CANCEL): a meeting's description is free text, so it is encrypted like the bodies.
    calendar = EncryptedTextField(blank=True)
    calendar_method = models.CharField(max_length=20, blank=True)
    # Extra headers as a JSON object (e.g. List-Unsubscribe). Encrypted like the bodies: a
    # header may carry a link whose token is the key to something, as the body does.
    headers = EncryptedTextField(blank=True)
    # Which object the message is about (e.g. "referrals.referral", "42"), for its timeline.
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    send_after = models.DateTimeField(default=timezone.now)
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)

    objects = OutboundEmailQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["send_after"],
                name="outbox_pending",
                condition=models.Q(sent_at__isnull=True, cancelled_at__isnull=True),
            ),
            models.Index(fields=["agency", "-created_at"], name="outbox_agency_created"),
        ]

    def __str__(self):
        return f"{self.kind} to {self.to}: {self.subject}"

    @property
    def state(self) -> str:
        if self.sent_at:
            return "sent"
        if self.cancelled_at:
            return "cancelled"
        return "failing" if self.last_error else "pending"
