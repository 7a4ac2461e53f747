"""Partner relationships: the referral-source CRM (seeds 000 and 002).

A partner *person* is the directory's `Contact` (one person, one record, shared by the network
like the rest of the directory), with their jobs over time as `Position` rows. What an agency
knows and does about a partner is the agency's own: the `Relationship` with the partner
organization (stage, tier, what they value, the cadence's next due time), its key people
(`KeyContact`), every `Interaction`, the print `Material` it hands out, and `Meeting`s sent as
calendar invitations.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from referloop.core.models import Agency, TenantQuerySet
from referloop.directory.models import DirectoryQuerySet


class Stage(models.TextChoices):
    """Seed 002's four steps to a lasting relationship, and the two ways out of them."""

    REACH_OUT = "reach_out", "Reach out"
    RAPPORT = "rapport", "Establish rapport"
    MUTUAL_BENEFITS = "mutual_benefits", "Identify mutual benefits"
    TRUST = "trust", "Build trust"
    LASTING = "lasting", "Lasting partner"
    DORMANT = "dormant", "Dormant"
    NOT_A_FIT = "not_a_fit", "Not a fit"


# The stages a relationship is worked in: the cadence runs, the board shows them left to right.
ACTIVE_STAGES = (Stage.REACH_OUT, Stage.RAPPORT, Stage.MUTUAL_BENEFITS, Stage.TRUST, Stage.LASTING)
# "Established" contacts get the monthly availability e-mail (seed 000).
ESTABLISHED_STAGES = (Stage.MUTUAL_BENEFITS, Stage.TRUST, Stage.LASTING)


