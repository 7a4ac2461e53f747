"""The weekly review by e-mail, for agencies that opt in (policy `weekly_review_email`): on the
first working day of each week, after 07:00 agency time, every active program lead gets last
week's review. The worker runs `weekly_reviews_send` every few minutes; the outbox's dedupe key
`weekly-review:<agency>:<user>:<monday>` makes every later run that week a no-op.

E-mail crosses servers we don't control, so it carries counts, partner names, reasons and links
— never a client's name nor a tracking ID: the lines themselves are on the page behind the link.
"""

from datetime import timedelta

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from referloop.core.models import Agency, Membership
from referloop.core.outbox import outbox_enqueue
from referloop.core.permissions import Role
from referloop.core.timeutils import agency_now, agency_today, is_business_day
from referloop.reports.review import last_full_week, weekly_review

SEND_HOUR = 7  # agency-local, as the daily digest


def _first_working_day_of_week(agency) -> bool:
    policy, today = agency.policies, agency_today(agency)

    def works(day):
        return is_business_day(
            day, working_weekdays=policy.working_weekdays, holidays=policy.holidays
        )

    monday = today - timedelta(days=today.weekday())
    earlier = (monday + timedelta(days=n) for n in range(today.weekday()))
    return works(today) and not any(works(day) for day in earlier)


def review_key(agency, user, monday) -> str:
    return f"weekly-review:{agency.pk}:{user.pk}:{monday.isoformat()}"


def weekly_reviews_send() -> int:
    """Queues last week's review for each program lead of each opted-in agency whose week has
    begun; returns how many were queued. The outbox worker delivers them."""
    queued = 0
    for agency in Agency.objects.all():
        if not agency.policies.weekly_review_email or agency_now(agency).hour < SEND_HOUR:
            continue
        if not _first_working_day_of_week(agency):
            continue
        leads = list(
            Membership.objects.filter(
                agency=agency, role=Role.PROGRAM_LEAD, is_active=True, user__is_active=True
            ).select_related("user")
        )
        if not leads:
            continue
        week = last_full_week(agency)
        result = weekly_review(agency, week)
        page = f"{settings.BASE_URL}{reverse('reports:review')}?week={week.start.isoformat()}"
        for membership in leads:
            context = {"user": membership.user, "review": result, "agency": agency, "page": page}
            _, created = outbox_enqueue(
                dedupe_key=review_key(agency, membership.user, week.start),
                kind="weekly_review",
                to=membership.user.email,
                subject=f"{agency.name}: the week of {week.start:%b} {week.start.day} in review",
                body_text=render_to_string("reports/email/review.txt", context),
                body_html=render_to_string("reports/email/review.html", context),
                agency=agency,
            )
            queued += created
    return queued
