"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, on a free port, collecting messages.

Use it with `from tests.smtp import smtp_server  # noqa: F401` and point Django at it:

    settings.MAILERS = smtp_server.mailers()
"""

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpServer:
    host: str
    port: int
    # Every message accepted so far, parsed, in arrival order (and the same with its envelope).
    messages: list[EmailMessage] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def messages_to(self, address: str) -> list[EmailMessage]:
        """Messages whose envelope was addressed to `address` (case-insensitive)."""
        address = address.casefold()
        with self._lock:
            return [
                item.message
                for item in self.received
                if address in (rcpt.casefold() for rcpt in item.rcpt_tos)
            ]

    def mailers(self) -> dict:
        """A MAILERS setting that sends every message to this server."""
        return {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": self.host, "port": self.port, "timeout": 10},
            }
        }

    # aiosmtpd handler hook: runs on the server's event-loop thread.
    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.received.append(
                Received(
                    mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos), message=message
                )
            )
        return "250 Message accepted for delivery"


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    host = "127.0.0.1"
    server = SmtpServer(host=host, port=_free_port(host))
    controller = Controller(server, hostname=host, port=server.port, ready_timeout=10)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
