"""`referloop import referrals FILE`: the tracking sheet goes through the real services, with the
sheet's dates, all or nothing, with a per-row report, and a second import changes nothing."""

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from referloop.clients.models import Client
from referloop.core.errors import DomainError
from referloop.core.models import AuditEvent
from referloop.directory.models import Organization
from referloop.referrals.models import EventKind, Referral, ReferralEvent, Status
from referloop.referrals.services import Actor, referral_accept
from referloop.referrals.sheet import (
    HEADERS,
    SheetReport,
    parse_date,
    referrals_sheet_import,
    sheet_check,
    status_path,
)
from referloop.referrals.sheet import write as sheet_write_module
from tests.conftest import child_env
from tests.referrals import factories

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "good.csv"
CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2025, 6, 30, 15, 0, tzinfo=UTC)
REFERLOOP = str(Path(sys.executable).with_name("referloop"))


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def partners(cast):
    harbor, intake = factories.partner(network=cast.network, name="Harbor House")
    oak, _ = factories.partner(network=cast.network, name="Oak Street Clinic")
    factories.partner(network=cast.other_network, name="Elsewhere Center")
    return {"harbor": harbor, "intake": intake, "oak": oak}


def run(path, *args, stdout=None, stderr=None) -> tuple[str, str]:
    out, err = stdout or StringIO(), stderr or StringIO()
    call_command("import", "referrals", str(path), *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def import_as_alpha(path, *args, stdout=None, stderr=None):
    return run(path, "--agency", "alpha", *args, stdout=stdout, stderr=stderr)


def write(tmp_path, name: str, text: str, encoding="utf-8") -> Path:
    target = tmp_path / name
    target.write_bytes(text.encode(encoding))
    return target


def noon(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time().replace(hour=12)).replace(
        tzinfo=CHICAGO
    )


def by_id(tracking_id: str) -> Referral:
    return Referral.objects.get(tracking_id=tracking_id)


HEADER = ",".join(HEADERS)


def sheet(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


# --- a good sheet -------------------------------------------------------------------------------


def test_a_good_sheet_is_replayed_through_the_services_with_its_dates(partners, cast):
    out, err = import_as_alpha(GOOD)
    assert "referrals: 8 created, 0 updated, 0 unchanged" in out
    assert "clients: 7 created, 1 found on record" in out
    assert "No consent was recorded and nothing was disclosed" in out
    assert err == ""
    assert Referral.objects.filter(agency=cast.agency_a).count() == 8

    sent = by_id("RL-1001")
    assert sent.status == Status.REQUESTED
    assert sent.sent_at == noon("2025-05-01") and sent.created_at == noon("2025-05-01")
    assert sent.organization == partners["harbor"] and sent.service == partners["intake"]
    assert sent.owner == cast.coordinator
    assert sent.contact_email == "intake@harbor.example.org"
    assert sorted(sent.needs.values_list("code", flat=True)) == ["food", "housing"]
    assert sent.reason == "Needs a sober-living bed after detox."
    # Thursday May 1 + 2 business days: receipt was due Monday May 5 (and is long overdue).
    assert (sent.due_reason, sent.next_due_at) == ("receipt", noon("2025-05-05"))
    assert sent.client.first_name == "Dana" and sent.client.date_of_birth == "1990-04-12"

    received = by_id("RL-1002")  # M/D/YYYY dates; partner named in another case
    assert received.status == Status.RECEIVED and received.urgency == "urgent"
    assert received.received_at == noon("2025-05-05")
    assert received.client.date_of_birth == "1985-11-02"
    assert (received.due_reason, received.next_due_at) == ("first_contact", noon("2025-05-09"))

    rejected = by_id("RL-1003")  # the team's ID, upper-cased
    assert rejected.status == Status.REJECTED and rejected.disposition.code == "no_capacity"
    assert rejected.status_reason == "Waitlist is full until August"
    assert rejected.owner == cast.members_a["intake"]
    assert rejected.closed_at == noon("2025-05-06")
    assert rejected.due_reason == "rerefer"  # a bounce-back, as if it happened in Referloop
    timeline = list(rejected.events.order_by("at", "id").values_list("kind", "to_status", "at"))
    assert timeline == [
        (EventKind.CREATED, "", noon("2025-05-03")),
        (EventKind.SENT, Status.REQUESTED, noon("2025-05-03")),
        (EventKind.STATUS, Status.RECEIVED, noon("2025-05-04")),
        (EventKind.STATUS, Status.REJECTED, noon("2025-05-06")),
    ]
    actor_labels = set(rejected.events.values_list("actor_label", flat=True))
    assert actor_labels == {"Tracking sheet import (good.csv)"}

    # A row without a tracking ID gets one from core; the client is the same Dana.
    started = Referral.objects.get(
        agency=cast.agency_a, organization=partners["oak"], client=sent.client
    )
    assert started.tracking_id not in ("", "RL-1001") and len(started.tracking_id) == 9
    assert started.status == Status.IN_PROGRESS and started.disposition.code == "service_started"
    assert started.received_at == noon("2025-05-11")
    assert started.first_contact_at == noon("2025-05-12")
    assert started.outcome_at == noon("2025-05-20") and started.next_due_at is None
    assert started.reason == "Two lines:\nprefers mornings"
    assert started.urgency == "urgent"

    completed = by_id("RL-1005")
    assert completed.client.first_name == "María José" and completed.client.last_name == "Núñez"
    assert completed.status == Status.COMPLETED and completed.closed_at == noon("2025-06-01")
    statuses = list(
        completed.events.filter(kind=EventKind.STATUS)
        .order_by("at", "id")
        .values_list("to_status", flat=True)
    )
    assert statuses == [Status.RECEIVED, Status.ACCEPTED, Status.COMPLETED]

    on_hold = by_id("RL-1006")
    assert on_hold.status == Status.ON_HOLD and on_hold.status_reason == "Waiting for a bed"

    no_show = by_id("RL-1007")
    assert no_show.status == Status.FAILED and no_show.disposition.code == "client_no_show"
    assert no_show.first_contact_at == noon("2025-05-23")

    cancelled = by_id("RL-1008")
    assert cancelled.status == Status.CANCELLED and cancelled.status_reason == "Client moved away"
    assert cancelled.received_at is None

    audit = AuditEvent.objects.get(action="import")
    assert audit.agency_id == cast.agency_a.pk and audit.outcome == "ok"
    assert audit.detail["created"] == 8 and audit.detail["written"] is True


def test_an_xlsx_sheet_with_real_date_cells(partners, cast, tmp_path):
    workbook = Workbook()
    rows = workbook.active
    rows.append(HEADERS)
    blank = [None] * len(HEADERS)
    first = dict(zip(HEADERS, blank, strict=True)) | {
        "Tracking ID": 1001,  # typed as a number
        "Client first name": "Dana",
        "Client last name": "Rivers",
        "Client date of birth": date(1990, 4, 12),
        "Referred on": datetime(2025, 5, 1, 9, 30),
        "Partner": "Harbor House",
        "Owner": "coordinator@alpha.example.org",
        "Status": "Accepted",
        "Received on": date(2025, 5, 2),
    }
    rows.append(list(first.values()))
    rows.append(blank)  # blank rows are skipped
    second = first | {"Tracking ID": "X-2", "Client first name": "Sam", "Status": "completed"}
    second |= {"Outcome on": date(2025, 6, 2)}
    rows.append(list(second.values()))
    path = tmp_path / "sheet.xlsx"
    workbook.save(path)

    out, _ = import_as_alpha(path)
    assert "referrals: 2 created" in out
    accepted = by_id("1001")
    assert accepted.status == Status.ACCEPTED and accepted.sent_at == noon("2025-05-01")
    assert accepted.received_at == noon("2025-05-02")
    assert by_id("X-2").outcome_at == noon("2025-06-02")


def test_header_aliases_and_unknown_columns(partners, cast):
    out, err = import_as_alpha(FIXTURES / "aliases.csv")
    assert "referrals: 2 created" in out
    assert "Warnings (1):" in err and "columns not imported: Favourite colour" in err
    declined = by_id("A-2")
    assert declined.status == Status.REJECTED and declined.disposition.code == "not_eligible"
    assert declined.status_reason == "Over the income limit"
    assert declined.closed_at == noon("2025-05-06")
    assert by_id("A-1").needs.get().code == "housing"


@pytest.mark.parametrize("mapping", ["team-mapping.json", "team-mapping.csv"])
def test_a_mapping_file_names_the_teams_headers(partners, cast, mapping):
    out, err = import_as_alpha(FIXTURES / "team-headers.csv", "--mapping", FIXTURES / mapping)
    assert "referrals: 2 created" in out, err
    assert by_id("T-1").status == Status.ACCEPTED
    assert by_id("T-2").client.last_name == "Chen"


def test_a_bad_mapping_is_one_clear_error(partners, tmp_path):
    mapping = write(tmp_path, "m.json", '{"tracking_number": "Case"}')
    err = StringIO()
    with pytest.raises(CommandError, match=r"import failed: mapping m\.json: 'tracking_number'"):
        import_as_alpha(FIXTURES / "team-headers.csv", "--mapping", mapping, stderr=err)
    assert "'tracking_number' is not one of the columns" in err.getvalue()
    mapping = write(tmp_path, "m2.json", '{"tracking_id": "Case number"}')
    err = StringIO()
    with pytest.raises(CommandError):
        import_as_alpha(FIXTURES / "team-headers.csv", "--mapping", mapping, stderr=err)
    assert "the mapping names the header 'Case number' (tracking_id)" in err.getvalue()


def test_the_owner_option_fills_a_missing_owner_column(partners, cast, tmp_path):
    path = write(
        tmp_path,
        "no-owner.csv",
        "Client first name,Client last name,Referred on,Partner\n"
        "Dana,Rivers,2025-05-01,Harbor House\n",
    )
    err = StringIO()
    with pytest.raises(CommandError):
        import_as_alpha(path, stderr=err)
    assert (
        "there is no Owner column: name the owner of these referrals with --owner" in err.getvalue()
    )
    out, _ = import_as_alpha(path, "--owner", "Intake@Alpha.example.org")
    assert "referrals: 1 created" in out
    assert Referral.objects.get().owner == cast.members_a["intake"]
    with pytest.raises(
        CommandError, match=r"owner: admin@bravo\.example\.org is not an active member"
    ):
        import_as_alpha(path, "--owner", "admin@bravo.example.org")


# --- dry run, errors, all or nothing ------------------------------------------------------------


NEW_PARTNER_ROW = (
    "P-1,Pat,Lane,,2025-05-01,New Dawn Shelter,,,,,coordinator@alpha.example.org,,,Sent,,,,,,"
)
CONSENT = (
    "No consent was recorded and nothing was disclosed: record each client's consent before "
    "sharing a packet or a reply link."
)


def test_dry_run_reports_what_it_would_do_and_changes_nothing(partners, cast, tmp_path):
    path = write(tmp_path, "dry.csv", GOOD.read_text(encoding="utf-8") + NEW_PARTNER_ROW + "\n")
    organizations = Organization.objects.count()
    out, err = import_as_alpha(path, "--create-partners", "--dry-run")
    would = [
        "  referrals: 9 created, 0 updated, 0 unchanged",
        "  clients: 8 created, 1 found on record",
        "  partners added to the directory: 1",
        CONSENT,
    ]
    assert out.splitlines()[:-1] == [
        "Tracking sheet import from dry.csv (dry run)",
        *would,
        "Dry run: nothing was changed.",
    ]
    assert out.splitlines()[-1].startswith("Read 9 · ") and err == ""
    assert not Referral.objects.exists() and not Client.objects.exists()
    assert not ReferralEvent.objects.exists() and Organization.objects.count() == organizations
    audit = AuditEvent.objects.get(action="import")
    assert audit.outcome == "ok" and audit.detail["dry_run"] is True
    assert audit.detail["written"] is False and audit.detail["created"] == 9

    # Done for real, the import does just what the dry run said.
    out, _ = import_as_alpha(path, "--create-partners")
    assert out.splitlines() == [
        "Tracking sheet import from dry.csv",
        *would,
        "Read 9 · imported 9 · skipped 0 · defaults applied 0 · 0 error(s), 0 warning(s)",
    ]
    assert Referral.objects.count() == 9 and Client.objects.count() == 8
    assert Organization.objects.count() == organizations + 1


BAD_ROWS = [
    # row 2: fine
    "R-1,Dana,Rivers,1990-04-12,2025-05-01,Harbor House,,,,,coordinator@alpha.example.org"
    ",,,Sent,,,,,,",
    # row 3: a date that is not one, an unknown partner, an invalid e-mail
    "R-2,Sam,Okafor,1985-11-02,31/31/2025,Nowhere Shelter,,,not-an-email,,"
    "coordinator@alpha.example.org,,,Sent,,,,,,",
    # row 4: not accepted without a reason code; an unknown need
    "R-3,Lee,Chen,1979-01-30,2025-05-03,Oak Street Clinic,,,,,coordinator@alpha.example.org"
    ",flying lessons,,Declined,,,,,,",
    # row 5: unknown status and owner, an urgency nobody uses
    "R-4,Ari,Stone,,2025-05-03,Oak Street Clinic,,,,,nobody@alpha.example.org,,whenever"
    ",Maybe later,,,,,,",
    # row 6: a date in the future, a received date before sending
    "R-5,Kim,Park,,2025-07-04,Harbor House,,,,,coordinator@alpha.example.org,,,received,,,"
    "2025-05-01,,,",
    # row 7: the same tracking ID again; a partner of another network
    "r-1,Jo,Vance,,2025-05-03,Elsewhere Center,,,,,coordinator@alpha.example.org,,,Sent,,,,,,",
    # row 8: a date of birth before 1900 (and an outcome code for a status without outcome)
    "R-7,Pat,Lane,1899-12-31,2025-05-03,Harbor House,,,,,coordinator@alpha.example.org,,,Accepted"
    ",Completed,,,,,",
    # row 9: cancelled without saying why; a disposition of the wrong kind for not accepted
    "R-8,Ro,Ames,,2025-05-03,Harbor House,,,,,coordinator@alpha.example.org,,,Cancelled,,,,,,",
    "R-9,Ro,Ames,,2025-05-03,Harbor House,,,,,coordinator@alpha.example.org,,,Not accepted"
    ",Service started,,,,,",
]


def test_every_bad_row_is_reported_and_nothing_is_imported(partners, cast, tmp_path):
    path = write(tmp_path, "bad.csv", sheet(*BAD_ROWS))
    report = tmp_path / "problems.csv"
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match=r"failed with 13 error\(s\); nothing was written"):
        import_as_alpha(path, "--report", report, stdout=out, stderr=err)
    assert out.getvalue().splitlines() == [
        "Tracking sheet import from bad.csv",
        "Nothing was written.",
        "Read 9 · imported 0 · skipped 9 · defaults applied 0 · 13 error(s), 0 warning(s)",
    ]
    lines = err.getvalue().splitlines()
    assert lines[0] == "Errors (13, 12 causes):"
    # Rows with the same problem are one line; a problem of one row is that row's line.
    assert lines[1] == (
        "  2 × bad.csv, partner: is not an organization of the North County directory (check "
        "the spelling, or pass --create-partners to add it) — e.g. row 3 ('Nowhere Shelter'); "
        "row 7 ('Elsewhere Center')"
    )
    expected = [
        "bad.csv, row 3, referred_on: '31/31/2025' is not a date in the calendar",
        "bad.csv, row 3, contact_email: 'not-an-email' is not an e-mail address",
        "bad.csv, row 4, needs: 'flying lessons' is not one of the needs",
        "bad.csv, row 5, owner: 'nobody@alpha.example.org' is not an active member of Alpha "
        "Recovery",
        "bad.csv, row 5, urgency: 'whenever' is not an urgency (routine, urgent, emergency)",
        "bad.csv, row 5, status: 'Maybe later' is not a status Referloop knows",
        "bad.csv, row 6, referred_on: 2025-07-04 is in the future",
        "bad.csv, row 7, tracking_id: 'R-1' is also on row 2",
        "bad.csv, row 8, client_dob: 1899-12-31 is before 1900",
        "bad.csv, row 9, status_reason: cancelled needs a status note or a disposition saying why",
        "bad.csv, row 10, disposition: 'Service started' is not a reason not accepted code",
    ]
    for text in expected:
        assert any(line.strip().startswith(text) for line in lines), text
    assert len(lines) == 1 + 12
    assert not Referral.objects.exists() and not Client.objects.exists()
    # Rows whose cells were fine but whose life cycle is not: checked once the cells pass.
    path = write(
        tmp_path,
        "bad2.csv",
        sheet(BAD_ROWS[0], BAD_ROWS[0].replace("R-1,", "R-2,").replace("Sent", "Declined")),
    )
    err = StringIO()
    with pytest.raises(CommandError, match=r"1 error"):
        import_as_alpha(path, stderr=err)
    assert (
        "bad2.csv, row 3, disposition: not accepted needs a reason code in the disposition column"
        in err.getvalue()
    )
    written = report.read_text(encoding="utf-8-sig").splitlines()
    assert written[0] == "file,row,column,severity,reason,value"
    assert (
        written[1]
        == "bad.csv,3,referred_on,error,'31/31/2025' is not a date in the calendar,31/31/2025"
    )
    assert len(written) == 1 + 13
    assert not Referral.objects.exists()
    audit = AuditEvent.objects.filter(action="import").first()
    assert audit.outcome == "failed" and audit.detail["errors"] == 1


def test_partial_imports_the_valid_rows_and_counts_the_rejected(partners, cast, tmp_path):
    # GOOD's 8 rows (rows 2-9), then two with three errors each (rows 10 and 11).
    text = GOOD.read_text(encoding="utf-8") + f"{BAD_ROWS[1]}\n{BAD_ROWS[3]}\n"
    path = write(tmp_path, "partial.csv", text)
    out = StringIO()
    with pytest.raises(CommandError, match=r"failed with 6 error\(s\); nothing was written"):
        import_as_alpha(path, "--partial", "--dry-run", stdout=out)
    assert out.getvalue().splitlines()[:3] == [
        "Tracking sheet import from partial.csv (dry run)",
        "  referrals: 8 created, 0 updated, 0 unchanged, 2 rejected",
        "  clients: 7 created, 1 found on record",
    ]
    assert not Referral.objects.exists() and not Client.objects.exists()

    out, err = StringIO(), StringIO()
    left_out = r"6 error\(s\): those rows were left out, the valid rows were imported \(--partial\)"
    with pytest.raises(CommandError, match=left_out):
        import_as_alpha(path, "--partial", stdout=out, stderr=err)
    assert out.getvalue().splitlines() == [
        "Tracking sheet import from partial.csv",
        "  referrals: 8 created, 0 updated, 0 unchanged, 2 rejected",
        "  clients: 7 created, 1 found on record",
        CONSENT,
        "Read 10 · imported 8 · skipped 2 · defaults applied 0 · 6 error(s), 0 warning(s)",
    ]
    assert err.getvalue().startswith("Errors (6, 6 causes):\n  partial.csv, row 10, referred_on:")
    assert Referral.objects.filter(agency=cast.agency_a).count() == 8
    assert not Referral.objects.filter(tracking_id__in=["R-2", "R-4"]).exists()
    assert Client.objects.count() == 7
    audit = AuditEvent.objects.filter(action="import").first()
    assert audit.outcome == "ok" and audit.detail["written"] is True
    assert (audit.detail["created"], audit.detail["rejected"], audit.detail["errors"]) == (8, 2, 6)

    # Again: the valid rows are unchanged, the others still rejected.
    out = StringIO()
    with pytest.raises(CommandError, match=left_out):
        import_as_alpha(path, "--partial", stdout=out)
    assert "  referrals: 0 created, 0 updated, 8 unchanged, 2 rejected" in out.getvalue()
    assert Referral.objects.count() == 8 and Client.objects.count() == 7


def test_a_row_the_services_refuse_leaves_nothing_of_itself(partners, cast, monkeypatch):
    record_sent = sheet_write_module.referral_record_sent

    def refusing(*, referral, **kwargs):
        if referral.tracking_id == "RL-1005":
            raise DomainError("the partner stopped taking referrals", field="partner")
        return record_sent(referral=referral, **kwargs)

    monkeypatch.setattr(sheet_write_module, "referral_record_sent", refusing)
    err = StringIO()
    with pytest.raises(CommandError, match=r"failed with 1 error"):
        import_as_alpha(GOOD, stderr=err)
    assert "good.csv, row 6, partner: the partner stopped taking referrals" in err.getvalue()
    assert not Referral.objects.exists() and not Client.objects.exists()

    out = StringIO()
    with pytest.raises(CommandError, match=r"1 error\(s\): those rows were left out"):
        import_as_alpha(GOOD, "--partial", stdout=out)
    assert "  referrals: 7 created, 0 updated, 0 unchanged, 1 rejected" in out.getvalue()
    assert "  clients: 6 created, 1 found on record" in out.getvalue()
    # The refused row's new client went with it.
    assert Referral.objects.count() == 7 and Client.objects.count() == 6


def test_the_report_file_holds_the_totals_and_the_problems_grouped_by_cause(partners, tmp_path):
    rows = [
        BAD_ROWS[0],
        *(
            BAD_ROWS[0].replace("R-1,", f"R-{n},").replace("coordinator@", f"nobody{n}@")
            for n in (2, 3, 4)
        ),
        *(
            BAD_ROWS[0].replace("R-1,", f"R-{n},").replace("2025-05-01", day)
            for n, day in ((5, "soon"), (6, "n/a"))
        ),
    ]
    path = write(tmp_path, "rows.csv", sheet(*rows))
    target = tmp_path / "out.json"
    err = StringIO()
    with pytest.raises(CommandError, match=r"5 error\(s\): those rows were left out"):
        import_as_alpha(path, "--partial", "--report", target, stderr=err)
    assert err.getvalue().splitlines() == [
        "Errors (5, 2 causes):",
        "  3 × rows.csv, owner: is not an active member of Alpha Recovery — e.g. row 3 "
        "('nobody2@alpha.example.org'); row 4 ('nobody3@alpha.example.org'); row 5 "
        "('nobody4@alpha.example.org')",
        "  2 × rows.csv, referred_on: is not a date: write it as YYYY-MM-DD or M/D/YYYY — e.g. "
        "row 6 ('soon'); row 7 ('n/a')",
    ]
    report = json.loads(target.read_text(encoding="utf-8"))
    assert report["totals"] == {
        "read": 6,
        "imported": 1,
        "skipped": 5,
        "defaulted": 0,
        "errors": 5,
        "warnings": 0,
    }
    assert report["tables"] == {
        "referrals": {"created": 1, "updated": 0, "unchanged": 0, "rejected": 5}
    }
    groups = [(g["field"], g["cause"], g["count"]) for g in report["groups"]]
    assert groups == [
        ("owner", "is not an active member of Alpha Recovery", 3),
        ("referred_on", "is not a date: write it as YYYY-MM-DD or M/D/YYYY", 2),
    ]
    examples = report["groups"][0]["examples"]
    assert [(e["row"], e["value"]) for e in examples] == [
        (3, "nobody2@alpha.example.org"),
        (4, "nobody3@alpha.example.org"),
        (5, "nobody4@alpha.example.org"),
    ]
    assert examples[0]["reason"] == (
        "'nobody2@alpha.example.org' is not an active member of Alpha Recovery"
    )
    assert len(report["problems"]) == 5 and report["written"] and report["partial"]


def test_the_life_cycle_and_dates_are_checked_together(partners, tmp_path):
    rows = [
        # received date but the status says sent
        "L-1,Dana,Rivers,,2025-05-01,Harbor House,,,,,coordinator@alpha.example.org,,,Sent,,,"
        "2025-05-02,,,",
        # an outcome date on an open referral
        "L-2,Dana,Rivers,,2025-05-01,Harbor House,,,,,coordinator@alpha.example.org,,,Accepted,,,"
        ",,2025-05-09,",
        # first contact after the outcome of a closed referral
        "L-3,Dana,Rivers,,2025-05-01,Harbor House,,,,,coordinator@alpha.example.org,,,Completed,,,"
        ",2025-05-20,2025-05-09,",
        # a draft
        "L-4,Dana,Rivers,,2025-05-01,Harbor House,,,,,coordinator@alpha.example.org,,,Draft,,,,,,",
    ]
    err = StringIO()
    with pytest.raises(CommandError, match=r"4 error"):
        import_as_alpha(write(tmp_path, "life.csv", sheet(*rows)), stderr=err)
    text = err.getvalue()
    assert "row 2, received_on: a received date is given but the status is sent" in text
    assert "row 3, outcome_on: an outcome date is given but the status is accepted" in text
    assert "row 4, first_contact_on: 2025-05-20 is after the outcome (2025-05-09)" in text
    assert "row 5, status: drafts are not imported" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty.csv: the file is empty"),
        (b"\xef\xbb\xbf\r\n", "empty.csv: the file is empty"),
        (HEADER.encode() + b"\n", "empty.csv: there are no referral rows below the header"),
        (
            b"Tracking ID,Client first name,Client last name,Owner\nX,Dana,Rivers,a@b.org\n",
            "empty.csv, row 1: missing required column(s): Referred on (referred_on), "
            "Partner (partner)",
        ),
        (
            b"Referred on,Partner,Date sent,Client,Owner\n2025-05-01,X,2025-05-01,A B,a@b.org\n",
            "empty.csv, row 1, Date sent: two columns mean Referred on ('Referred on' and "
            "'Date sent')",
        ),
    ],
)
def test_unusable_files_are_one_clear_error(partners, tmp_path, content, message):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    err = StringIO()
    with pytest.raises(CommandError, match=r"^Tracking sheet import failed: ") as failure:
        import_as_alpha(path, stderr=err)
    assert message in err.getvalue()
    assert message in str(failure.value)  # the one line says it all


