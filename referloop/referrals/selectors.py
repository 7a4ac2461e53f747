"""Reads for referrals.

The worklist source comes first: `due_rows` answers from the stored `next_due_at` only, through
the partial indexes on (owner, next_due_at) and (agency, next_due_at), in a fixed number of
queries however many items there are. Nothing here recomputes a due time or reads the timeline.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.urls import reverse
from django.utils import timezone

from referloop.core.due import DueItem, DueRows
from referloop.core.models import Membership
from referloop.core.permissions import Perm, has_perm
from referloop.directory.models import Organization
from referloop.referrals.due import escalation_threshold
from referloop.referrals.models import OPEN, DueReason, EventKind, Referral, ReplyLink, Status

# The columns the worklist rows need: only these are loaded, so only the client's name fields
# are decrypted, and only for the rows returned.
_DUE_FIELDS = (
    "pk",
    "agency_id",
    "tracking_id",
    "owner_id",
    "sent_at",
    "last_follow_up_at",
    "last_partner_update_at",
    "next_due_at",
    "due_reason",
    "client__first_name",
    "client__last_name",
    "client__preferred_name",
    "organization__name",
    "disposition__label",
)


_ACTIONS = {
    DueReason.RECEIPT: "Log follow-up",
    DueReason.FIRST_CONTACT: "Log follow-up",
    DueReason.FOLLOW_UP: "Log follow-up",
    DueReason.OUTCOME: "Record outcome",
    DueReason.REREFER: "Re-refer",
}


def _detail_urls() -> Callable[[Referral], str]:
    """Each referral's "next action" URL: reversed once, then filled in per referral (a reverse
    per item cost a fifth of a busy agency's worklist)."""
    head, _, tail = reverse("referrals:detail", kwargs={"pk": 0}).rpartition("0")
    return lambda referral: f"{head}{referral.pk}{tail}#next-action"


def _days(count: int) -> str:
    return f"{count} day{'' if count == 1 else 's'}"


def _lateness(due_at: datetime, now: datetime) -> str:
    """How late, in words ("3 days overdue"); empty when it is not due yet."""
    if due_at > now:
        return ""
    late = now - due_at
    if late.days == 0:
        return "Overdue since today."
    return f"{_days(late.days)} overdue."


def _what_is_due(referral: Referral, policy, now: datetime) -> tuple[str, str]:
    """(kind label, reason) for a referral's stored due reason, in plain words. Reasons name the
    tracking ID and the partner but never the client: the daily digest e-mails them."""
    ref, partner = referral.tracking_id, referral.organization.name
    reason = referral.due_reason
    if reason == DueReason.RECEIPT:
        days = policy.receipt_confirm_business_days
        return "Receipt not confirmed", (
            f"No receipt confirmation from {partner} for {ref} yet (target: {days} business "
            f"day{'' if days == 1 else 's'})."
        )
    if reason == DueReason.FIRST_CONTACT:
        return "No first contact", (
            f"No contact attempt with the client yet for {ref} to {partner} "
            f"(target: {_days(policy.first_contact_days)})."
        )
    if reason == DueReason.OUTCOME:
        return "Outcome unknown", (
            f"Outcome of {ref} at {partner} not known yet "
            f"(target: {_days(policy.outcome_known_days)})."
        )
    if reason == DueReason.REREFER:
        code = referral.disposition.label if referral.disposition_id else "no reason given"
        return "Re-refer", f"{ref} not accepted by {partner} ({code}): re-refer the client."
    last_touch = max(
        filter(
            None, (referral.sent_at, referral.last_follow_up_at, referral.last_partner_update_at)
        )
    )
    quiet = (now - last_touch).days
    return "Referral follow-up", (
        f"Follow up with {partner} about {ref}: last contact {_days(quiet)} ago."
    )


def _subject(referral: Referral) -> str:
    return f"{referral.client.display_name} · {referral.tracking_id}"


