"""Client pages: recording (with the duplicate warning), the safe-contact banner, consents."""

import pytest
from django.urls import reverse

from referloop.clients.models import Client, Consent
from referloop.core.models import AuditEvent
from tests.conftest import client_for
from tests.referrals import factories

pytestmark = pytest.mark.django_db

NEW_CLIENT = {
    "first_name": "Maria",
    "last_name": "Lopez",
    "date_of_birth": "1988-02-03",
    "phone": "555-0123",
    "voicemail_ok": "",
    "text_ok": "on",
    "safe_hours": "after 6 pm",
}


def test_recording_a_client_encrypts_names_and_audits(cast):
    response = client_for(cast.coordinator).post(reverse("clients:create"), NEW_CLIENT)
    assert response.status_code == 302
    person = Client.objects.get()
    assert person.display_name == "Maria Lopez" and person.text_ok and not person.voicemail_ok
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT first_name, last_name FROM clients_client")
        raw = cursor.fetchone()
    assert "Maria" not in raw[0] and "Lopez" not in raw[1]
    assert AuditEvent.objects.filter(action="create", object_type="clients.client").exists()


def test_a_likely_duplicate_is_offered_and_can_be_overridden(cast):
    browser = client_for(cast.coordinator)
    browser.post(reverse("clients:create"), NEW_CLIENT)
    similar = {**NEW_CLIENT, "first_name": "María", "last_name": "Lopes"}
    response = browser.post(reverse("clients:create"), similar)
    assert response.status_code == 409
    assert "may already be on record" in response.content.decode()
    assert Client.objects.count() == 1
    response = browser.post(reverse("clients:create"), {**similar, "allow_duplicate": "on"})
    assert response.status_code == 302 and Client.objects.count() == 2


def test_bad_input_names_the_field_and_changes_nothing(cast):
    response = client_for(cast.coordinator).post(
        reverse("clients:create"), {**NEW_CLIENT, "date_of_birth": "2999-01-01"}
    )
    assert response.status_code == 400
    assert "future" in response.content.decode()
    assert not Client.objects.exists()


def test_detail_shows_the_safe_contact_banner_and_audits_the_read(cast):
    person = factories.client(
        agency=cast.agency_a,
        safe_contact={
            "voicemail_ok": False,
            "text_ok": True,
            "safe_hours": "after 6 pm",
            "do_not_disclose_location": True,
        },
    )
    response = client_for(cast.auditor).get(reverse("clients:detail", kwargs={"pk": person.pk}))
    page = response.content.decode()
    assert "Do not leave voicemail" in page and "Safe hours: after 6 pm" in page
    assert "Do not disclose the client&#x27;s location" in page
    assert AuditEvent.objects.filter(
        action="view", object_type="clients.client", object_id=str(person.pk)
    ).exists()


def test_search_finds_similar_sounding_names_only_in_own_agency(cast):
    factories.client(agency=cast.agency_a, first_name="John", last_name="Smith")
    factories.client(agency=cast.agency_b, first_name="John", last_name="Smyth")
    response = client_for(cast.coordinator).get(reverse("clients:list"), {"q": "smyth"})
    page = response.content.decode()
    assert "John Smith" in page and "Smyth" not in page


def test_recording_and_revoking_a_consent(cast):
    person = factories.client(agency=cast.agency_a)
    org, _ = factories.partner(network=cast.network)
    browser = client_for(cast.coordinator)
    url = reverse("clients:consent_create", kwargs={"pk": person.pk})
    response = browser.post(
        f"{url}?organization={org.pk}",
        {
            "organization": org.pk,
            "categories": ["identity", "substance_use"],
            "purpose": "Referral",
            "signed_on": "2026-11-01",
            "signed_by_name": "Dana Rivers",
            "signer": "client",
            "no_expiry": "on",
        },
    )
    assert response.status_code == 400  # substance use needs a Part 2 consent
    assert "Part 2" in response.content.decode()
    response = browser.post(
        f"{url}?organization={org.pk}",
        {
            "organization": org.pk,
            "categories": ["identity", "substance_use"],
            "part2": "on",
            "purpose": "Referral",
            "signed_on": "2026-11-01",
            "signed_by_name": "Dana Rivers",
            "signer": "client",
            "no_expiry": "on",
        },
    )
    assert response.status_code == 302
    consent = Consent.objects.get()
    assert consent.part2 and consent.recipient_organization == org
    browser.post(
        reverse("clients:consent_revoke", kwargs={"pk": consent.pk}),
        {"revocation_method": "Phone call, confirmed in writing"},
    )
    consent.refresh_from_db()
    assert consent.revoked_at is not None and consent.state_at() == "revoked"