def test_other_file_kinds_are_refused(partners, tmp_path):
    for name, content in (("sheet.xls", b"\xd0\xcf\x11\xe0"), ("broken.xlsx", b"not a zip")):
        err = StringIO()
        with pytest.raises(CommandError):
            import_as_alpha(write(tmp_path, name, content.decode("latin-1"), "latin-1"), stderr=err)
        assert name in err.getvalue()
    err = StringIO()
    with pytest.raises(CommandError):
        import_as_alpha(tmp_path / "missing.csv", stderr=err)
    assert "missing.csv: no such file" in err.getvalue()


def test_an_unknown_agency_is_a_one_line_error(partners):
    with pytest.raises(CommandError, match="agency: no agency 'zulu' \\(there are: alpha, bravo"):
        run(GOOD, "--agency", "zulu")


@pytest.mark.parametrize(
    ("encoding", "delimiter", "warning"),
    [
        (
            "cp1252",
            ",",
            "Warnings (1):\n  sheet.csv: is not UTF-8: read as CP1252 (check accented letters)\n",
        ),
        (
            "latin-1",
            ",",
            "Warnings (1):\n  sheet.csv: is not UTF-8: read as CP1252 (check accented letters)\n",
        ),
        (
            "cp1252",
            ";",
            "Warnings (1):\n  sheet.csv: is not UTF-8: read as CP1252 (check accented letters)\n",
        ),
        ("utf-16", "\t", ""),  # Excel's "Unicode text"
        ("utf-8-sig", ";", ""),  # Excel's CSV in many European locales
    ],
)
def test_the_encodings_and_delimiters_spreadsheets_write(
    partners, cast, tmp_path, encoding, delimiter, warning
):
    last = "O’Brien-Muñoz" if encoding != "latin-1" else "Muñoz"  # (’ is not Latin-1)
    row = (
        f"E-1,José,{last},1990-01-01,2025-05-01,Harbor House,,,,,coordinator@alpha.example.org"
        ",,,Sent,,,,,,Prefers the café at noon"
    )
    text = sheet(row).replace(",", delimiter)
    out, err = import_as_alpha(write(tmp_path, "sheet.csv", text, encoding))
    assert "  referrals: 1 created, 0 updated, 0 unchanged" in out
    assert err == warning
    referral = by_id("E-1")
    assert (referral.client.first_name, referral.client.last_name) == ("José", last)
    assert referral.reason == "Prefers the café at noon"


