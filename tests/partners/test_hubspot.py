"""`referloop import hubspot FILE` / `referloop export hubspot FILE`: HubSpot contacts and
companies exports (the default view, a portal's extra columns, Windows-1252, `;`, a ZIP, a dirty
file) become partner people, organizations and relationships; all or nothing with a per-row
report; a second import, and the import of our own export, change nothing."""

import json
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection

from referloop.core.models import Agency, Network
from referloop.directory.models import Contact, Organization, Phone
from referloop.partners.hubspot import hubspot_import
from referloop.partners.models import HubspotLink, KeyContact, Position, Relationship, Stage
from referloop.partners.services import relationship_stage_move
from tests.conftest import child_env
from tests.directory import factories

FIXTURES = Path(__file__).parents[1] / "fixtures" / "hubspot"
DEFAULT_VIEW = FIXTURES / "contacts-default-view.csv"
COMPANIES = FIXTURES / "companies.csv"
EXTRA = FIXTURES / "contacts-extra-columns.csv"
DIRTY = FIXTURES / "contacts-dirty.csv"
ZIPPED = FIXTURES / "hubspot-crm-exports-all-contacts-2025-06-30.zip"
CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2025, 6, 30, 15, 0, tzinfo=UTC)
REFERLOOP = str(Path(sys.executable).with_name("referloop"))


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def directory(cast):
    """The network's directory before any import: two of the partners HubSpot names."""
    return {
        "harbor": factories.organization(network=cast.network, name="Harbor House"),
        "oak": factories.organization(network=cast.network, name="Oak Street Clinic"),
        # Same name, another network: never matched.
        "elsewhere": factories.organization(
            network=cast.other_network, name="Riverside Sober Living"
        ),
    }


def run(*args, agency="alpha") -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*map(str, args), "--agency", agency, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def import_file(path, *args, agency="alpha"):
    return run("import", "hubspot", path, *args, agency=agency)


def export_file(path, *args, agency="alpha"):
    return run("export", "hubspot", path, *args, agency=agency)


def report_of(path, agency, **options):
    return hubspot_import(path=path, agency=agency, **options)


def causes(report) -> set[tuple[str, str, str, int]]:
    return {(g.severity, g.field, g.cause, g.count) for g in report.groups()}


def relationship(agency, name) -> Relationship:
    return Relationship.objects.get(agency=agency, organization__name=name)


def person(email) -> Contact:
    return Contact.objects.get(email__iexact=email)


def phones(contact) -> list[str]:
    return list(
        Phone.objects.filter(contact=contact).order_by("pk").values_list("number", flat=True)
    )


def state(network) -> dict:
    """Everything an import may write, to prove a refused one wrote nothing."""
    return {
        "organizations": sorted(
            Organization.objects.filter(network=network).values_list("name", flat=True)
        ),
        "contacts": Contact.objects.filter(network=network).count(),
        "phones": Phone.objects.filter(network=network).count(),
        "positions": Position.objects.filter(network=network).count(),
        "links": HubspotLink.objects.count(),
        "key contacts": KeyContact.objects.count(),
        "relationships": sorted(
            Relationship.objects.values_list(
                "agency_id", "organization__name", "stage", "owner_id", "last_contact_at", "version"
            )
        ),
    }


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHICAGO)


# --- companies, then their contacts -------------------------------------------------------------


