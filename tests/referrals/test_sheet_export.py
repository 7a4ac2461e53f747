"""`referloop export referrals FILE` and `sheet_response`: the same columns as the import, so an
exported sheet imports again as "unchanged"; formula-safe cells; one query for the rows."""

import csv
import io
from datetime import UTC, date, datetime
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from openpyxl import load_workbook

from referloop.core.models import AuditEvent
from referloop.core.spreadsheets import formula_safe
from referloop.referrals.models import Referral, Status
from referloop.referrals.services import Actor, ReferralData, referral_create
from referloop.referrals.sheet import HEADERS, sheet_response, sheet_write
from tests.referrals import factories

GOOD = Path(__file__).parent / "fixtures" / "good.csv"
NOW = datetime(2025, 6, 30, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def imported(cast):
    factories.partner(network=cast.network, name="Harbor House")
    factories.partner(network=cast.network, name="Oak Street Clinic")
    call_command("import", "referrals", str(GOOD), "--agency", "alpha", stdout=StringIO())
    return Referral.objects.filter(agency=cast.agency_a)


def export(path, *args) -> str:
    out = StringIO()
    call_command("export", "referrals", str(path), "--agency", "alpha", *args, stdout=out)
    return out.getvalue()


def reimport(path) -> str:
    out = StringIO()
    call_command("import", "referrals", str(path), "--agency", "alpha", stdout=out)
    return out.getvalue()


def csv_rows(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_csv_export_has_the_import_columns_and_imports_as_unchanged(imported, tmp_path):
    target = tmp_path / "sheet.csv"
    out = export(target)
    assert "Exported 8 referrals of Alpha Recovery" in out
    assert "The file names clients" in out
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads the accents right
    rows = csv_rows(target)
    assert list(rows[0]) == HEADERS
    by_id = {row["Tracking ID"]: row for row in rows}
    assert by_id["RL-1003"] == by_id["RL-1003"] | {
        "Client first name": "Lee",
        "Client last name": "Chen",
        "Client date of birth": "1979-01-30",
        "Referred on": "2025-05-03",
        "Partner": "Oak Street Clinic",
        "Owner": "intake@alpha.example.org",
        "Needs": "Counseling / therapy",
        "Status": "Not accepted",
        "Disposition": "No capacity",
        "Status note": "Waitlist is full until August",
        "Received on": "2025-05-04",
        "Outcome on": "2025-05-06",
    }
    assert by_id["RL-1005"]["Client first name"] == "María José"
    assert by_id["RL-1001"]["Needs"] in ("Housing; Food", "Food; Housing")
    assert [row["Referred on"] for row in rows] == sorted(row["Referred on"] for row in rows)

    out = reimport(target)
    assert "referrals: 0 created, 0 updated, 8 unchanged" in out
    assert Referral.objects.count() == 8
    audit = AuditEvent.objects.get(action="export")
    assert audit.detail == {"file": "sheet.csv", "rows": 8}


def test_an_xlsx_export_has_real_dates_and_imports_as_unchanged(imported, tmp_path):
    target = tmp_path / "sheet.xlsx"
    export(target)
    sheet = load_workbook(target, read_only=True).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == HEADERS
    first = dict(zip(HEADERS, rows[1], strict=True))
    assert first["Tracking ID"] == "RL-1001"
    assert first["Referred on"].date() == date(2025, 5, 1)
    assert first["Client date of birth"].date() == date(1990, 4, 12)
    assert "referrals: 0 created, 0 updated, 8 unchanged" in reimport(target)


def test_status_filter_and_drafts(imported, cast, tmp_path):
    org = imported.first().organization
    referral_create(
        agency=cast.agency_a,
        actor=Actor(user=cast.coordinator, agency=cast.agency_a),
        data=ReferralData(client=imported.first().client, organization=org),
    )
    target = tmp_path / "all.csv"
    assert "Exported 8 referrals" in export(target)  # the draft was never sent: not listed
    assert "Exported 2 referrals" in export(target, "--status", "completed,declined")
    assert {row["Status"] for row in csv_rows(target)} == {"Completed", "Not accepted"}
    assert "Exported 2 referrals" in export(target, "--status", "sent", "--status", "no show")
    with pytest.raises(CommandError, match="status: 'maybe' is not a status"):
        export(target, "--status", "maybe")
    with pytest.raises(CommandError, match="cannot write"):
        export(tmp_path / "missing-folder" / "x.csv")


def test_cells_that_look_like_formulas_are_written_as_text(imported, tmp_path):
    referral = Referral.objects.get(tracking_id="RL-1001")
    Referral.objects.filter(pk=referral.pk).update(
        contact_name='=HYPERLINK("http://evil.example")', contact_phone="+1 555 0100"
    )
    target = tmp_path / "sheet.csv"
    export(target)
    row = next(row for row in csv_rows(target) if row["Tracking ID"] == "RL-1001")
    assert row["Partner contact"] == '\'=HYPERLINK("http://evil.example")'
    assert row["Contact phone"] == "'+1 555 0100"
    xlsx = tmp_path / "sheet.xlsx"
    export(xlsx)
    sheet = load_workbook(xlsx).active
    cell = sheet.cell(row=2, column=HEADERS.index("Partner contact") + 1)
    assert cell.data_type == "s" and cell.value.startswith("'=")
    # The import takes the apostrophe off again.
    assert "8 unchanged" in reimport(target)
    assert formula_safe("@SUM(A1)") == "'@SUM(A1)" and formula_safe("Dana") == "Dana"


def request_for(user, agency):
    request = RequestFactory().get("/referrals/?export=csv")
    request.user, request.agency = user, agency
    return request


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_sheet_response_reads_the_rows_in_one_query_whatever_their_number(
    imported, cast, fmt, django_assert_num_queries
):
    def body(queryset):
        response = sheet_response(queryset, fmt, agency=cast.agency_a)
        if fmt == "csv":
            return b"".join(response.streaming_content)
        return response.content

    with django_assert_num_queries(2):  # the referrals with what they point to; their needs
        few = body(imported.filter(status=Status.REQUESTED))
    with django_assert_num_queries(2):
        everything = body(imported)
    assert len(everything) > len(few)
    response = sheet_response(imported, fmt, agency=cast.agency_a)
    assert response["Content-Disposition"] == f'attachment; filename="referrals.{fmt}"'
    assert response["Cache-Control"] == "no-store"


def test_sheet_response_lists_only_the_agencys_own_referrals_and_audits(imported, cast):
    # Agency B sends a referral to Alpha's own listing: Alpha sees it in its inbox, but the
    # client record is Bravo's, so Alpha's sheet does not list it.
    alpha_org, _ = factories.partner(network=cast.network, agency=cast.agency_a, name="Alpha")
    person = factories.client(agency=cast.agency_b, first_name="Bo", last_name="Inbox")
    ok = factories.consent(client=person, organization=alpha_org)
    incoming = factories.send(
        factories.referral(client=person, organization=alpha_org, consent=ok, actor=cast.admin_b),
        actor=cast.admin_b,
    )
    visible = Referral.objects.visible_to(cast.coordinator, cast.agency_a)
    assert incoming in visible
    response = sheet_response(
        visible, "csv", agency=cast.agency_a, request=request_for(cast.coordinator, cast.agency_a)
    )
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 8 and "Inbox" not in text
    audit = AuditEvent.objects.get(action="export")
    assert audit.user_id == cast.coordinator.pk and audit.agency_id == cast.agency_a.pk
    assert audit.detail == {"format": "csv", "rows": 8}
    with pytest.raises(ValueError, match="unknown sheet format"):
        sheet_response(visible, "pdf", agency=cast.agency_a)


def test_sheet_write_returns_the_count(imported, cast, tmp_path):
    assert sheet_write(imported.none(), tmp_path / "empty.csv", agency=cast.agency_a) == 0
    assert csv_rows(tmp_path / "empty.csv") == []
    assert sheet_write(imported, tmp_path / "all.xlsx", agency=cast.agency_a) == 8