def test_an_xlsx_workbook_saved_as_csv_is_read_as_a_workbook(partners, cast, tmp_path):
    workbook = Workbook()
    workbook.active.append(HEADERS)
    workbook.active.append(
        ["X-1", "Dana", "Rivers", date(1990, 4, 12), date(2025, 5, 1), "Harbor House"]
        + [None] * 4
        + ["coordinator@alpha.example.org"]
    )
    path = tmp_path / "export.csv"
    workbook.save(path)
    out, err = import_as_alpha(path)
    assert "  referrals: 1 created, 0 updated, 0 unchanged" in out
    assert err == "Warnings (1):\n  export.csv: is an Excel workbook, not CSV: read as XLSX\n"
    assert by_id("X-1").sent_at == noon("2025-05-01")


def test_row_numbers_count_records_not_lines(partners, tmp_path):
    rows = [
        "Q-1,Dana,Rivers,,2025-05-01,Harbor House,,,,,coordinator@alpha.example.org,,,Sent,,,,,,"
        '"line one\nline two\nline three"',
        "Q-2,Sam,Okafor,,2025-05-01,Nowhere,,,,,coordinator@alpha.example.org,,,Sent,,,,,,",
    ]
    err = StringIO()
    with pytest.raises(CommandError):
        import_as_alpha(write(tmp_path, "multi.csv", sheet(*rows)), stderr=err)
    assert "multi.csv, row 3, partner: 'Nowhere'" in err.getvalue()


