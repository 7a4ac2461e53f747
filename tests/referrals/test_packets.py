"""The referral packet: minimum necessary content (property-tested), the PDF read back with
poppler's pdftotext, and the packet pages (stored snapshot, PDF, preview, receiving agency)."""

import json
import subprocess
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referloop.clients.models import Category, Channel, Disclosure
from referloop.clients.services import ClientData, client_update, consent_revoke
from referloop.core.models import AuditEvent
from referloop.directory.vocabulary import NEEDS
from referloop.referrals import packets
from referloop.referrals.models import Packet
from tests.conftest import client_for
from tests.directory import factories as directory
from tests.referrals import factories

ALL = tuple(Category.values)
# A client whose every value is unmistakable, so the text of a packet can be searched for it.
CANARY = {
    "first_name": "Zebulon",
    "last_name": "Quixote",
    "date_of_birth": "1971-03-09",
    "preferred_language": "Tagalog",
    "phone": "555-0199",
    "email": "zq@canary.example",
    "address": "42 Hidden Lane, Springfield",
    "safe_contact": {
        "voicemail_ok": True,
        "email_ok": True,
        "safe_hours": "after 6 pm",
        "safe_contact_note": "Ask for Zeb",
    },
}
REASON = "Needs a sober-living bed after detox; court date pending."
# Each category's canaries: none of these may appear in a packet that does not share it.
CANARIES_BY_CATEGORY = {
    Category.IDENTITY: ["Zebulon", "Quixote", "1971-03-09", "Tagalog"],
    Category.CONTACT: ["555-0199", "zq@canary.example", "42 Hidden Lane", "after 6 pm"],
    Category.REASON: ["sober-living bed", "Detox"],
    Category.SUBSTANCE_USE: [packets.PART2_NOTICE],
}


def pdf_text(content: bytes, tmp_path) -> str:
    path = tmp_path / "packet.pdf"
    path.write_bytes(content)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def pdf_pages(content: bytes, tmp_path) -> int:
    path = tmp_path / "pages.pdf"
    path.write_bytes(content)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return int(
        next(line for line in info.stdout.splitlines() if line.startswith("Pages:")).split()[1]
    )


def _world(cast, *, categories=factories.DEFAULT_CATEGORIES, consent_categories=None, **client):
    """A partner, a canary client, a consent and a draft referral asking for `categories`."""
    org, service = factories.partner(network=cast.network)
    person = factories.client(agency=cast.agency_a, **{**CANARY, **client})
    consent_categories = categories if consent_categories is None else consent_categories
    ok = factories.consent(
        client=person,
        organization=org,
        categories=consent_categories,
        part2=Category.SUBSTANCE_USE in consent_categories,
    )
    return factories.referral(
        client=person,
        organization=org,
        service=service,
        consent=ok,
        categories=categories,
        reason=REASON,
        needs=directory.terms(NEEDS, ["detox"]),
        actor=cast.coordinator,
    )


def _pdf(cast, referral, tmp_path, user=None):
    packet = referral.packets.get()
    response = client_for(user or cast.coordinator).get(
        f"/referrals/{referral.pk}/packets/{packet.pk}.pdf"
    )
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/pdf"
    return pdf_text(response.content, tmp_path)


# --- content: the minimum necessary -------------------------------------------------------------


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    asked=st.sets(st.sampled_from(ALL)),
    covered=st.sets(st.sampled_from(ALL), min_size=1),
)
def test_packet_holds_only_categories_both_asked_for_and_consented(cast, asked, covered):
    """A19: for any consent scope S and any categories R the referral asks for, the packet holds
    only fields of categories in R ∩ S -- checked field by field and by searching the whole
    serialized packet for each category's values."""
    referral = _world(cast, categories=sorted(asked), consent_categories=sorted(covered))
    shared = asked & covered
    content = packets.packet_content(referral=referral)

    assert set(packets.shared_categories(referral)) == shared
    for name in content["client"]:
        assert packets.CLIENT_FIELD_CATEGORIES[name] in shared, name
    assert bool(content["reason"]) == (Category.REASON in shared)
    assert bool(content["needs"]) == (Category.REASON in shared)
    assert bool(content["safe_contact"]) == (Category.CONTACT in shared)
    assert bool(content["part2_notice"]) == (Category.SUBSTANCE_USE in shared)
    assert content["categories"] == [Category(c).label for c in ALL if c in shared]
    text = json.dumps(content)
    for category, canaries in CANARIES_BY_CATEGORY.items():
        for canary in canaries:
            assert (canary in text) == (category in shared), (category, canary)