def _owner_item(referral: Referral, *, policy, now: datetime, url) -> DueItem:
    kind_label, reason = _what_is_due(referral, policy, now)
    return DueItem(
        key=f"referral:{referral.pk}",
        kind=f"referral_{referral.due_reason}",
        kind_label=kind_label,
        subject=_subject(referral),
        reason=" ".join(filter(None, (reason, _lateness(referral.next_due_at, now)))),
        due_at=referral.next_due_at,
        action_label=_ACTIONS.get(referral.due_reason, "Log follow-up"),
        action_url=url(referral),
        owner_id=referral.owner_id,
    )


def _escalation_item(referral: Referral, *, policy, now: datetime, url) -> DueItem:
    _, reason = _what_is_due(referral, policy, now)
    late = (now - referral.next_due_at).days
    escalates_after = timedelta(days=policy.escalate_after_overdue_days)
    return DueItem(
        key=f"referral-escalation:{referral.pk}",
        kind="escalation",
        kind_label="Escalation",
        subject=_subject(referral),
        reason=f"{_days(late)} overdue, owned by {referral.owner}. {reason}",
        # It became the lead's the moment it crossed the escalation threshold.
        due_at=referral.next_due_at + escalates_after,
        action_label="Review",
        action_url=url(referral),
    )


def _inbox_item(referral: Referral, *, now: datetime, url) -> DueItem:
    # The receiving agency sees only the packet the consent allowed, never the sender's client
    # record: no client name here, only the tracking ID, the sender and the service.
    wanted = referral.service.name if referral.service_id else referral.organization.name
    waiting = now - referral.sent_at
    since = "today" if waiting.days == 0 else f"{_days(waiting.days)} ago"
    return DueItem(
        key=f"referral-inbox:{referral.pk}",
        kind="referral_inbox",
        kind_label="New referral",
        subject=f"{referral.tracking_id} from {referral.agency.name}",
        reason=f"New referral {referral.tracking_id} from {referral.agency.name} for {wanted}, "
        f"sent {since}: acknowledge it so they know it arrived.",
        due_at=referral.sent_at,
        action_label="Acknowledge",
        action_url=url(referral),
    )


def referrals_to_escalate(*, agency, now: datetime):
    """The agency's referrals overdue long enough to go to its program leads (as of `now`)."""
    return Referral.objects.filter(
        agency=agency, next_due_at__lte=escalation_threshold(agency, now)
    )


def due_rows(*, agency, member: Membership | None, until: datetime) -> list[DueRows]:
    """The referrals worklist source (see core.selectors.due_rows for the contract).

    - the member's own referrals whose stored due time is at or before `until` (member None:
      everyone's in the agency);
    - escalations, for program leads (and the whole agency): referrals overdue by more than the
      policy's threshold. They are never forecast: a referral escalates only once it is late.
    - the agency's inbox: referrals sent to it that nobody there has acknowledged yet, for the
      members who can acknowledge them.
    """
    if member is not None and member.agency_id != agency.pk:
        return []
    now = timezone.now()
    policy = agency.policies
    owned = Referral.objects.filter(agency=agency, next_due_at__lte=until)
    if member is not None:
        owned = owned.filter(owner=member.user_id)
    owned = (
        owned.select_related("client", "organization", "disposition")
        .only(*_DUE_FIELDS)
        .order_by("next_due_at", "pk")
    )
    url = _detail_urls()
    sources = [DueRows(owned, partial(_owner_item, policy=policy, now=now, url=url))]
    if member is None or has_perm(member, Perm.RECEIVE_ESCALATIONS):
        escalated = (
            referrals_to_escalate(agency=agency, now=min(now, until))
            .select_related("client", "organization", "disposition", "owner")
            .only(*_DUE_FIELDS, "owner__full_name", "owner__email")
            .order_by("next_due_at", "pk")
        )
        escalation = partial(_escalation_item, policy=policy, now=now, url=url)
        sources.append(DueRows(escalated, escalation))
    if member is None or has_perm(member, Perm.WRITE):
        inbox = (
            Referral.objects.filter(
                receiving_agency=agency, status=Status.REQUESTED, sent_at__lte=until
            )
            .select_related("agency", "organization", "service")
            .only(
                "pk",
                "tracking_id",
                "sent_at",
                "service_id",
                "agency__name",
                "organization__name",
                "service__name",
            )
            .order_by("sent_at", "pk")
        )
        sources.append(DueRows(inbox, partial(_inbox_item, now=now, url=url)))
    return sources