def test_create_partners_adds_plain_listings(partners, cast, tmp_path):
    row = "P-1,Dana,Rivers,,2025-05-01,New Dawn Shelter,,,,,coordinator@alpha.example.org,,,Sent"
    path = write(tmp_path, "new.csv", sheet(row + ",,,,,,", row.replace("P-1", "P-2") + ",,,,,,"))
    out, _ = import_as_alpha(path, "--create-partners")
    assert "partners added to the directory: 1" in out
    created = Organization.objects.get(name="New Dawn Shelter")
    assert created.network == cast.network and created.agency is None
    assert created.source_id == "tracking-sheet:new dawn shelter"
    assert {by_id("P-1").organization, by_id("P-2").organization} == {created}
    out, _ = import_as_alpha(path, "--create-partners")
    assert "referrals: 0 created, 0 updated, 2 unchanged" in out
    assert "partners added" not in out


# --- idempotence and moving forward --------------------------------------------------------------


def test_importing_the_same_sheet_again_changes_nothing(partners, cast):
    import_as_alpha(GOOD)
    events = ReferralEvent.objects.count()
    for _ in range(2):
        out, _ = import_as_alpha(GOOD)
        assert "referrals: 0 created, 0 updated, 8 unchanged" in out
        assert "clients: 0 created, 0 found on record" in out
    assert Referral.objects.count() == 8 and Client.objects.count() == 7
    assert ReferralEvent.objects.count() == events