def test_a_companies_export_links_the_directory_and_starts_relationships(cast, directory):
    report = report_of(COMPANIES, cast.agency_a)
    assert report.written and report.totals() == {
        "read": 3,
        "imported": 3,
        "skipped": 0,
        "defaulted": 3,
        "errors": 0,
        "warnings": 1,
    }
    assert str(report.count("companies")) == "3 created, 0 updated, 0 unchanged"
    assert (report.organizations_added, report.relationships_started) == (2, 3)
    assert causes(report) == {
        (
            "warning",
            "Company owner",
            "… is not an active member of the agency (by e-mail or full name): the "
            "relationship's owner is left as it is",
            1,
        ),
        (
            "default",
            "Lead Status",
            "no lead status or lifecycle stage with a clear meaning: reach out",
            3,
        ),
    }
    # Harbor House was in the directory: linked, its listing left as the network has it.
    harbor = relationship(cast.agency_a, "Harbor House")
    assert harbor.organization == directory["harbor"] and directory["harbor"].website == ""
    assert harbor.owner == cast.coordinator and harbor.stage == Stage.REACH_OUT
    assert harbor.last_contact_at == at("2025-05-20 14:30")
    riverside = relationship(cast.agency_a, "Riverside Sober Living")
    assert riverside.organization.network == cast.network
    assert riverside.organization.website == "https://riverside-sl.example.org"
    assert riverside.owner == cast.members_a["intake"]  # by full name, "Alpha Intake"
    assert riverside.last_contact_at == at("2025-06-02 00:00")
    lakeview = relationship(cast.agency_a, "Lakeview Counseling")
    assert lakeview.owner is None
    assert list(lakeview.organization.phones.values_list("number", flat=True)) == ["+12175550199"]
    link = HubspotLink.objects.get(object_type="company", hubspot_id="9001")
    assert link.associations == ["501", "502", "601"]
    assert link.extra == [
        ["Create Date", "2024-11-02 09:15"],
        ["City", "Springfield"],
        ["State/Region", "Illinois"],
        ["Country/Region", "United States"],
        ["Industry", "Hospital & Health Care"],
    ]


def test_the_default_view_makes_partner_people_at_their_companies(cast, directory):
    import_file(COMPANIES)
    out, err = import_file(DEFAULT_VIEW)
    assert "Read as a HubSpot contacts export (detected from the header)" in out
    assert "contacts: 6 created, 0 updated, 0 unchanged" in out
    assert "organizations added to the directory: 1" in out  # New Hope Outreach
    assert "Read 6 · imported 6 · skipped 0 · defaults applied 2 · 0 error(s), 2 warning(s)" in out
    assert "row 5, Contact owner: 'Pat Nobody' is not an active member" in err
    assert "row 6, Associated Company: 'New Hope Outreach' is not in the directory" in err
    assert "row 7, First Name: no name: the e-mail address is the name" in err

    maya = person("maya.okafor@harborhouse.example.org")
    assert maya.name == "Maya Okafor" and maya.organization == directory["harbor"]
    assert phones(maya) == ["+13125550141"]
    assert Position.objects.get(contact=maya).organization == directory["harbor"]
    luis = person("luis.ortega@harborhouse.example.org")
    assert luis.email == "LUIS.ORTEGA@harborhouse.example.org"  # the domain normalized
    assert phones(luis) == ["+13125550142"]
    harbor = relationship(cast.agency_a, "Harbor House")
    assert set(harbor.key_contacts.values_list("contact__name", flat=True)) == {
        "Maya Okafor",
        "Luis Ortega",
    }
    # Connected and In progress: rapport; the latest activity is the last contact.
    assert harbor.stage == Stage.RAPPORT and harbor.last_contact_at == at("2025-06-12 10:22")
    assert relationship(cast.agency_a, "Riverside Sober Living").stage == Stage.MUTUAL_BENEFITS
    new_hope = relationship(cast.agency_a, "New Hope Outreach")
    assert new_hope.stage == Stage.DORMANT and new_hope.owner == cast.members_a["intake"]
    oak = relationship(cast.agency_a, "Oak Street Clinic")  # by name, in another case too
    assert oak.stage == Stage.REACH_OUT and oak.owner is None
    assert person("frontdesk@oakstreet.example.org").name == "frontdesk@oakstreet.example.org"
    link = HubspotLink.objects.get(object_type="contact", hubspot_id="501")
    assert (link.first_name, link.last_name) == ("Maya", "Okafor")
    assert link.extra == [
        ["Marketing contact status", "Marketing contact"],
        ["Create Date", "2024-11-02 09:20"],
    ]


