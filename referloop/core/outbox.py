"""The outbox: e-mail is written as a row in the transaction that decides to send it, and the
worker delivers it. Claiming is a compare-and-set UPDATE, so two workers never send one message;
`dedupe_key` makes enqueueing idempotent, so nothing is ever queued twice either."""

import json
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
    calendar: str = "",
    calendar_method: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[OutboundEmail, bool]:
    """Queues one message (or returns the one already queued under `dedupe_key`); `calendar`
    is an iCalendar invitation sent along, `calendar_method` its METHOD (REQUEST, CANCEL);
    `headers` are added to the message (they cannot replace the ones the outbox sets)."""
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
            "calendar": calendar,
            "calendar_method": calendar_method,
            "headers": json.dumps(headers) if headers else "",
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
        .filter(pk=message_id, send_after__lte=now, attempts__lt=MAX_ATTEMPTS)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_by=worker, claimed_until=now + CLAIM_LEASE)
        == 1
    )


class _InviteEmail(EmailMultiAlternatives):
    """A message whose text/calendar alternative names its iTIP method: Outlook shows the
    invitation's Accept/Decline buttons only for `text/calendar; method=REQUEST`, a parameter
    Django's alternatives cannot carry."""

    calendar_method = ""

    def _add_bodies(self, msg):
        msg = super()._add_bodies(msg)
        for part in msg.walk():
            if part.get_content_type() == "text/calendar" and self.calendar_method:
                part.set_param("method", self.calendar_method)
        return msg


def _email(message: OutboundEmail) -> EmailMultiAlternatives:
    email = _InviteEmail(
        subject=message.subject,
        body=message.body_text,
        to=[message.to],
        reply_to=[message.reply_to] if message.reply_to else None,
        headers={
            **(json.loads(message.headers) if message.headers else {}),
            "Auto-Submitted": "auto-generated",
            # The same id on every attempt: should a message go out twice after all (a worker
            # died between the server's "250 OK" and marking it sent), mail clients show it once.
            "Message-ID": f"<outbox-{message.pk}-{message.created_at:%Y%m%d%H%M%S}@referloop>",
        },
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    if message.calendar:
        _calendar_attach(email, message)
    return email


def _calendar_attach(email: _InviteEmail, message: OutboundEmail) -> None:
    """The invitation twice: as the text/calendar alternative calendar clients act on, and as
    an invite.ics attachment for clients (and people) that only see attachments."""
    email.calendar_method = message.calendar_method
    email.attach_alternative(message.calendar, "text/calendar")
    email.attach("invite.ics", message.calendar.encode(), "application/ics")


def _failed(message: OutboundEmail, worker: str, error: Exception) -> None:
    attempts = message.attempts + 1
    OutboundEmail.objects.filter(pk=message.pk, claimed_by=worker).update(
        attempts=attempts,
        last_error=f"{type(error).__name__}: {error}"[:500],
        claimed_by="",
        claimed_until=None,
        send_after=timezone.now() + timedelta(minutes=2**attempts),
    )
    logger.warning("outbox: message %s failed (attempt %s): %s", message.pk, attempts, error)


def _close(mailer) -> None:
    try:
        mailer.close()
    except Exception as error:  # a broken connection may refuse a polite QUIT; it is gone anyway
        logger.info("outbox: closing the mail connection: %s", error)


def outbox_deliver() -> int:
    """Sends what is due (a worker sweep, every few seconds). Each message is claimed with a
    compare-and-set UPDATE before it is sent and marked sent by its claimant only, so two workers
    -- or two runs at once -- never send one message twice. A failure is retried with back-off
    (2, 4, 8, ... minutes; at most MAX_ATTEMPTS tries, then it stays "failing" on the Outbox
    page). Without an SMTP host nothing is sent: the messages wait on the Outbox page."""
    if not smtp_configured():
        return 0
    worker = worker_id()
    due_ids = list(
        OutboundEmail.objects.pending()
        .filter(send_after__lte=timezone.now(), attempts__lt=MAX_ATTEMPTS)
        .order_by("send_after", "id")
        .values_list("pk", flat=True)[:BATCH]
    )
    if not due_ids:
        return 0
    sent = 0
    mailer = mailers.default
    try:
        for message_id in due_ids:
            if not _claim(message_id, worker):
                continue
            message = OutboundEmail.objects.get(pk=message_id)
            try:
                mailer.open()  # one connection for the batch; reopened after a failure
                if mailer.send_messages([_email(message)]) != 1:
                    raise RuntimeError("the mail server did not accept the message")
            except Exception as error:
                _failed(message, worker, error)
                _close(mailer)  # a connection that failed once is not reused
                continue
            OutboundEmail.objects.filter(pk=message_id, claimed_by=worker).update(
                sent_at=timezone.now(), claimed_by="", claimed_until=None, last_error=""
            )
            sent += 1
    finally:
        _close(mailer)
    return sent


def outbox_retry(*, message: OutboundEmail) -> bool:
    """Sends a message that has not gone out at the next delivery, with a fresh round of
    attempts (after the mail server is fixed, say). False if it was sent or cancelled meanwhile,
    or a worker is sending it right now."""
    now = timezone.now()
    return (
        OutboundEmail.objects.pending()
        .filter(pk=message.pk)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(attempts=0, send_after=now, claimed_by="", claimed_until=None)
        == 1
    )


def outbox_cancel(*, message: OutboundEmail, reason: str) -> bool:
    """Withdraws a message that has not gone out (e.g. the consent behind it was revoked)."""
    return (
        OutboundEmail.objects.pending()
        .filter(pk=message.pk)
        .update(cancelled_at=timezone.now(), cancel_reason=reason[:300])
        == 1
    )


# --- reads for the Outbox page ------------------------------------------------------------------

STATES = ("pending", "failing", "sent", "cancelled")  # OutboundEmail.state


def outbox_messages(*, agency, state: str = ""):
    """The agency's outbound mail, newest first, without the bodies (they are decrypted only
    when someone opens a message, and that read is audited)."""
    messages = OutboundEmail.objects.for_agency(agency).defer("body_text", "body_html", "calendar")
    if state == "pending":
        return messages.pending().filter(last_error="")
    if state == "failing":
        return messages.pending().exclude(last_error="")
    if state == "sent":
        return messages.filter(sent_at__isnull=False)
    if state == "cancelled":
        return messages.filter(cancelled_at__isnull=False)
    return messages