def test_a_later_sheet_moves_referrals_forward_only(partners, cast, tmp_path):
    import_as_alpha(GOOD)
    text = GOOD.read_text(encoding="utf-8")
    # RL-1001 was accepted on June 2; RL-1002's sheet is behind what Referloop knows.
    text = text.replace("Routine,Sent,,,,,,", "Routine,Accepted,,,2025-06-02,2025-06-03,,").replace(
        "urgent,received,,,5/5/2025,,,", "urgent,Sent,,,,,,"
    )
    referral_accept(referral=by_id("RL-1002"), actor=Actor(user=None, label="Partner"))
    # RL-1008 is cancelled in Referloop; the sheet now says completed: left as it is, and said.
    text = text.replace("Cancelled,,Client moved away,,,2025-05-23,", "Completed,,,,,2025-05-23,")
    later = write(tmp_path, "june.csv", text)
    with time_machine.travel(datetime(2025, 7, 1, 15, tzinfo=UTC), tick=False):
        out, err = import_as_alpha(later)
    assert "referrals: 0 created, 1 updated, 7 unchanged" in out
    assert (
        "june.csv, row 9, status: RL-1008 is cancelled in Referloop; the sheet's completed was "
        "not applied" in err
    )
    moved = by_id("RL-1001")
    assert moved.status == Status.ACCEPTED
    assert moved.received_at == noon("2025-06-02") and moved.first_contact_at == noon("2025-06-03")
    last = list(moved.events.order_by("at", "id").values_list("kind", "to_status"))[-3:]
    assert last == [
        (EventKind.STATUS, Status.RECEIVED),
        (EventKind.STATUS, Status.ACCEPTED),
        (EventKind.CONTACT_ATTEMPT, ""),
    ]
    assert by_id("RL-1002").status == Status.ACCEPTED
    assert by_id("RL-1008").status == Status.CANCELLED