def test_a_second_import_changes_nothing(cast, directory):
    import_file(COMPANIES)
    import_file(DEFAULT_VIEW)
    before = state(cast.network)
    out, _ = import_file(DEFAULT_VIEW)
    assert "contacts: 0 created, 0 updated, 6 unchanged" in out
    assert "relationships started: 0" in out and "organizations added" not in out
    out, _ = import_file(COMPANIES)
    assert "companies: 0 created, 0 updated, 3 unchanged" in out
    assert state(cast.network) == before


def test_contacts_first_link_their_company_ids_for_the_companies_export(cast, directory):
    out, err = import_file(DEFAULT_VIEW)
    assert "organizations added to the directory: 2" in out  # Riverside, New Hope
    assert (
        "2 × contacts-default-view.csv, Associated Company: … is not in the directory: added as a "
        "new organization — e.g. row 4 ('Riverside Sober Living'); row 6 ('New Hope Outreach')"
    ) in err
    assert HubspotLink.objects.get(hubspot_id="9001").organization == directory["harbor"]
    out, _ = import_file(COMPANIES)
    # 9001 and 9002 were linked by the contacts: their HubSpot columns are added now.
    assert "companies: 1 created, 2 updated, 0 unchanged" in out
    assert (
        Organization.objects.filter(network=cast.network, name="Riverside Sober Living").count()
        == 1
    )


def test_a_relationship_worked_in_referloop_only_moves_forward(cast, directory):
    import_file(COMPANIES)
    harbor = relationship(cast.agency_a, "Harbor House")
    relationship_stage_move(relationship=harbor, actor=cast.coordinator, stage=Stage.TRUST)
    import_file(DEFAULT_VIEW)
    assert relationship(cast.agency_a, "Harbor House").stage == Stage.TRUST  # not back to rapport
    assert relationship(cast.agency_a, "Riverside Sober Living").stage == Stage.MUTUAL_BENEFITS


def test_a_later_last_contact_in_referloop_is_kept(cast, directory):
    import_file(COMPANIES)
    harbor = relationship(cast.agency_a, "Harbor House")
    Relationship.objects.filter(pk=harbor.pk).update(last_contact_at=at("2025-06-29 09:00"))
    import_file(DEFAULT_VIEW)
    assert relationship(cast.agency_a, "Harbor House").last_contact_at == at("2025-06-29 09:00")


# --- files as real exports come ------------------------------------------------------------------


def test_a_windows_1252_file_reads_its_accents(cast, directory):
    out, err = import_file(FIXTURES / "contacts-cp1252.csv")
    assert "contacts: 2 created, 0 updated, 0 unchanged" in out
    assert "contacts-cp1252.csv: is not UTF-8: read as CP1252 (check accented letters)" in err
    assert person("jose.nunez@oakstreet.example.org").name == "José Núñez"
    assert person("zoe@oakstreet.example.org").name == "Zoë Brontë-Åkesson"
    oak = relationship(cast.agency_a, "Oak Street Clinic")
    assert oak.stage == Stage.RAPPORT and oak.owner == cast.members_a["intake"]
    assert oak.last_contact_at == at("2025-03-04 00:00")  # 03/04/2025 is March 4


def test_a_semicolon_file_keeps_commas_in_cells(cast, directory):
    out, _ = import_file(FIXTURES / "contacts-semicolon.csv")
    assert "contacts: 2 created, 0 updated, 0 unchanged" in out
    assert person("marco.rossi@harborhouse.example.org").name == "Marco Rossi, Jr."
    assert phones(person("anna.schmidt@harborhouse.example.org")) == ["+13125550181"]


def test_a_zipped_export_is_read_from_inside_the_archive(cast, directory):
    import_file(COMPANIES)
    report = report_of(ZIPPED, cast.agency_a)
    assert str(report.count("contacts")) == "6 created, 0 updated, 0 unchanged"
    assert report.totals()["warnings"] == 2 and report.totals()["defaulted"] == 2
    assert report.problems[0].file == (
        "hubspot-crm-exports-all-contacts-2025-06-30.zip/hubspot-crm-exports-all-contacts-2025-06-30.csv"
    )
    out, _ = import_file(DEFAULT_VIEW)  # the same records, unzipped
    assert "contacts: 0 created, 0 updated, 6 unchanged" in out


