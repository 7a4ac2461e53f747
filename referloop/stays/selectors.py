"""Reads for inbound referrals, stays and owed updates: the residents list, the worklist's owed
updates, the consent an update needs, the drafted message, the metrics per source."""

import string
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, DateField, F, Q
from django.db.models.functions import TruncMonth, TruncQuarter
from django.urls import reverse
from django.utils import timezone

from referloop.clients.models import Category
from referloop.clients.selectors import DisclosureDecision, client_consents, disclosure_check
from referloop.core.due import DueItem, DueRows
from referloop.core.models import Membership
from referloop.core.timeutils import agency_today, agency_zone
from referloop.directory.models import Contact, Organization
from referloop.stays.models import (
    Application,
    InboundReferral,
    Stay,
    UpdateKind,
    UpdateOwed,
    UpdateState,
    UpdateTemplate,
)

# What each kind of update tells the source about the client: the consent must cover it. A
# sobriety milestone is substance-use information (42 CFR Part 2); the rest is where they live.
UPDATE_CATEGORIES = {
    UpdateKind.CHECK_IN: [Category.IDENTITY, Category.HOUSING],
    UpdateKind.MILESTONE: [Category.IDENTITY, Category.SUBSTANCE_USE],
    UpdateKind.DECISION: [Category.IDENTITY, Category.HOUSING],
    UpdateKind.WAITLIST: [Category.IDENTITY, Category.HOUSING],
    UpdateKind.DENIAL: [Category.IDENTITY, Category.HOUSING],
    UpdateKind.TERMINATION: [Category.IDENTITY, Category.HOUSING],
    UpdateKind.DISCHARGE: [Category.IDENTITY, Category.HOUSING],
    UpdateKind.INDEPENDENT: [Category.IDENTITY, Category.HOUSING],
}

PLACEHOLDERS = {
    "client": "the client's first name and last initial",
    "source": "the source contact's name",
    "agency": "your agency's name",
    "house": "the house or program",
    "move_in": "the move-in date",
    "days": "the days since move-in, or sober, the update is about",
    "milestone": "the milestone in words (90 days, 6 months)",
    "reason": "the denial reason or discharge reason",
    "tracking_id": "the referral's tracking ID",
    "sender": "your name",
}

DEFAULT_TEMPLATES = {
    UpdateKind.CHECK_IN: (
        "Update on {client}: {days} days at {agency}",
        "Hello {source},\n\nA quick update on {client}, whom you referred to us: {days} days "
        "since moving in on {move_in}, and settling in at {house}.\n\nThank you for the "
        "referral. Call me with any questions.\n\n{sender}\n{agency}",
    ),
    UpdateKind.MILESTONE: (
        "{client}: {milestone} sober",
        "Hello {source},\n\nGood news about {client}, whom you referred to us: {milestone} "
        "sober today.\n\nThank you for the referral.\n\n{sender}\n{agency}",
    ),
    UpdateKind.DECISION: (
        "{client}: application approved",
        "Hello {source},\n\n{client}'s application to {agency} is approved. We will let you "
        "know when they move in.\n\n{sender}\n{agency}",
    ),
    UpdateKind.WAITLIST: (
        "{client}: on our wait list",
        "Hello {source},\n\n{client} is on the wait list at {agency}. We will tell you as soon "
        "as a place opens.\n\n{sender}\n{agency}",
    ),
    UpdateKind.DENIAL: (
        "{client}: application not approved",
        "Hello {source},\n\nI am sorry to tell you that {client}'s application to {agency} was "
        "not approved: {reason}. Call me and we will help find another place.\n\n{sender}\n"
        "{agency}",
    ),
    UpdateKind.TERMINATION: (
        "{client}: stay ended",
        "Hello {source},\n\nI need to let you know at once that {client}'s stay at {agency} "
        "ended today ({reason}). Please call me.\n\n{sender}\n{agency}",
    ),
    UpdateKind.DISCHARGE: (
        "{client}: stay completed",
        "Hello {source},\n\n{client}'s stay at {agency} ended ({reason}). Thank you for the "
        "referral.\n\n{sender}\n{agency}",
    ),
    UpdateKind.INDEPENDENT: (
        "{client}: moved to independent living",
        "Hello {source},\n\nGood news: {client} moved on from {agency} to independent living. "
        "Thank you for the referral.\n\n{sender}\n{agency}",
    ),
}


# An update is on time when it went out by the end of the day it fell due.
ON_TIME_GRACE = timedelta(days=1)


def milestone_label(days: int) -> str:
    if days % 365 == 0:
        years = days // 365
        return f"{years} year{'s' if years > 1 else ''}"
    if days in (182, 183):
        return "6 months"
    return f"{days} days"