def test_rows_without_a_tracking_id_are_found_again_by_client_partner_and_date(partners, tmp_path):
    row = ",Dana,Rivers,1990-04-12,2025-05-01,Harbor House,,,,,coordinator@alpha.example.org"
    path = write(tmp_path, "no-ids.csv", sheet(row + ",,,Sent,,,,,,"))
    import_as_alpha(path)
    later = write(tmp_path, "no-ids-2.csv", sheet(row + ",,,Received,,,2025-05-03,,,"))
    out, _ = import_as_alpha(later)
    assert "referrals: 0 created, 1 updated, 0 unchanged" in out
    assert Referral.objects.get().status == Status.RECEIVED


# --- small pure parts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-05-01", date(2025, 5, 1)),
        ("5/1/2025", date(2025, 5, 1)),
        ("05/01/25", date(2025, 5, 1)),
        ("11/2/85", date(1985, 11, 2)),
        ("2025-05-01 00:00:00", date(2025, 5, 1)),
        ("May 1, 2025", date(2025, 5, 1)),
        ("1 May 2025", date(2025, 5, 1)),
    ],
)
def test_dates_people_write(text, expected):
    assert parse_date(text) == expected


def test_status_paths_take_the_usual_steps():
    assert status_path(Status.REQUESTED, Status.COMPLETED) == [Status.ACCEPTED, Status.COMPLETED]
    assert status_path(Status.REQUESTED, Status.COMPLETED, via_received=True) == [
        Status.RECEIVED,
        Status.ACCEPTED,
        Status.COMPLETED,
    ]
    assert status_path(Status.REQUESTED, Status.ON_HOLD) == [Status.RECEIVED, Status.ON_HOLD]
    assert status_path(Status.ON_HOLD, Status.COMPLETED) == [Status.ACCEPTED, Status.COMPLETED]
    assert status_path(Status.COMPLETED, Status.CANCELLED) is None