# --- lists and detail pages --------------------------------------------------------------------

# Only what a row shows is joined (the sender agency, on inbound rows, is added there): each more
# join grew PostgreSQL's planning of this query, up to ten times its run time.
_LIST_RELATED = ("client", "organization", "service", "owner")
# What a page of the list leaves out of each client: it shows the name only (minimum necessary,
# and each encrypted field read is a decryption).
LIST_PAGE_DEFERRED = tuple(
    f"client__{name}"
    for name in (
        "date_of_birth",
        "phone",
        "email",
        "address",
        "safe_phone",
        "safe_email",
        "safe_contact_note",
    )
)
_LIST_ORDER = {"created": ("created_at", "id"), "due": ("next_due_at", "id")}


def with_viewer_agency(referral: Referral, agency) -> Referral:
    """The referral with the viewer's agency (its sender or its receiver) set from `agency`
    rather than joined: PostgreSQL took ten times longer to plan a join of a referral with all
    it refers to than to run it. The other side loads on first use."""
    for side in ("agency", "receiving_agency"):
        if getattr(referral, f"{side}_id") == agency.pk:
            setattr(referral, side, agency)
    return referral


def referral_list(
    *,
    agency,
    direction: str = "outbound",
    statuses=(),
    owner_id: int | None = None,
    partner_id: int | None = None,
    overdue: bool = False,
    open_only: bool = False,
    sort: str = "-created",
):
    """Referrals sent by the agency (outbound) or sent to it (inbound, never drafts), filtered on
    indexed columns; "overdue" compares the stored due time with now."""
    if direction == "inbound":
        rows = Referral.objects.filter(receiving_agency=agency).exclude(status=Status.DRAFT)
        rows = rows.select_related("agency")  # the sender, shown on each row
    else:
        rows = Referral.objects.for_agency(agency)
    if statuses:
        rows = rows.filter(status__in=statuses)
    if open_only:
        rows = rows.filter(status__in=OPEN)
    if owner_id:
        rows = rows.filter(owner_id=owner_id)
    if partner_id:
        rows = rows.filter(organization_id=partner_id)
    if overdue:
        rows = rows.filter(next_due_at__lte=timezone.now())
    order = _LIST_ORDER.get(sort, ("-created_at", "-id"))
    return rows.select_related(*_LIST_RELATED).order_by(*order)


def client_referrals(*, client) -> list[Referral]:
    return list(
        Referral.objects.for_agency(client.agency)
        .filter(client=client)
        .select_related("organization", "service")
        .order_by("-created_at")
    )


def referral_timeline(*, referral: Referral, for_receiver: bool) -> list:
    """Events newest first. The receiving agency sees the sending, status changes and partner
    replies -- never the sender's internal notes, follow-ups or e-mails."""
    events = referral.events.select_related("actor", "actor_agency", "disposition")
    if for_receiver:
        events = events.filter(kind__in=[EventKind.SENT, EventKind.STATUS, EventKind.PARTNER_REPLY])
    return list(events.order_by("-at", "-id"))


def referral_reply_links(*, referral: Referral, agency):
    """The one-question reply links the agency sent the partner for the referral, newest first,
    each with the partner's last answer: the sender's own (a receiving agency has none)."""
    return (
        ReplyLink.objects.for_agency(agency)
        .filter(referral=referral)
        .order_by("-created_at", "-id")
    )


def referral_chain(*, referral: Referral) -> list[Referral]:
    """The bounce-back chain around a referral: the one it re-refers and those re-referring it."""
    linked = Q(bounce_back_of_id=referral.pk)
    if referral.bounce_back_of_id:
        linked |= Q(pk=referral.bounce_back_of_id)
    return list(
        Referral.objects.for_agency(referral.agency)
        .filter(linked)
        .select_related("organization")
        .order_by("created_at")
    )


