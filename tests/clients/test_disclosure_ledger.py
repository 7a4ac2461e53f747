"""The client's disclosure ledger page: what was shared, to whom, when, how, under which consent
(with its state today); newest first, paginated, CSV export; read by the client's own agency only,
audited, in a fixed number of queries."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referloop.clients.models import Category, Channel
from referloop.clients.services import consent_revoke, disclosure_record
from referloop.core.models import AuditEvent
from tests.conftest import client_for
from tests.referrals import factories


def _sent(cast):
    """A referral sent by e-mail (one ledger row), then its PDF downloaded a day later (two)."""
    org, service = factories.partner(network=cast.network)
    person = factories.client(agency=cast.agency_a)
    ok = factories.consent(client=person, organization=org)
    referral = factories.send(
        factories.referral(
            client=person, organization=org, service=service, consent=ok, actor=cast.coordinator
        ),
        actor=cast.coordinator,
    )
    return referral, ok


def _rows(consent, count: int, *, recipient="Harbor House"):
    for number in range(count):
        with time_machine.travel(timezone.now() + timedelta(minutes=number + 1)):
            disclosure_record(
                consent=consent,
                channel=Channel.EXPORT,
                recipient_name=recipient,
                categories=[Category.IDENTITY],
                description=f"Export {number}",
            )


@pytest.mark.django_db
def test_ledger_lists_what_went_where_newest_first_with_the_consent_state_today(cast):
    referral, ok = _sent(cast)
    packet = referral.packets.get()
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        staff = client_for(cast.coordinator)
        assert staff.get(f"/referrals/{referral.pk}/packets/{packet.pk}.pdf").status_code == 200
    consent_revoke(consent=ok, actor=cast.coordinator, method="In writing")

    page = client_for(cast.auditor).get(f"/clients/{referral.client_id}/disclosures/")

    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    html = page.content.decode()
    pdf_at = html.index("Packet PDF")
    email_at = html.index("Referral e-mail with packet")
    assert pdf_at < email_at  # newest first
    assert "intake@partner.example.org" in html  # the address the e-mail went to
    assert f"Referral packet {referral.tracking_id}" in html
    assert "Identity (name, date of birth), Contact details and safe-contact rules" in html
    assert f"#{ok.pk} to Harbor House" in html
    assert html.count("Revoked") == 2
    assert "Alpha Referral coordinator" in html  # who disclosed


@pytest.mark.django_db
def test_ledger_pages_fifty_at_a_time(cast):
    referral, ok = _sent(cast)
    _rows(ok, 54)
    staff = client_for(cast.coordinator)
    url = f"/clients/{referral.client_id}/disclosures/"

    first = staff.get(url).content.decode()
    assert first.count("<tr>") == 51  # the header and fifty rows
    assert "Export 53" in first and "Page 1 of 2" in first and 'rel="next"' in first
    second = staff.get(url, {"page": 2}).content.decode()
    assert second.count("<tr>") == 6
    assert "Export 3" in second and "Referral e-mail with packet" in second  # the oldest last


@pytest.mark.django_db
def test_ledger_csv_holds_every_row_and_neutralises_formulas(cast):
    referral, ok = _sent(cast)
    _rows(ok, 2, recipient='=HYPERLINK("http://evil.example")')
    response = client_for(cast.coordinator).get(
        f"/clients/{referral.client_id}/disclosures/", {"format": "csv"}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )
    assert [row["description"] for row in rows] == [
        "Export 1",
        "Export 0",
        f"Referral packet {referral.tracking_id}",
    ]
    assert rows[0]["recipient"].startswith("'=HYPERLINK")
    assert rows[2]["channel"] == "Referral e-mail with packet"
    assert rows[2]["consent"] == f"#{ok.pk} Harbor House"
    assert rows[2]["consent_state_now"] == "in force"
    assert rows[2]["by"] == "Alpha Referral coordinator"
    export = AuditEvent.objects.get(action="export", object_id=str(referral.client_id))
    assert (export.user_id, export.outcome) == (cast.coordinator.pk, "ok")


@pytest.mark.django_db
def test_reading_the_ledger_is_audited(cast):
    referral, _ = _sent(cast)
    client_for(cast.coordinator).get(f"/clients/{referral.client_id}/disclosures/")
    row = AuditEvent.objects.get(action="view", object_type="clients.client")
    assert (row.object_id, row.user_id, row.agency_id) == (
        str(referral.client_id),
        cast.coordinator.pk,
        cast.agency_a.pk,
    )


@pytest.mark.django_db
def test_empty_ledger_says_what_would_add_to_it(cast):
    person = factories.client(agency=cast.agency_a)
    page = client_for(cast.coordinator).get(f"/clients/{person.pk}/disclosures/")
    assert page.status_code == 200
    assert b"Nothing about this client has been shared through Referloop yet" in page.content


def _query_count(browser, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert browser.get(url).status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_ledger_page_and_csv_take_the_same_queries_for_one_row_or_forty(cast):
    referral, ok = _sent(cast)
    staff = client_for(cast.coordinator)
    page_url = f"/clients/{referral.client_id}/disclosures/"
    csv_url = f"{page_url}?format=csv"
    staff.get(page_url)  # the session's first request does its own bookkeeping
    one_row = _query_count(staff, page_url)
    one_row_csv = _query_count(staff, csv_url)

    other_org, _ = factories.partner(network=cast.network, name="Second Partner")
    other = factories.consent(client=referral.client, organization=other_org)
    _rows(ok, 20)
    _rows(other, 19, recipient="Second Partner")

    assert _query_count(staff, page_url) == one_row
    assert _query_count(staff, csv_url) == one_row_csv
    assert one_row <= 12, one_row