def test_checking_reads_what_rows_refer_to_once_whatever_their_number(
    partners, cast, tmp_path, django_assert_num_queries
):
    lines = GOOD.read_text(encoding="utf-8").splitlines()
    rows = [line.split(",", 1)[1] for line in lines[1:3]]  # without their tracking IDs
    many = write(tmp_path, "many.csv", "\n".join([lines[0], *[f",{row}" for row in rows] * 40]))
    # partners, their services, members, needs, disposition codes
    for path, rows in ((GOOD, 8), (many, 80)):
        report = SheetReport(source=path.name)
        with django_assert_num_queries(5):
            assert len(sheet_check(path, agency=cast.agency_a, report=report)) == rows
        assert report.read == rows and report.problems == []


def test_the_import_function_returns_its_report(partners, cast):
    report = referrals_sheet_import(path=GOOD, agency=cast.agency_a, dry_run=True)
    assert report.ok and not report.written and report.referrals.created == 8
    assert (report.read, report.clients_created, report.clients_reused) == (8, 7, 1)


# --- the real console script ---------------------------------------------------------------------


SETUP = """
from referloop.core.models import Agency, Membership, Network, User
from referloop.directory.models import Organization
network = Network.objects.create(name="North County", slug="north")
agency = Agency.objects.create(network=network, name="Alpha Recovery", slug="alpha",
                               time_zone="America/Chicago")
for email in ("coordinator@alpha.example.org", "intake@alpha.example.org"):
    user = User.objects.create_user(email, "x" * 20)
    Membership.objects.create(user=user, agency=agency, role="coordinator")
for name in ("Harbor House", "Oak Street Clinic"):
    org = Organization.objects.create(network=network, name=name)
    org.services.create(network=network, name=name + " intake")
"""