def unknown_placeholders(text: str) -> list[str]:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        return ["{ (an unmatched brace)"]
    return [name for name in names if name not in PLACEHOLDERS]


class _Blank(dict):
    def __missing__(self, key):
        return ""


# --- the source ---------------------------------------------------------------------------------


@dataclass
class DirectoryMatch:
    organization: Organization | None = None
    contact: Contact | None = None


def directory_match(*, agency, name: str, email: str) -> DirectoryMatch:
    """The network directory's person with this e-mail (and their organization), else the one
    organization with exactly this name: what a form submission most likely meant."""
    contact = (
        Contact.objects.filter(network_id=agency.network_id, email__iexact=email)
        .select_related("organization")
        .order_by("pk")
        .first()
        if email
        else None
    )
    if contact is not None and contact.organization_id is not None:
        return DirectoryMatch(contact.organization, contact)
    named = list(
        Organization.objects.filter(network_id=agency.network_id, name__iexact=name.strip())[:2]
    )
    return DirectoryMatch(named[0] if len(named) == 1 else None, contact)


def sending_organization(referral) -> Organization | None:
    """The directory organization run by the agency that sent a network referral."""
    return (
        Organization.objects.filter(
            network_id=referral.agency.network_id, agency_id=referral.agency_id
        )
        .order_by("pk")
        .first()
    )


def update_recipient(inbound: InboundReferral) -> str:
    if inbound.source_contact_id is not None and inbound.source_contact.email:
        return inbound.source_contact.email
    if inbound.network_referral_id is not None:
        return inbound.network_referral.owner.email
    return inbound.source_email


def update_consent(update: UpdateOwed):
    """The first of the client's consents that lets this update go to the source (fresh read:
    a revocation a second ago counts), else the decision saying why not."""
    return source_consent(update.inbound, UPDATE_CATEGORIES[update.kind])


def source_consent(inbound: InboundReferral, categories, *, consents=None):
    """The first of the client's consents that lets these categories of news about the
    referral go to its source, else the decision saying why not. `consents`: the client's,
    when the caller read them with a page; otherwise they are read now."""
    if inbound.client_id is None:
        return DisclosureDecision(False, "Link the referral to a client first.")
    if consents is None:
        consents = client_consents(client=inbound.client).select_related(
            "agency", "recipient_organization"
        )
    decision = None
    for consent in consents:
        decision = disclosure_check(
            consent=consent,
            client=inbound.client,
            organization=inbound.source_organization,
            categories=categories,
        )
        if decision:
            return decision
    if decision is None:
        return disclosure_check(
            consent=None,
            client=inbound.client,
            organization=inbound.source_organization,
            categories=categories,
        )
    return decision


# --- the drafted message ------------------------------------------------------------------------


def _short_name(client) -> str:
    if client is None:
        return "the person you referred"
    first = client.preferred_name or client.first_name
    return f"{first} {client.last_name[:1]}." if client.last_name else first


@dataclass(frozen=True)
class Wording:
    kind: str
    kind_label: str
    subject: str
    body: str
    custom: bool  # the agency's own wording (else the built-in one)


def update_wordings(*, agency) -> list[Wording]:
    """The wording of each kind of update: the agency's template, or the built-in one."""
    saved = {t.kind: t for t in UpdateTemplate.objects.for_agency(agency)}
    wordings = []
    for kind in UpdateKind:
        template = saved.get(kind)
        subject, body = (template.subject, template.body) if template else DEFAULT_TEMPLATES[kind]
        wordings.append(Wording(kind.value, kind.label, subject, body, template is not None))
    return wordings


def update_draft(update: UpdateOwed, *, sender) -> tuple[str, str]:
    """(subject, body) for an owed update, from the agency's template or the built-in one."""
    inbound = update.inbound
    stay = update.stay
    agency = update.agency
    template = UpdateTemplate.objects.filter(agency=agency, kind=update.kind).first()
    subject, body = (
        (template.subject, template.body) if template else DEFAULT_TEMPLATES[update.kind]
    )
    reason = inbound.status_reason
    if stay is not None and stay.discharge_reason:
        reason = stay.get_discharge_reason_display().lower()
        if stay.discharge_note:
            reason = f"{reason}: {stay.discharge_note}"
    values = _Blank(
        client=_short_name(inbound.client),
        source=(inbound.source_contact.name if inbound.source_contact_id else "")
        or inbound.source_name.split(",")[0]
        or "there",
        agency=agency.name,
        house=(stay.house if stay is not None and stay.house else agency.name),
        move_in=f"{stay.move_in_on:%B %-d}" if stay is not None else "",
        days=str(update.days or ""),
        milestone=milestone_label(update.days) if update.days else "",
        reason=reason or "",
        tracking_id=inbound.tracking_id,
        sender=str(sender) if sender is not None else agency.name,
    )
    return subject.format_map(values), body.format_map(values)