# --- referrals with a partner organization (the partners app's reciprocity and timeline) ------


def _source_organizations(agency, sender_ids) -> dict[int, list[int]]:
    """The directory organizations each sending agency runs, in the receiver's network."""
    runs: dict[int, list[int]] = {}
    rows = Organization.objects.filter(network_id=agency.network_id, agency_id__in=sender_ids)
    for organization_id, sender_id in rows.values_list("pk", "agency_id"):
        runs.setdefault(sender_id, []).append(organization_id)
    return runs


def _received(agency):
    return Referral.objects.filter(receiving_agency=agency).exclude(status=Status.DRAFT)


def partner_referral_counts(*, agency, since: datetime | None = None) -> dict[int, dict]:
    """Referrals received from and sent to each partner organization, counted in SQL:
    `{organization_id: {"received": n, "sent": m}}`. A referral is received from the
    organization its sending agency runs in the directory."""
    sent = Referral.objects.for_agency(agency).exclude(status=Status.DRAFT)
    received = _received(agency)
    if since is not None:
        sent, received = sent.filter(created_at__gte=since), received.filter(created_at__gte=since)
    counts: dict[int, dict] = {}
    for organization_id, n in sent.values_list("organization_id").annotate(n=Count("pk")):
        counts.setdefault(organization_id, {"received": 0, "sent": 0})["sent"] = n
    by_sender = dict(received.values_list("agency_id").annotate(n=Count("pk")))
    for sender_id, organization_ids in _source_organizations(agency, by_sender).items():
        for organization_id in organization_ids:
            entry = counts.setdefault(organization_id, {"received": 0, "sent": 0})
            entry["received"] = by_sender[sender_id]
    return counts


def partner_referral_months(*, agency, organization, since: datetime) -> dict[str, dict]:
    """Per month (agency time, "YYYY-MM") since `since`: referrals received from and sent to
    one partner organization."""
    zone = ZoneInfo(agency.time_zone)
    months: dict[str, dict] = {}
    sent = Referral.objects.for_agency(agency).filter(
        organization=organization, created_at__gte=since
    )
    received = _received(agency).filter(created_at__gte=since)
    if organization.agency_id is None or organization.network_id != agency.network_id:
        received = received.none()
    else:
        received = received.filter(agency_id=organization.agency_id)
    for direction, rows in (("sent", sent), ("received", received)):
        monthly = (
            rows.exclude(status=Status.DRAFT)
            .annotate(month=TruncMonth("created_at", tzinfo=zone))
            .values_list("month")
            .annotate(n=Count("pk"))
        )
        for month, n in monthly:
            entry = months.setdefault(f"{month:%Y-%m}", {"received": 0, "sent": 0})
            entry[direction] = n
    return months


def partner_referrals(*, agency, organization, limit: int = 50) -> list[Referral]:
    """The latest referrals between the agency and one partner organization, both ways."""
    sent = Q(agency=agency, organization=organization)
    links = sent
    if organization.agency_id is not None and organization.network_id == agency.network_id:
        links |= Q(receiving_agency=agency, agency_id=organization.agency_id)
    return list(
        Referral.objects.filter(links)
        .exclude(status=Status.DRAFT)
        .select_related("organization", "service", "agency")
        .only(
            "pk",
            "tracking_id",
            "status",
            "created_at",
            "agency_id",
            "receiving_agency_id",
            "organization__name",
            "service__name",
            "agency__name",
        )
        .order_by("-created_at", "-pk")[:limit]
    )


def referral_for_partner_log(*, agency, pk: int) -> Referral | None:
    """A referral of the agency's (sent or received) that an interaction may link to."""
    return (
        Referral.objects.filter(Q(agency=agency) | Q(receiving_agency=agency))
        .exclude(status=Status.DRAFT)
        .filter(pk=pk)
        .select_related("organization", "agency")
        .first()
    )
