"""Messages about referrals to staff. Only bad news (not accepted, failed) goes out at once;
everything else waits for the daily digest (referloop.worklist.digests)."""

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from referloop.core.outbox import outbox_enqueue


def bad_news_queue(*, referral, event) -> None:
    """Tells the owner at once that a referral was not accepted or failed (no client name: the
    tracking ID and a link are enough, and e-mail crosses servers we don't control)."""
    owner = referral.owner
    if not owner.is_active:
        return
    context = {
        "referral": referral,
        "event": event,
        "url": f"{settings.BASE_URL}{reverse('referrals:detail', kwargs={'pk': referral.pk})}",
    }
    # Written in the caller's transaction: the worker only ever sees committed rows.
    outbox_enqueue(
        dedupe_key=f"bad-news:{event.pk}",
        kind="referral_bad_news",
        to=owner.email,
        subject=f"Referral {referral.tracking_id}: {referral.get_status_display().lower()}",
        body_text=render_to_string("referrals/email/bad_news.txt", context),
        agency=referral.agency,
        obj=referral,
    )