class Tier(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    REGULAR = "regular", "Regular"
    PRIMARY = "primary", "Primary"


class DueReason(models.TextChoices):
    TOUCH = "touch", "Contact due"
    FACE_TO_FACE = "face_to_face", "Monthly face-to-face due"
    STATUS_UPDATE = "status_update", "Status update owed"
    NEXT_STEP = "next_step", "Next step due"


class InteractionKind(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "E-mail"
    IN_PERSON = "in_person", "In-person meeting"
    VIDEO = "video", "Video meeting"
    VISIT = "visit", "Visit"
    TEXT = "text", "Text message"
    PRINT_MEDIA = "print_media", "Print-media packet"
    STATUS_UPDATE = "status_update", "Status update"
    APPRECIATION = "appreciation", "Thank-you / recognition"
    AVAILABILITY_EMAIL = "availability_email", "Availability e-mail"


# Seed 000's "face-to-face about monthly": meeting in person or visiting.
FACE_TO_FACE_KINDS = frozenset({InteractionKind.IN_PERSON, InteractionKind.VISIT})


class Position(models.Model):
    """One job of a partner person: where, as what, from when to when (open: the current one).

    Like the person, it belongs to the network's directory; the current position is mirrored on
    the contact (organization, title) so lists and the HSDS export read it without a join."""

    network = models.ForeignKey("core.Network", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        "directory.Contact", on_delete=models.CASCADE, related_name="positions"
    )
    organization = models.ForeignKey(
        "directory.Organization", on_delete=models.PROTECT, related_name="+"
    )
    title = models.CharField(max_length=200, blank=True)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        ordering = ["-started_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="position_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["contact"], condition=Q(ended_on__isnull=True), name="position_one_current"
            ),
        ]
        indexes = [models.Index(fields=["contact", "-started_on"], name="position_contact")]

    def __str__(self):
        return f"{self.title or 'Position'} at {self.organization_id}"


class RelationshipQuerySet(TenantQuerySet):
    def worked(self):
        return self.filter(stage__in=ACTIVE_STAGES)


class Relationship(models.Model):
    """An agency's relationship with a partner organization of the directory."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        "directory.Organization", on_delete=models.PROTECT, related_name="+"
    )
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.REACH_OUT)
    stage_reason = models.CharField(max_length=500, blank=True)  # why not a fit / dormant
    stage_changed_at = models.DateTimeField(default=timezone.now)
    # Seed 000's question: "what do you consider when referring?"
    considers = models.TextField(blank=True)
    mutual_benefits = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The tier set by hand; `is_top_referrer` is computed from the referrals received (a top
    # referrer counts as primary for the cadence whatever its hand-set tier).
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.PROSPECT)
    is_top_referrer = models.BooleanField(default=False)
    referrals_received_recent = models.PositiveIntegerField(default=0)
    last_contact_at = models.DateTimeField(null=True, blank=True)
    last_face_to_face_at = models.DateTimeField(null=True, blank=True)
    update_owed_since = models.DateTimeField(null=True, blank=True)
    update_owed_about = models.CharField(max_length=200, blank=True)
    next_step = models.CharField(max_length=500, blank=True)
    next_step_on = models.DateField(null=True, blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True)
    due_reason = models.CharField(max_length=20, choices=DueReason.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    objects = RelationshipQuerySet.as_manager()

    class Meta:
        ordering = ["organization__name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "organization"], name="relationship_agency_organization"
            ),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="relationship_stage"),
            models.CheckConstraint(condition=Q(tier__in=Tier.values), name="relationship_tier"),
        ]
        indexes = [
            models.Index(
                fields=["agency", "next_due_at"],
                name="relationship_agency_due",
                condition=Q(next_due_at__isnull=False),
            ),
            models.Index(
                fields=["owner", "next_due_at"],
                name="relationship_owner_due",
                condition=Q(next_due_at__isnull=False),
            ),
            models.Index(fields=["agency", "stage"], name="relationship_agency_stage"),
            models.Index(fields=["agency", "last_contact_at"], name="relationship_last_contact"),
            models.Index(
                fields=["agency", "update_owed_since"],
                name="relationship_update_owed",
                condition=Q(update_owed_since__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.agency_id} ↔ {self.organization_id}"

    @property
    def effective_tier(self) -> str:
        return Tier.PRIMARY if self.is_top_referrer else self.tier


class KeyContactDue(models.TextChoices):
    WELCOME_PACKET = "welcome_packet", "Send the welcome packet"
    REESTABLISH = "reestablish", "Re-establish the relationship"


class KeyContactQuerySet(TenantQuerySet):
    pass


class KeyContact(models.Model):
    """A person an agency works with at a partner, and what it owes that person."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    relationship = models.ForeignKey(
        Relationship, on_delete=models.CASCADE, related_name="key_contacts"
    )
    contact = models.ForeignKey("directory.Contact", on_delete=models.CASCADE, related_name="+")
    role_note = models.CharField(max_length=200, blank=True)  # "decides admissions"
    # The monthly availability e-mail: opted in, and the unsubscribe link's hashed token.
    availability_opt_in = models.BooleanField(default=False)
    opted_in_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    unsubscribe_token_hash = models.CharField(max_length=64, blank=True)
    # What is owed to this person (a welcome packet, re-establishing after a move), stored.
    next_due_at = models.DateTimeField(null=True, blank=True)
    due_reason = models.CharField(max_length=20, choices=KeyContactDue.choices, blank=True)
    due_note = models.CharField(max_length=300, blank=True)
    welcome_packet_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = KeyContactQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["relationship", "contact"], name="key_contact_relationship_contact"
            ),
        ]
        indexes = [
            models.Index(
                fields=["agency", "next_due_at"],
                name="key_contact_agency_due",
                condition=Q(next_due_at__isnull=False),
            ),
            models.Index(fields=["contact"], name="key_contact_contact"),
            models.Index(
                fields=["unsubscribe_token_hash"],
                name="key_contact_unsubscribe",
                condition=~Q(unsubscribe_token_hash=""),
            ),
        ]

    def __str__(self):
        return f"{self.contact_id} at {self.relationship_id}"


class MaterialKind(models.TextChoices):
    RACK_CARD = "rack_card", "Rack card"
    BROCHURE = "brochure", "Brochure"
    BUSINESS_CARD = "business_card", "Business card"
    FOLDER_PACKET = "folder_packet", "Folder packet (first contacts)"
    OTHER = "other", "Other"