@pytest.mark.django_db
def test_contact_category_leaves_out_what_the_safe_contact_rules_forbid(cast):
    referral = _world(
        cast,
        categories=[Category.CONTACT],
        safe_contact={
            "do_not_disclose_location": True,
            "email_ok": False,
            "safe_phone": "555-0777",
        },
    )
    client = packets.packet_content(referral=referral)["client"]
    # The safe number replaces the usual one; no address; no e-mail the client did not allow.
    assert client == {"phone": "555-0777"}


@pytest.mark.django_db
def test_consent_summary_names_the_signer_only_when_identity_is_shared(cast):
    anonymous = packets.packet_content(referral=_world(cast, categories=[Category.REASON]))
    named = packets.packet_content(referral=_world(cast, categories=[Category.IDENTITY]))
    assert anonymous["consent"]["signed_by"] == "The client"
    assert named["consent"]["signed_by"] == "Zebulon Quixote (the client)"


# --- the PDF, read back ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_pdf_is_one_page_with_tracking_id_consent_summary_and_no_part2_notice(cast, tmp_path):
    referral = factories.send(_world(cast), actor=cast.coordinator)
    packet = referral.packets.get()
    response = client_for(cast.coordinator).get(f"/referrals/{referral.pk}/packets/{packet.pk}.pdf")
    assert pdf_pages(response.content, tmp_path) == 1
    text = pdf_text(response.content, tmp_path)
    assert referral.tracking_id in text
    assert "Alpha Recovery" in text and "Harbor House" in text
    assert "Zebulon Quixote" in text and "1971-03-09" in text and "555-0199" in text
    assert "sober-living bed" in text
    assert "Do not disclose" not in text and "42 Hidden Lane" in text
    assert "Referral for services" in text  # the consent's purpose
    assert "revoke this consent at any time" in text
    assert "42 CFR part 2 prohibits" not in text


@pytest.mark.django_db
def test_pdf_carries_the_part2_notice_when_substance_use_is_shared(cast, tmp_path):
    categories = [*factories.DEFAULT_CATEGORIES, Category.SUBSTANCE_USE]
    referral = factories.send(_world(cast, categories=categories), actor=cast.coordinator)
    text = _pdf(cast, referral, tmp_path)
    assert "42 CFR part 2 prohibits unauthorized use or disclosure of these records." in " ".join(
        text.split()
    )
    assert "Consent under 42 CFR Part 2" in text


@pytest.mark.django_db
def test_pdf_without_identity_has_no_name_and_no_birth_date(cast, tmp_path):
    referral = factories.send(
        _world(cast, categories=[Category.CONTACT, Category.REASON]), actor=cast.coordinator
    )
    text = _pdf(cast, referral, tmp_path)
    assert referral.tracking_id in text
    assert "1971-03-09" not in text
    assert "Zebulon" not in text and "Quixote" not in text  # not even as the consent's signer
    assert "555-0199" in text


@pytest.mark.django_db
def test_pdf_without_contact_has_no_phone(cast, tmp_path):
    referral = factories.send(
        _world(cast, categories=[Category.IDENTITY, Category.REASON]), actor=cast.coordinator
    )
    text = _pdf(cast, referral, tmp_path)
    assert "Zebulon Quixote" in text
    assert "555-0199" not in text and "zq@canary.example" not in text
    assert "42 Hidden Lane" not in text


@pytest.mark.django_db
def test_pdf_has_no_address_when_location_must_not_be_disclosed(cast, tmp_path):
    referral = factories.send(
        _world(cast, safe_contact={"do_not_disclose_location": True}), actor=cast.coordinator
    )
    text = _pdf(cast, referral, tmp_path)
    assert "42 Hidden Lane" not in text
    assert "Do not disclose the client's location" in text
    assert "555-0199" in text


# --- the pages ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stored_packet_shows_what_was_sent_not_what_the_record_says_now(cast):
    referral = factories.send(_world(cast), actor=cast.coordinator)
    packet = referral.packets.get()
    person = referral.client
    client_update(
        client=person,
        actor=cast.coordinator,
        data=ClientData(
            first_name="Zebulon", last_name="Quixote", date_of_birth="1971-03-09", phone="555-0200"
        ),
        version=person.version,
    )
    browser = client_for(cast.coordinator)

    stored = browser.get(f"/referrals/{referral.pk}/packets/{packet.pk}/")
    assert stored.status_code == 200
    assert b"555-0199" in stored.content and b"555-0200" not in stored.content
    assert referral.tracking_id.encode() in stored.content
    assert "no-store" in stored["Cache-Control"]
    assert b"Downloading the PDF to hand to the partner is a new disclosure" in stored.content

    preview = browser.get(f"/referrals/{referral.pk}/packet/preview/")
    assert preview.status_code == 200
    assert b"555-0200" in preview.content and b"Preview" in preview.content