def test_a_zip_of_several_sheets_is_refused(cast, tmp_path):
    archive = tmp_path / "exports.zip"
    with zipfile.ZipFile(archive, "w") as packed:
        packed.write(DEFAULT_VIEW, "contacts.csv")
        packed.write(COMPANIES, "companies.csv")
    with pytest.raises(CommandError, match=r"holds 2 sheets \(companies.csv, contacts.csv\)"):
        import_file(archive)


def test_a_portals_own_columns_are_kept_and_written_back(cast, directory, tmp_path):
    import_file(COMPANIES)
    out, _ = import_file(EXTRA)
    assert "contacts: 2 created, 0 updated, 0 unchanged" in out
    grace = person("grace.lee@harborhouse.example.org")
    assert grace.title == "Admissions Director"
    assert grace.other_emails == ["g.lee@harborhouse.example.org", "grace@lee.example.net"]
    assert phones(grace) == ["+13125550161", "+17735550162"]
    link = HubspotLink.objects.get(object_type="contact", hubspot_id="601")
    assert link.associations == ["9001", "9003"]
    assert link.extra == [
        ["Create Date", "2024-10-01 12:00"],
        ["Preferred Language", "Korean"],
        ["Referral Source Notes", "Met at the county recovery fair"],
    ]
    assert relationship(cast.agency_a, "Harbor House").stage == Stage.TRUST  # Customer
    assert relationship(cast.agency_a, "Lakeview Counseling").stage == Stage.LASTING  # Evangelist
    export_file(tmp_path / "out.csv")
    header, *rows = (tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines()
    assert header.endswith('"Lifecycle Stage","Preferred Language","Referral Source Notes"')
    assert rows[0].endswith('"Customer","Korean","Met at the county recovery fair"')
    assert (
        '"Admissions Director","+17735550162",'
        '"g.lee@harborhouse.example.org; grace@lee.example.net","9001;9003"' in rows[0]
    )


def test_a_mapping_names_a_files_own_headers(cast, directory, tmp_path):
    sheet = tmp_path / "people.csv"
    sheet.write_text(
        "Vorname,Nachname,Mail,Firma\nLena,Vogel,lena@oakstreet.example.org,Oak Street Clinic\n"
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {"first_name": "Vorname", "last_name": "Nachname", "email": "Mail", "company": "Firma"}
        )
    )
    with pytest.raises(CommandError, match="is not a HubSpot contacts or companies export"):
        import_file(sheet)
    out, err = import_file(sheet, "--kind", "contacts", "--mapping", mapping)
    assert (
        "contacts: 1 created" in out
        and "row 2, Record ID: no Record ID: matched by e-mail or name" in err
    )
    out, _ = import_file(sheet, "--kind", "contacts", "--mapping", mapping)
    assert "contacts: 0 created, 0 updated, 1 unchanged" in out
    assert person("lena@oakstreet.example.org").organization == directory["oak"]


def test_a_file_of_the_other_kind_is_refused_in_one_line(cast, directory):
    before = state(cast.network)
    with pytest.raises(CommandError) as refused:
        import_file(COMPANIES, "--kind", "contacts")
    message = str(refused.value)
    assert message == (
        "HubSpot import failed: companies.csv, row 1: has no Email or First Name or Last Name "
        "column: not a HubSpot contacts export (check --kind, or name the columns with --mapping)"
    )
    assert state(cast.network) == before


# --- bad input: clear errors, nothing half-done ------------------------------------------------


