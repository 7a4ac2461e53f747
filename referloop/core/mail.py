"""The mail backend used when no SMTP host is configured (REFERLOOP_EMAIL_HOST unset).

Nothing leaves the machine: each message is logged (recipients and subject only, never the body)
and reported as not sent. Deliberately not Django's dummy backend, which `check --deploy` rightly
flags as development-only: running without SMTP is a supported production choice here, where
administrators read the outbox instead.
"""

import logging

from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger("referloop.mail")


class NoSmtpBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        for message in email_messages:
            logger.info(
                "mail not sent (no SMTP host configured): to=%s subject=%r",
                ", ".join(message.recipients()),
                message.subject,
            )
        return 0
