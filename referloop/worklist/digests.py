"""The daily digest: one e-mail per person per day listing what is overdue and due today in each
of their agencies, and, for program leads, the referrals that escalated to them.

The worker runs `digests_send` every few minutes. A person's digest goes out on the first run
after 07:00 (agency time) on a business day of one of their agencies; the outbox's dedupe key
`digest:<user id>:<date>` makes every later run that day a no-op, so nobody gets two. Only the
agencies working that day are listed: nobody is mailed about work on their weekend or holiday.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from referloop.core.due import DueItem
from referloop.core.models import Agency, Membership, OutboundEmail, User
from referloop.core.outbox import outbox_enqueue
from referloop.core.timeutils import agency_now, agency_today, is_business_day
from referloop.referrals.services import referral_escalations_record
from referloop.worklist.selectors import worklist_for

DIGEST_HOUR = 7  # agency-local: the digest is there when people start the day
ESCALATION = "escalation"  # the DueItem kind the referrals source gives escalations


@dataclass
class Section:
    """One agency's part of a person's digest."""

    agency: Agency
    escalations: list[DueItem] = field(default_factory=list)
    overdue: list[DueItem] = field(default_factory=list)
    due_today: list[DueItem] = field(default_factory=list)

    @property
    def groups(self) -> list[tuple[str, list[DueItem]]]:
        """The non-empty groups, escalations first: they are the most urgent."""
        named = (
            ("Escalations", self.escalations),
            ("Overdue", self.overdue),
            ("Due today", self.due_today),
        )
        return [(label, items) for label, items in named if items]

    @property
    def total(self) -> int:
        return len(self.escalations) + len(self.overdue) + len(self.due_today)


def _works_today(agency: Agency) -> bool:
    policy = agency.policies
    return is_business_day(
        agency_today(agency),
        working_weekdays=policy.working_weekdays,
        holidays=policy.holidays,
    )


def _section(membership: Membership) -> Section:
    worklist = worklist_for(agency=membership.agency, member=membership)
    section = Section(agency=membership.agency)
    for group, items in (
        (section.overdue, worklist.overdue),
        (section.due_today, worklist.due_today),
    ):
        for item in items:
            (section.escalations if item.kind == ESCALATION else group).append(item)
    return section


def digest_key(user: User, day: date) -> str:
    return f"digest:{user.pk}:{day.isoformat()}"


def _subject(day: date, sections: list[Section]) -> str:
    counts = (
        (sum(len(s.overdue) for s in sections), "overdue"),
        (sum(len(s.due_today) for s in sections), "due today"),
        (sum(len(s.escalations) for s in sections), "escalated"),
    )
    summary = ", ".join(f"{count} {label}" for count, label in counts if count)
    return f"Referloop, {day:%a} {day.day} {day:%b}: {summary}"


def _digest_queue(*, user: User, day: date, sections: list[Section], now: datetime) -> bool:
    context = {"user": user, "day": day, "sections": sections, "base_url": settings.BASE_URL}
    with transaction.atomic():
        _, created = outbox_enqueue(
            dedupe_key=digest_key(user, day),
            kind="digest",
            to=user.email,
            subject=_subject(day, sections),
            body_text=render_to_string("worklist/email/digest.txt", context),
            body_html=render_to_string("worklist/email/digest.html", context),
            # A digest spanning agencies belongs to none of them (no agency's outbox shows it).
            agency=sections[0].agency if len(sections) == 1 else None,
        )
        if created:
            # `now` was read before the worklists were: what is marked was listed.
            for section in sections:
                if section.escalations:
                    referral_escalations_record(agency=section.agency, now=now)
    return created


def digests_send() -> int:
    """Queues today's digest for everyone who has something overdue or due today and has not
    had one yet; returns how many were queued. The outbox worker delivers them."""
    now = timezone.now()
    working = [agency for agency in Agency.objects.all() if _works_today(agency)]
    started = {agency.pk for agency in working if agency_now(agency).hour >= DIGEST_HOUR}
    if not started:
        return 0
    memberships_of = defaultdict(list)
    for membership in (
        Membership.objects.filter(agency__in=working, is_active=True, user__is_active=True)
        .select_related("user", "agency")
        .order_by("user_id", "agency__name")
    ):
        memberships_of[membership.user].append(membership)
    # A person's day (the dedupe key's date) is the local date of their agencies whose morning
    # has come; every agency of theirs that works today is listed, whether or not it has.
    days = {
        user: max(agency_today(m.agency) for m in memberships if m.agency_id in started)
        for user, memberships in memberships_of.items()
        if any(m.agency_id in started for m in memberships)
    }
    already = set(
        OutboundEmail.objects.filter(
            dedupe_key__in=[digest_key(user, day) for user, day in days.items()]
        ).values_list("dedupe_key", flat=True)
    )
    queued = 0
    for user, day in days.items():
        if digest_key(user, day) in already:
            continue
        sections = [section for m in memberships_of[user] if (section := _section(m)).total]
        if sections and _digest_queue(user=user, day=day, sections=sections, now=now):
            queued += 1
    return queued