@pytest.fixture(scope="module")
def cli_database(tmp_path_factory):
    """A migrated SQLite file of its own, with one agency, two members and two partners."""
    folder = tmp_path_factory.mktemp("cli")
    env = child_env(DATABASE_URL=f"sqlite:///{folder / 'cli.sqlite3'}")
    for command in (["migrate", "--verbosity", "0"], ["shell", "-c", SETUP]):
        subprocess.run([REFERLOOP, *command], env=env, check=True, capture_output=True, timeout=300)
    return env


def referloop(env, *args):
    return subprocess.run(
        [REFERLOOP, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.django_db(transaction=False)
def test_the_console_script_fails_in_one_line_and_succeeds_with_exit_0(cli_database, tmp_path):
    bad = write(tmp_path, "bad.csv", sheet(*BAD_ROWS[:2]))
    result = referloop(cli_database, "import", "referrals", bad, "--agency", "alpha")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        "CommandError: Tracking sheet import failed with 3 error(s); nothing was written (fix "
        "the rows above, or pass --partial to import the valid rows)"
    )
    assert "  bad.csv, row 3, referred_on: '31/31/2025' is not a date in the calendar" in lines
    assert "Nothing was written." in result.stdout

    result = referloop(cli_database, "import", "referrals", GOOD, "--agency", "alpha")
    assert result.returncode == 0, result.stderr
    assert "referrals: 8 created, 0 updated, 0 unchanged" in result.stdout

    result = referloop(cli_database, "import", "referrals", tmp_path / "nope.csv", "--agency", "x")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: agency: no agency 'x' (there are: alpha)"
    ]

    exported = tmp_path / "out.xlsx"
    result = referloop(cli_database, "export", "referrals", exported, "--agency", "alpha")
    assert result.returncode == 0, result.stderr
    assert "Exported 8 referrals of Alpha Recovery" in result.stdout
    result = referloop(cli_database, "import", "referrals", exported, "--agency", "alpha")
    assert result.returncode == 0, result.stderr
    assert "referrals: 0 created, 0 updated, 8 unchanged" in result.stdout

    nowhere = tmp_path / "missing" / "report.json"
    result = referloop(
        cli_database, "import", "referrals", GOOD, "--agency", "alpha", "--report", nowhere
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"CommandError: report: cannot write {nowhere}: No such file or directory"
    ]

    result = referloop(cli_database, "import", "referrals", "--help")
    options = ("--agency SLUG", "--owner EMAIL", "--create-partners", "--partial", "--dry-run")
    for option in (*options, "--report FILE", "--mapping FILE"):
        assert option in result.stdout, option
