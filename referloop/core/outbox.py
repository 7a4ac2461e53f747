"""The outbox: e-mail is written as a row in the transaction that decides to send it, and the
worker delivers it. Claiming is a compare-and-set UPDATE, so two workers never send one message;
`dedupe_key` makes enqueueing idempotent, so nothing is ever queued twice either."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db.models import Q
from django.utils import timezone

from referloop.core.models import OutboundEmail
from referloop.core.worker import worker_id

logger = logging.getLogger("referloop.mail")

CLAIM_LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BATCH = 100


def outbox_enqueue(
    *,
    dedupe_key: str,
    kind: str,
    to: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    agency=None,
    reply_to: str = "",
    obj=None,
) -> tuple[OutboundEmail, bool]:
    """Queues one message (or returns the one already queued under `dedupe_key`)."""
    return OutboundEmail.objects.get_or_create(
        dedupe_key=dedupe_key[:200],
        defaults={
            "kind": kind,
            "to": to,
            "subject": subject[:200],
            "body_text": body_text,
            "body_html": body_html,
            "agency": agency,
            "reply_to": reply_to,
            "object_type": obj._meta.label_lower if obj is not None else "",
            "object_id": str(obj.pk) if obj is not None else "",
        },
    )


def smtp_configured() -> bool:
    return bool(settings.SMTP_HOST)


def _claim(message_id: int, worker: str) -> bool:
    now = timezone.now()
    return (
        OutboundEmail.objects.pending()
        .filter(pk=message_id, send_after__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_by=worker, claimed_until=now + CLAIM_LEASE)
        == 1
    )


def outbox_deliver() -> int:
    """Sends what is due (the worker runs this every few seconds). Without an SMTP host nothing
    is sent: the messages wait on the Outbox page. Failures are retried with back-off."""
    if not smtp_configured():
        return 0
    worker = worker_id()
    now = timezone.now()
    due_ids = list(
        OutboundEmail.objects.pending()
        .filter(send_after__lte=now, attempts__lt=MAX_ATTEMPTS)
        .order_by("send_after", "id")
        .values_list("pk", flat=True)[:BATCH]
    )
    sent = 0
    with mailers.default as mailer:
        for message_id in due_ids:
            if not _claim(message_id, worker):
                continue
            message = OutboundEmail.objects.get(pk=message_id)
            email = EmailMultiAlternatives(
                subject=message.subject,
                body=message.body_text,
                to=[message.to],
                reply_to=[message.reply_to] if message.reply_to else None,
                headers={"Auto-Submitted": "auto-generated"},
            )
            if message.body_html:
                email.attach_alternative(message.body_html, "text/html")
            try:
                if mailer.send_messages([email]) != 1:
                    raise RuntimeError("the mail server did not accept the message")
            except Exception as exc:
                attempts = message.attempts + 1
                OutboundEmail.objects.filter(pk=message_id, claimed_by=worker).update(
                    attempts=attempts,
                    last_error=f"{type(exc).__name__}: {exc}"[:500],
                    claimed_by="",
                    claimed_until=None,
                    send_after=timezone.now() + timedelta(minutes=2**attempts),
                )
                logger.warning("outbox: message %s failed: %s", message_id, exc)
                continue
            OutboundEmail.objects.filter(pk=message_id, claimed_by=worker).update(
                sent_at=timezone.now(), claimed_by="", claimed_until=None, last_error=""
            )
            sent += 1
    return sent


def outbox_cancel(*, message: OutboundEmail, reason: str) -> bool:
    """Withdraws a message that has not gone out (e.g. the consent behind it was revoked)."""
    return (
        OutboundEmail.objects.pending()
        .filter(pk=message.pk)
        .update(cancelled_at=timezone.now(), cancel_reason=reason[:300])
        == 1
    )