# --- the worklist ---------------------------------------------------------------------------------


def _update_item(update: UpdateOwed) -> DueItem:
    inbound = update.inbound
    source = inbound.source_organization.name if inbound.source_organization_id else "source"
    person = inbound.source_contact.name if inbound.source_contact_id else source
    what = update.get_kind_display().lower()
    if update.kind == UpdateKind.MILESTONE:
        what = f"{milestone_label(update.days)} sober"
    elif update.kind == UpdateKind.CHECK_IN:
        what = f"{update.days} days since move-in"
    return DueItem(
        key=f"stay-update:{update.pk}",
        kind="stay_update",
        kind_label="Urgent update owed" if update.is_urgent else "Update owed",
        subject=f"{_short_name(inbound.client)} → {person} ({source})",
        reason=f"Tell the referral source: {what}",
        due_at=update.due_at,
        action_label="Send the update",
        action_url=reverse("stays:update", args=[update.pk]),
        owner_id=inbound.owner_id,
    )


def owed_updates(*, agency):
    return (
        UpdateOwed.objects.filter(agency=agency, state=UpdateState.OWED)
        .select_related(
            "inbound__client", "inbound__source_organization", "inbound__source_contact"
        )
        .order_by("-is_urgent", "due_at", "pk")
    )


def due_rows(*, agency, member: Membership | None, until: datetime) -> list[DueRows]:
    """The worklist source: owed updates due by `until` (urgent ones first). A member sees those
    of the referrals they own; referrals nobody owns are the whole agency's (member None)."""
    if member is not None and member.agency_id != agency.pk:
        return []
    rows = owed_updates(agency=agency).filter(due_at__lte=until)
    if member is not None:
        rows = rows.filter(inbound__owner=member.user_id)
    else:
        rows = rows.filter(inbound__owner__isnull=True)
    return [DueRows(rows, _update_item)]


# --- pages ----------------------------------------------------------------------------------------


@dataclass
class Resident:
    stay: Stay
    days_here: int
    days_sober: int | None
    next_milestone: str
    owed: int


def residents(*, agency, today: date | None = None) -> list[Resident]:
    """The current residents, newest move-in first, with days sober and updates owed."""
    today = today or agency_today(agency)
    stays = list(
        Stay.objects.filter(agency=agency, discharge_on__isnull=True)
        .select_related("client", "inbound__source_organization", "inbound__source_contact")
        .annotate(owed=Count("updates_owed", filter=Q(updates_owed__state=UpdateState.OWED)))
        .order_by("-move_in_on", "-pk")
    )
    listed = []
    for stay in stays:
        milestone = ""
        if stay.next_milestone_on is not None and stay.sobriety_on is not None:
            days = (stay.next_milestone_on - stay.sobriety_on).days
            milestone = f"{milestone_label(days)} on {stay.next_milestone_on:%b %-d}"
        listed.append(
            Resident(
                stay=stay,
                days_here=(today - stay.move_in_on).days,
                days_sober=(today - stay.sobriety_on).days if stay.sobriety_on else None,
                next_milestone=milestone,
                owed=stay.owed,
            )
        )
    return listed


def inbound_list(*, agency, status: str = "", source_id: int | None = None):
    rows = InboundReferral.objects.for_agency(agency).select_related(
        "client", "source_organization", "source_contact", "owner"
    )
    if status in Application.values:
        rows = rows.filter(status=status)
    if source_id:
        rows = rows.filter(source_organization_id=source_id)
    return rows.order_by("-referred_at", "-pk")


@dataclass
class TimelineEntry:
    at: datetime
    text: str
    detail: str = ""


@dataclass
class InboundPage:
    inbound: InboundReferral
    stay: Stay | None
    updates: list[UpdateOwed]
    timeline: list[TimelineEntry] = field(default_factory=list)