@pytest.mark.django_db
def test_sender_reads_a_stored_packet_after_revocation_but_the_pdf_is_refused(cast):
    referral = factories.send(_world(cast), actor=cast.coordinator)
    packet = referral.packets.get()
    consent_revoke(consent=referral.consent, actor=cast.coordinator, method="By phone")
    browser = client_for(cast.auditor)

    record = browser.get(f"/referrals/{referral.pk}/packets/{packet.pk}/")
    assert record.status_code == 200  # the record of the past stays readable
    pdf_link = f'href="/referrals/{referral.pk}/packets/{packet.pk}.pdf"'.encode()
    assert pdf_link not in record.content  # no download offered that would be refused
    assert b"No PDF download:" in record.content
    detail = browser.get(f"/referrals/{referral.pk}/")
    assert pdf_link not in detail.content and b"no PDF:" in detail.content
    assert AuditEvent.objects.filter(
        action="view", object_type="referrals.packet", object_id=str(packet.pk)
    ).exists()

    before = Disclosure.objects.count()
    pdf = browser.get(f"/referrals/{referral.pk}/packets/{packet.pk}.pdf")
    assert pdf.status_code == 409
    assert b"revoked this consent" in pdf.content
    assert Disclosure.objects.count() == before


@pytest.mark.django_db
def test_every_pdf_download_by_the_sender_is_a_ledger_row(cast, tmp_path):
    referral = factories.send(_world(cast), actor=cast.coordinator)
    packet = referral.packets.get()
    for _ in range(2):
        _pdf(cast, referral, tmp_path)
    rows = Disclosure.objects.filter(channel=Channel.PACKET_PDF)
    assert rows.count() == 2
    row = rows.first()
    assert (row.recipient_name, row.object_id, row.by_id) == (
        "Harbor House",
        str(packet.pk),
        cast.coordinator.pk,
    )
    assert row.categories == list(factories.DEFAULT_CATEGORIES)
    downloads = AuditEvent.objects.filter(action="download", object_id=str(packet.pk))
    assert downloads.count() == 2


@pytest.mark.django_db
def test_receiving_agency_sees_the_packet_and_the_ledger_lists_it_once_a_day(cast, tmp_path):
    org, service = factories.partner(network=cast.network, agency=cast.agency_b, name="Bravo")
    person = factories.client(agency=cast.agency_a, **CANARY)
    ok = factories.consent(client=person, organization=org)
    referral = factories.send(
        factories.referral(
            client=person, organization=org, service=service, consent=ok, actor=cast.coordinator
        ),
        actor=cast.coordinator,
    )
    packet = referral.packets.get()
    inbox = Disclosure.objects.filter(channel=Channel.AGENCY_INBOX)
    assert inbox.count() == 1  # the send itself
    receiver = client_for(cast.admin_b)
    url = f"/referrals/{referral.pk}/packets/{packet.pk}/"

    page = receiver.get(url)
    assert page.status_code == 200
    assert b"Zebulon Quixote" in page.content and b"Sent to Bravo Treatment" in page.content
    assert inbox.count() == 1  # already on record today

    with time_machine.travel(timezone.now() + timedelta(days=1)):
        receiver = client_for(cast.admin_b)  # a new day, a new session
        assert receiver.get(url).status_code == 200
        assert receiver.get(f"/referrals/{referral.pk}/packets/{packet.pk}.pdf").status_code == 200
        assert inbox.count() == 2
    latest = inbox.first()
    assert (latest.recipient_name, latest.by_id) == ("Bravo Treatment", cast.admin_b.pk)
    # The receiver never previews: that would show the sender's record as it is now.
    assert receiver.get(f"/referrals/{referral.pk}/packet/preview/").status_code == 404


@pytest.mark.django_db
def test_packet_of_another_referral_is_not_found(cast):
    first = factories.send(_world(cast), actor=cast.coordinator)
    second = factories.send(_world(cast), actor=cast.coordinator)
    other_packet = Packet.objects.get(referral=second)
    response = client_for(cast.coordinator).get(f"/referrals/{first.pk}/packets/{other_packet.pk}/")
    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="access_denied", outcome="denied").count() == 1
