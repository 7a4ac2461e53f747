"""The partner e-mail on a real SMTP server (aiosmtpd on loopback): sent once, with the link and
the tracking ID and nothing about the client; nothing at all when the send is refused."""

import re

import pytest
from django.test import Client

from referloop.core.errors import DomainError
from referloop.core.models import OutboundEmail
from referloop.core.outbox import outbox_deliver
from referloop.referrals.models import Status
from tests.referrals import factories
from tests.smtp import smtp_server  # noqa: F401

pytestmark = pytest.mark.django_db

CONTACT = "intake@partner.example.org"


@pytest.fixture
def smtp(settings, smtp_server):  # noqa: F811
    settings.SMTP_HOST = smtp_server.host
    settings.MAILERS = smtp_server.mailers()
    return smtp_server


def draft(cast, *, safe_contact=None, consent_for="partner"):
    org, service = factories.partner(network=cast.network)
    person = factories.client(
        agency=cast.agency_a, safe_contact=safe_contact or {"voicemail_ok": True}
    )
    ok = None
    if consent_for == "partner":
        ok = factories.consent(client=person, organization=org)
    elif consent_for == "another organization":
        other, _ = factories.partner(network=cast.network, name="Other Place")
        ok = factories.consent(client=person, organization=other)
    return factories.referral(
        client=person, organization=org, service=service, consent=ok, actor=cast.coordinator
    )


def bodies(message) -> str:
    return "\n".join(part.get_content() for part in message.walk() if not part.is_multipart())


def test_partner_email_goes_out_once_with_the_link_and_no_client_data(cast, smtp, settings):
    referral = factories.send(draft(cast), actor=cast.coordinator)

    assert outbox_deliver() == 1
    assert outbox_deliver() == 0
    assert len(smtp.messages) == 1
    (message,) = smtp.messages_to(CONTACT)
    assert referral.tracking_id in message["Subject"]
    assert message["Subject"] == f"Referral {referral.tracking_id} from Alpha Recovery"
    assert message["Reply-To"] == cast.coordinator.email
    assert message["Auto-Submitted"] == "auto-generated"
    assert [part.get_content_type() for part in message.walk() if not part.is_multipart()] == [
        "text/plain",
        "text/html",
    ]
    text = bodies(message)
    for private in ("Dana", "Rivers", "555-0100", "1990", "sober-living"):
        assert private not in text and private not in message["Subject"], private
    links = set(re.findall(rf"{re.escape(settings.BASE_URL)}(/r/[A-Za-z0-9_-]{{43}})", text))
    assert len(links) == 1  # the same link in the text and the HTML part
    assert "Dana" not in links.pop()

    # The link in the e-mail is the one that works.
    page = Client().get(re.search(r"/r/[A-Za-z0-9_-]{43}", text).group(0))
    assert page.status_code == 200 and "Dana Rivers" in page.content.decode()

    stored = OutboundEmail.objects.get(dedupe_key=f"referral-partner:{referral.pk}")
    assert stored.state == "sent" and stored.to == CONTACT and stored.agency == cast.agency_a


def test_do_not_contact_client_is_not_sent_and_nothing_reaches_smtp(cast, smtp):
    referral = draft(cast, safe_contact={"do_not_contact": True})
    with pytest.raises(DomainError) as refused:
        factories.send(referral, actor=cast.coordinator)
    assert refused.value.code == "consent"
    assert "do not contact" in refused.value.message
    assert outbox_deliver() == 0
    assert smtp.messages == []
    referral.refresh_from_db()
    assert referral.status == Status.DRAFT
    assert not OutboundEmail.objects.exists()


@pytest.mark.parametrize("consent_for", ["nobody", "another organization"])
def test_referral_without_a_covering_consent_is_not_sent(cast, smtp, consent_for):
    referral = draft(cast, consent_for=consent_for)
    with pytest.raises(DomainError) as refused:
        factories.send(referral, actor=cast.coordinator)
    assert refused.value.code == "consent"
    assert outbox_deliver() == 0
    assert smtp.messages == []
    assert not OutboundEmail.objects.exists()


def test_without_an_smtp_host_the_email_waits_in_the_outbox(cast, settings, smtp_server):  # noqa: F811
    settings.SMTP_HOST = ""
    referral = factories.send(draft(cast), actor=cast.coordinator)
    assert outbox_deliver() == 0
    assert smtp_server.messages == []
    stored = OutboundEmail.objects.get(dedupe_key=f"referral-partner:{referral.pk}")
    assert stored.state == "pending" and stored.attempts == 0
