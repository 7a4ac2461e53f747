"""The outbox: the worker's delivery on a real SMTP server (once, even with two deliveries at
once; failures retried with back-off) and the administrators' Outbox page."""

import socket
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referloop.core.models import AuditEvent, OutboundEmail
from referloop.core.outbox import outbox_cancel, outbox_deliver, outbox_enqueue, outbox_retry
from tests.conftest import client_for
from tests.smtp import smtp_server  # noqa: F401


@pytest.fixture
def smtp(settings, smtp_server):  # noqa: F811
    settings.SMTP_HOST = smtp_server.host
    settings.MAILERS = smtp_server.mailers()
    return smtp_server


def queue(agency, number: int, *, body="Hello.") -> OutboundEmail:
    message, _ = outbox_enqueue(
        dedupe_key=f"test:{agency.slug}:{number}",
        kind="test",
        to=f"person{number}@example.org",
        subject=f"Message {number}",
        body_text=body,
        agency=agency,
    )
    return message


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the probe is closed


@pytest.mark.django_db
def test_failures_are_retried_with_back_off_then_sent(cast, settings, smtp):
    message = queue(cast.agency_a, 1)
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": closed_port(), "timeout": 2},
        }
    }
    assert outbox_deliver() == 0
    message.refresh_from_db()
    assert message.state == "failing" and message.attempts == 1
    assert "ConnectionRefusedError" in message.last_error
    assert message.send_after > timezone.now() + timedelta(minutes=1)
    assert not message.claimed_by

    settings.MAILERS = smtp.mailers()
    assert outbox_deliver() == 0  # not due yet: the back-off holds it
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        assert outbox_deliver() == 1
    message.refresh_from_db()
    assert message.state == "sent" and message.last_error == ""
    assert [m["Subject"] for m in smtp.messages] == ["Message 1"]


@pytest.mark.django_db
def test_cancelled_messages_are_not_sent(cast, smtp):
    message = queue(cast.agency_a, 1)
    assert outbox_cancel(message=message, reason="consent revoked")
    assert outbox_deliver() == 0
    assert smtp.messages == []


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_once_send_each_message_once(cast, smtp):
    for number in range(30):
        queue(cast.agency_a, number)
    start = threading.Barrier(2)
    results, errors = [], []

    def deliver():
        try:
            start.wait()
            results.append(outbox_deliver())
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(results) == 30
    subjects = [message["Subject"] for message in smtp.messages]
    assert sorted(subjects) == sorted(f"Message {number}" for number in range(30))
    assert OutboundEmail.objects.filter(sent_at__isnull=False).count() == 30
    assert outbox_deliver() == 0