class Material(models.Model):
    """A print material the agency hands out, with what is left on the shelf."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=MaterialKind.choices)
    on_hand = models.PositiveIntegerField(default=0)
    is_welcome_packet = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="material_agency_name"),
            models.CheckConstraint(condition=Q(kind__in=MaterialKind.values), name="material_kind"),
        ]

    def __str__(self):
        return self.name


class InteractionQuerySet(TenantQuerySet):
    pass


class Interaction(models.Model):
    """One touch with a partner: a call, a visit, a packet sent, a status update, a thank-you."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    relationship = models.ForeignKey(
        Relationship, on_delete=models.CASCADE, related_name="interactions", db_index=False
    )  # indexed by interaction_relationship_time
    kind = models.CharField(max_length=20, choices=InteractionKind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    people = models.ManyToManyField("directory.Contact", blank=True, related_name="+")
    summary = models.TextField(blank=True)
    next_step = models.CharField(max_length=500, blank=True)
    next_step_on = models.DateField(null=True, blank=True)
    referral = models.ForeignKey(
        "referrals.Referral", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    material = models.ForeignKey(
        Material, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField(null=True, blank=True)
    meeting = models.ForeignKey(
        "Meeting", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = InteractionQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=InteractionKind.values), name="interaction_kind"
            ),
        ]
        indexes = [
            models.Index(
                fields=["relationship", "-occurred_at"], name="interaction_relationship_time"
            ),
            models.Index(fields=["agency", "-occurred_at"], name="interaction_agency_time"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d}"


class MeetingStatus(models.TextChoices):
    CONFIRMED = "confirmed", "Scheduled"
    CANCELLED = "cancelled", "Cancelled"


class Meeting(models.Model):
    """A meeting sent as an iCalendar invitation: one UID for its life, SEQUENCE bumped on
    every change the attendees must see."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    relationship = models.ForeignKey(
        Relationship, null=True, blank=True, on_delete=models.SET_NULL, related_name="meetings"
    )
    uid = models.CharField(max_length=255, unique=True)
    sequence = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=20, choices=MeetingStatus.choices, default=MeetingStatus.CONFIRMED
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    location = models.CharField(max_length=300, blank=True)
    kind = models.CharField(
        max_length=20, choices=InteractionKind.choices, default=InteractionKind.IN_PERSON
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64)
    organizer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="meeting_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(status__in=MeetingStatus.values), name="meeting_status"
            ),
        ]
        indexes = [models.Index(fields=["agency", "-starts_at"], name="meeting_agency_time")]

    def __str__(self):
        return self.title

    @staticmethod
    def new_uid() -> str:
        return f"{uuid.uuid4()}@referloop"


class PartStat(models.TextChoices):
    """RFC 5545 PARTSTAT for an attendee of a VEVENT."""

    NEEDS_ACTION = "NEEDS-ACTION", "No answer yet"
    ACCEPTED = "ACCEPTED", "Accepted"
    DECLINED = "DECLINED", "Declined"
    TENTATIVE = "TENTATIVE", "Tentative"
    DELEGATED = "DELEGATED", "Delegated"


class MeetingAttendee(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendees")
    contact = models.ForeignKey(
        "directory.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254)
    partstat = models.CharField(
        max_length=20, choices=PartStat.choices, default=PartStat.NEEDS_ACTION
    )
    responded_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "email"], name="attendee_meeting_email"),
            models.CheckConstraint(
                condition=Q(partstat__in=PartStat.values), name="attendee_partstat"
            ),
        ]

    def __str__(self):
        return self.email


class StageChange(models.Model):
    """A move of a relationship from one stage to another, with the mover's optional note."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    relationship = models.ForeignKey(
        Relationship, on_delete=models.CASCADE, related_name="stage_changes"
    )
    from_stage = models.CharField(max_length=20, choices=Stage.choices)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    note = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.from_stage} → {self.to_stage}"


class HubspotObject(models.TextChoices):
    CONTACT = "contact", "Contact"
    COMPANY = "company", "Company"


class HubspotLink(models.Model):
    """A HubSpot record an agency imported, linked to what it became: a contact to the partner
    person, a company to the directory organization. Its own table (not the directory's
    `source_id`, which HSDS imports own): the same person or organization may be a record in
    several agencies' HubSpot portals, each with its own id. It keeps what Referloop has no
    field for, so that the export gives HubSpot its columns back."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    object_type = models.CharField(max_length=10, choices=HubspotObject.choices)
    hubspot_id = models.CharField(max_length=100)
    contact = models.ForeignKey(
        "directory.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    organization = models.ForeignKey(
        "directory.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The name as HubSpot split it (Referloop keeps one name): written back while it still is
    # the person's name.
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    # The record ids of the other side ("Associated Company IDs" / "Associated Contact IDs").
    associations = models.JSONField(default=list, blank=True)
    # The file's columns Referloop has no field for, as [header, value] pairs in the file's order
    # (a list: PostgreSQL's jsonb would reorder an object's keys, and the export's columns).
    extra = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "object_type", "hubspot_id"], name="hubspot_link_unique"
            ),
            models.CheckConstraint(
                condition=Q(object_type__in=HubspotObject.values), name="hubspot_link_type"
            ),
            models.CheckConstraint(
                condition=(
                    Q(object_type="contact", contact__isnull=False, organization__isnull=True)
                    | Q(object_type="company", organization__isnull=False, contact__isnull=True)
                ),
                name="hubspot_link_target",
            ),
        ]

    def __str__(self):
        return f"HubSpot {self.object_type} {self.hubspot_id}"