def inbound_page(*, inbound: InboundReferral) -> InboundPage:
    stay = Stay.objects.filter(inbound=inbound).first()
    updates = list(inbound.updates_owed.select_related("settled_by").order_by("due_at", "pk"))
    zone = agency_zone(inbound.agency)
    timeline = [TimelineEntry(inbound.referred_at, f"Referred ({inbound.get_origin_display()})")]
    if inbound.applied_at:
        timeline.append(TimelineEntry(inbound.applied_at, "Applied"))
    if inbound.decided_at:
        timeline.append(
            TimelineEntry(
                inbound.decided_at,
                f"Decision: {inbound.get_status_display()}",
                inbound.status_reason,
            )
        )
    if stay is not None:
        timeline.append(
            TimelineEntry(
                datetime.combine(stay.move_in_on, datetime.min.time(), tzinfo=zone),
                f"Moved in{f' to {stay.house}' if stay.house else ''}",
            )
        )
        if stay.discharge_on:
            timeline.append(
                TimelineEntry(
                    datetime.combine(stay.discharge_on, datetime.min.time(), tzinfo=zone),
                    f"Discharged: {stay.get_discharge_reason_display()}",
                    stay.discharge_note,
                )
            )
    for update in updates:
        if update.state in (UpdateState.SENT, UpdateState.SKIPPED):
            verb = "sent" if update.state == UpdateState.SENT else "skipped"
            timeline.append(
                TimelineEntry(
                    update.settled_at,
                    f"Update {verb}: {update.get_kind_display().lower()}",
                    update.skip_reason,
                )
            )
    timeline.sort(key=lambda entry: entry.at, reverse=True)
    return InboundPage(inbound=inbound, stay=stay, updates=updates, timeline=timeline)


# --- metrics hooks ---------------------------------------------------------------------------


@dataclass
class SourceMetrics:
    organization_id: int
    name: str
    referred: int = 0
    applied: int = 0
    admitted: int = 0
    updates_due: int = 0
    updates_on_time: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.updates_on_time / self.updates_due if self.updates_due else None


def source_metrics(
    *, agency, since: datetime, until: datetime | None = None
) -> list[SourceMetrics]:
    """Per source organization: inbound conversion (referred → applied → admitted) of the
    referrals made in the window, and the on-time rate of the updates that fell due in it."""
    until = until or timezone.now()
    inbound = (
        InboundReferral.objects.filter(
            agency=agency,
            source_organization__isnull=False,
            referred_at__gte=since,
            referred_at__lt=until,
        )
        .exclude(status=Application.NEW)
        .values("source_organization_id", "source_organization__name")
        .annotate(
            referred=Count("pk"),
            applied=Count(
                "pk",
                filter=Q(applied_at__isnull=False)
                | Q(decided_at__isnull=False)
                | Q(admitted_at__isnull=False),
            ),
            admitted=Count("pk", filter=Q(admitted_at__isnull=False)),
        )
    )
    metrics: dict[int, SourceMetrics] = {}
    for row in inbound:
        metrics[row["source_organization_id"]] = SourceMetrics(
            row["source_organization_id"],
            row["source_organization__name"],
            row["referred"],
            row["applied"],
            row["admitted"],
        )
    for row in (
        UpdateOwed.objects.filter(agency=agency, due_at__gte=since, due_at__lt=until)
        .exclude(state=UpdateState.CANCELLED)
        .values("inbound__source_organization_id", "inbound__source_organization__name")
        .annotate(
            owed=Count("pk"),
            on_time=Count(
                "pk",
                filter=Q(state=UpdateState.SENT, settled_at__lt=F("due_at") + ON_TIME_GRACE),
            ),
        )
        .order_by()
    ):
        key = row["inbound__source_organization_id"]
        source = metrics.setdefault(
            key, SourceMetrics(key, row["inbound__source_organization__name"])
        )
        source.updates_due, source.updates_on_time = row["owed"], row["on_time"]
    return sorted(metrics.values(), key=lambda row: row.name.lower())


def source_referrals_by_month(
    *, agency, since: datetime, until: datetime, quarterly: bool = False
) -> list[dict]:
    """Referrals made to us per source organization and month (or quarter) of referral, in
    agency time, counted as `source_metrics` counts them: one grouped query."""
    bucket = (TruncQuarter if quarterly else TruncMonth)(
        "referred_at", output_field=DateField(), tzinfo=agency_zone(agency)
    )
    return list(
        InboundReferral.objects.filter(
            agency=agency,
            source_organization__isnull=False,
            referred_at__gte=since,
            referred_at__lt=until,
        )
        .exclude(status=Application.NEW)
        .annotate(bucket=bucket)
        .values("source_organization_id", "source_organization__name", "bucket")
        .annotate(referred=Count("pk"))
        .order_by()
    )


def client_stays(*, client) -> tuple[list[InboundReferral], list[Stay]]:
    """The referrals made to us for this client, and their stays, newest first."""
    inbound = list(
        InboundReferral.objects.for_agency(client.agency)
        .filter(client=client)
        .select_related("source_organization")
        .order_by("-referred_at", "-pk")
    )
    stays = list(
        Stay.objects.for_agency(client.agency).filter(client=client).order_by("-move_in_on", "-pk")
    )
    return inbound, stays