# --- the Outbox page ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_outbox_page_lists_the_agencys_mail_with_a_banner_without_smtp(cast, settings):
    settings.SMTP_HOST = ""
    queue(cast.agency_a, 1)
    queue(cast.agency_b, 2)  # another agency's mail is not listed
    response = client_for(cast.admin_a).get("/settings/outbox/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "mail is kept here, not sent" in page
    assert "person1@example.org" in page and "Message 1" in page
    assert "person2@example.org" not in page
    assert "Hello." not in page  # bodies only on the detail page


@pytest.mark.django_db
def test_outbox_page_filters_by_state(cast, smtp):
    pending, sent, failing, cancelled = (queue(cast.agency_a, n) for n in range(4))
    OutboundEmail.objects.filter(pk=sent.pk).update(sent_at=timezone.now())
    OutboundEmail.objects.filter(pk=failing.pk).update(attempts=2, last_error="SMTP said no")
    outbox_cancel(message=cancelled, reason="consent revoked")
    admin = client_for(cast.admin_a)
    for state, expected in (
        ("pending", pending),
        ("sent", sent),
        ("failing", failing),
        ("cancelled", cancelled),
    ):
        page = admin.get("/settings/outbox/", {"state": state}).content.decode()
        listed = [m for m in (pending, sent, failing, cancelled) if m.to in page]
        assert listed == [expected], state
    everything = admin.get("/settings/outbox/", {"state": "nonsense"}).content.decode()
    assert all(f"person{n}@example.org" in everything for n in range(4))
    assert "mail is kept here" not in everything  # SMTP is configured


@pytest.mark.django_db
def test_outbox_list_runs_a_fixed_number_of_queries(cast):
    admin = client_for(cast.admin_a)
    queue(cast.agency_a, 0)
    admin.get("/settings/outbox/")  # warm up (session, agency)
    with CaptureQueriesContext(connection) as few:
        assert admin.get("/settings/outbox/").status_code == 200
    for number in range(1, 40):
        queue(cast.agency_a, number)
    with CaptureQueriesContext(connection) as many:
        assert admin.get("/settings/outbox/").status_code == 200
    assert len(many) == len(few)
    # The page's own part: one count for the pager, one query for the rows.
    outbox_queries = [query["sql"] for query in many if "core_outboundemail" in query["sql"]]
    assert len(outbox_queries) == 2, outbox_queries
    assert all("body_text" not in sql for sql in outbox_queries)  # bodies stay encrypted


@pytest.mark.django_db
def test_outbox_is_paginated(cast):
    for number in range(55):
        queue(cast.agency_a, number)
    admin = client_for(cast.admin_a)
    first = admin.get("/settings/outbox/").content.decode()
    second = admin.get("/settings/outbox/", {"page": 2}).content.decode()
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert first.count("<tr>") == 51 and second.count("<tr>") == 6  # with the header row


@pytest.mark.django_db
def test_opening_a_message_shows_its_body_and_is_audited(cast):
    message = queue(cast.agency_a, 1, body="Your digest: Dana Rivers is due today.")
    response = client_for(cast.admin_a).get(f"/settings/outbox/{message.pk}/")
    assert response.status_code == 200
    assert "Dana Rivers is due today." in response.content.decode()
    read = AuditEvent.objects.get(action="read", object_type="core.outboundemail")
    assert (read.object_id, read.user_id, read.agency_id) == (
        str(message.pk),
        cast.admin_a.pk,
        cast.agency_a.pk,
    )


@pytest.mark.django_db
def test_only_administrators_see_the_outbox(cast):
    message = queue(cast.agency_a, 1)
    for user in (cast.coordinator, cast.auditor):
        client = client_for(user)
        assert client.get("/settings/outbox/").status_code == 403
        assert client.get(f"/settings/outbox/{message.pk}/").status_code == 403
    assert not AuditEvent.objects.filter(action="read").exists()


@pytest.mark.django_db
def test_an_administrator_retries_a_failing_message_now(cast, settings, smtp):
    message = queue(cast.agency_a, 1)
    OutboundEmail.objects.filter(pk=message.pk).update(
        attempts=8, last_error="SMTPServerDisconnected", send_after=timezone.now()
    )
    assert outbox_deliver() == 0  # out of attempts: it stays failing
    client = client_for(cast.admin_a)
    page = client.get(f"/settings/outbox/{message.pk}/").content.decode()
    assert "Try again now" in page and "Cancel message" in page
    response = client.post(f"/settings/outbox/{message.pk}/retry/")
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.attempts == 0 and message.send_after <= timezone.now()
    assert AuditEvent.objects.filter(action="outbox_retry", object_id=str(message.pk)).exists()
    assert outbox_deliver() == 1
    message.refresh_from_db()
    assert message.state == "sent"
    assert [m["Subject"] for m in smtp.messages] == ["Message 1"]
    # Sent: nothing left to retry or cancel, and the page offers neither.
    assert not outbox_retry(message=message)
    client.post(f"/settings/outbox/{message.pk}/cancel/")
    message.refresh_from_db()
    assert message.state == "sent"
    assert "Cancel message" not in client.get(f"/settings/outbox/{message.pk}/").content.decode()


@pytest.mark.django_db
def test_an_administrator_cancels_a_pending_message(cast, smtp):
    message = queue(cast.agency_a, 1)
    response = client_for(cast.admin_a).post(f"/settings/outbox/{message.pk}/cancel/")
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.state == "cancelled"
    assert message.cancel_reason.startswith("Cancelled by ")
    assert AuditEvent.objects.filter(action="outbox_cancel", object_id=str(message.pk)).exists()
    assert outbox_deliver() == 0 and smtp.messages == []
    assert not outbox_retry(message=message)


@pytest.mark.django_db
def test_a_message_being_sent_is_not_retried(cast):
    message = queue(cast.agency_a, 1)
    OutboundEmail.objects.filter(pk=message.pk).update(
        claimed_by="worker-1", claimed_until=timezone.now() + timedelta(minutes=5)
    )
    assert not outbox_retry(message=message)