DIRTY_CAUSES = {
    ("error", "Phone Number", "… is not a valid phone number (check the area code and length).", 2),
    (
        "error",
        "Email",
        "… is not an e-mail address: The part after the @-sign contains invalid characters: ….",
        1,
    ),
    ("error", "Email", "… is not an e-mail address: An email address must have an @-sign.", 1),
    (
        "error",
        "Last Activity Date",
        "… is not a date or time Referloop reads (e.g. 2024-03-31, 3/31/2024 14:00)",
        1,
    ),
    ("error", "", "has no name and no e-mail: nothing says who this is", 1),
    (
        "error",
        "",
        "has no associated company (Primary Associated Company ID, Associated Company or "
        "Company Name): a partner person works at an organization",
        1,
    ),
    ("error", "Phone Number", "… is not a phone number.", 1),
    (
        "default",
        "Lead Status",
        "no lead status or lifecycle stage with a clear meaning: reach out",
        1,
    ),
}


def test_a_dirty_file_is_refused_with_every_problem_and_writes_nothing(cast, directory, tmp_path):
    before = state(cast.network)
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as refused:
        call_command(
            "import",
            "hubspot",
            str(DIRTY),
            "--agency",
            "alpha",
            "--report",
            str(tmp_path / "r.json"),
            stdout=out,
            stderr=err,
        )
    assert str(refused.value) == (
        "HubSpot import failed with 8 error(s); nothing was written (fix the rows above, or pass "
        "--partial to import the valid rows)"
    )
    assert "Nothing was written." in out.getvalue()
    assert "row 3, Email: 'ben.ford@@harborhouse' is not an e-mail address" in err.getvalue()
    assert "2 × contacts-dirty.csv, Phone Number: … is not a valid phone number" in err.getvalue()
    assert state(cast.network) == before
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["totals"] == {
        "read": 7,
        "imported": 0,
        "skipped": 7,
        "defaulted": 1,
        "errors": 8,
        "warnings": 0,
    }
    assert {
        (p["row"], p["field"], p["value"]) for p in saved["problems"] if p["severity"] == "error"
    } == {
        (3, "Email", "ben.ford@@harborhouse"),
        (4, "Email", "cleo at oakstreet.example.org"),
        (4, "Phone Number", "555-1234"),
        (5, "Phone Number", "(217) 555-01"),
        (5, "Last Activity Date", "next week"),
        (6, "", ""),
        (7, "", ""),
        (8, "Phone Number", "not a number"),
    }
    assert causes(report_of(DIRTY, cast.agency_a)) == DIRTY_CAUSES


def test_partial_imports_the_valid_rows_and_still_fails(cast, directory):
    out = StringIO()
    with pytest.raises(CommandError, match="8 error\\(s\\): those rows were left out"):
        call_command(
            "import",
            "hubspot",
            str(DIRTY),
            "--agency",
            "alpha",
            "--partial",
            stdout=out,
            stderr=StringIO(),
        )
    assert "contacts: 1 created, 0 updated, 0 unchanged, 6 rejected" in out.getvalue()
    assert "Read 7 · imported 1 · skipped 6" in out.getvalue()
    assert list(
        HubspotLink.objects.filter(object_type="contact").values_list("hubspot_id", flat=True)
    ) == ["901"]
    assert phones(person("ana.gomez@harborhouse.example.org")) == ["+13125550191"]


def test_a_dry_run_counts_everything_and_changes_nothing(cast, directory):
    before = state(cast.network)
    out, _ = import_file(DEFAULT_VIEW, "--dry-run")
    assert "HubSpot import from contacts-default-view.csv (dry run)" in out
    assert "contacts: 6 created, 0 updated, 0 unchanged" in out
    assert "Dry run: nothing was changed." in out
    assert "Read 6 · would import 6 · skipped 0" in out
    assert state(cast.network) == before


# --- round trip and tenants ----------------------------------------------------------------------


def test_import_export_import_is_stable(cast, directory, tmp_path):
    for path in (COMPANIES, DEFAULT_VIEW, EXTRA, FIXTURES / "contacts-cp1252.csv"):
        import_file(path)
    out, _ = export_file(tmp_path / "contacts-1.csv")
    assert (
        out.strip()
        == f"Exported 10 HubSpot contacts of Alpha Recovery to {tmp_path / 'contacts-1.csv'}."
    )
    export_file(tmp_path / "companies-1.csv", "--kind", "companies")
    before = state(cast.network)
    out, _ = import_file(tmp_path / "contacts-1.csv")
    assert "contacts: 0 created, 0 updated, 10 unchanged" in out
    out, _ = import_file(tmp_path / "companies-1.csv")
    assert "companies: 0 created, 0 updated, 3 unchanged" in out
    assert state(cast.network) == before
    export_file(tmp_path / "contacts-2.csv")
    export_file(tmp_path / "companies-2.csv", "--kind", "companies")
    assert (tmp_path / "contacts-1.csv").read_bytes() == (tmp_path / "contacts-2.csv").read_bytes()
    assert (tmp_path / "companies-1.csv").read_bytes() == (
        tmp_path / "companies-2.csv"
    ).read_bytes()
    lines = (tmp_path / "contacts-1.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[1] == (
        '"501","Maya","Okafor","maya.okafor@harborhouse.example.org","+13125550141",'
        '"coordinator@alpha.example.org","9001","2025-06-25 09:10","","Marketing contact",'
        '"2024-11-02 09:20","Harbor House","","","","","Harbor House","Customer","",""'
    )


def test_another_agencys_import_never_touches_this_ones_relationships(cast, directory):
    import_file(COMPANIES)
    import_file(DEFAULT_VIEW)
    mine = state(cast.network)["relationships"]
    out, err = import_file(DEFAULT_VIEW, agency="bravo")
    # Bravo's own relationships; its owners are its members (none of Alpha's names match).
    assert "contacts: 6 created, 0 updated, 0 unchanged" in out
    assert "4 × contacts-default-view.csv, Contact owner: … is not an active member" in err
    theirs = Relationship.objects.filter(agency=cast.agency_b)
    assert theirs.count() == 4 and not theirs.exclude(owner=None).exists()
    assert [r for r in state(cast.network)["relationships"] if r[0] == cast.agency_a.pk] == mine
    # The people are the network's: found by e-mail, not made twice.
    assert Contact.objects.filter(email__iexact="maya.okafor@harborhouse.example.org").count() == 1
    assert HubspotLink.objects.filter(agency=cast.agency_b, object_type="contact").count() == 6
    out, _ = import_file(DEFAULT_VIEW)
    assert "contacts: 0 created, 0 updated, 6 unchanged" in out


def test_an_unknown_agency_is_one_line(cast):
    with pytest.raises(CommandError, match="agency: no agency 'delta'"):
        import_file(DEFAULT_VIEW, agency="delta")


# --- the real console script ---------------------------------------------------------------------


@pytest.fixture
def cli_agency(django_db_setup, django_db_blocker, tmp_path):
    """The real `referloop`, pointed at this run's database, with one committed agency."""
    with django_db_blocker.unblock():
        network = Network.objects.create(name="CLI", slug="cli-hubspot")
        agency = Agency.objects.create(network=network, name="CLI Agency", slug="cli-hubspot")
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{settings['NAME']}"
    else:
        login = quote(settings["USER"] or "", safe="")
        if settings["PASSWORD"]:
            login += ":" + quote(settings["PASSWORD"], safe="")
        url = f"postgres://{login}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    yield child_env(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="referloop.settings")
    with django_db_blocker.unblock():
        written = HubspotLink.objects.filter(agency=agency).count()
        agency.delete()
        network.delete()
    assert written == 0


def test_cli_errors_exit_non_zero_in_one_line_without_a_traceback(cli_agency, tmp_path):
    def referloop(path):
        return subprocess.run(
            [REFERLOOP, "import", "hubspot", str(path), "--agency", "cli-hubspot"],
            env=cli_agency,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    result = referloop(DIRTY)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "CommandError: HubSpot import failed with 8 error(s); nothing was written (fix the rows "
        "above, or pass --partial to import the valid rows)"
    )
    assert "Nothing was written." in result.stdout
    binary = tmp_path / "contacts.csv"
    shutil.copy(Path(sys.executable), binary)
    result = referloop(binary)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "CommandError: HubSpot import failed: contacts.csv: is not a text file (it holds binary "
        "data): expected CSV or XLSX"
    )
