"""`referloop import KIND PATH` / `referloop export KIND PATH` with KIND hsds: summaries, the
network choice, all-or-nothing and --partial, one-line errors with the per-row report, and a real
console-script run that proves there is no traceback."""

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from referloop.core.models import Network
from referloop.directory.models import Service
from tests.conftest import child_env
from tests.directory.hsds_support import FIXTURES, copy_fixture, make_network

REFERLOOP = str(Path(sys.executable).with_name("referloop"))
FIXTURE = FIXTURES / "hsds-1.1.1"


def run(*args, stderr=None, **options) -> tuple[str, str]:
    out, err = StringIO(), stderr or StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def _broken(tmp_path) -> Path:
    folder = copy_fixture("hsds-1.1.1", tmp_path)
    services = folder / "services.csv"
    text = services.read_text(encoding="utf-8").replace("temporarily closed", "open")
    services.write_text(text, encoding="utf-8")
    return folder


def test_import_prints_the_summary_and_a_second_run_changes_nothing(db):
    make_network()
    out, _ = run("import", "hsds", str(FIXTURE))
    assert "Detected HSDS 1.1 (from services_taxonomy.csv" in out
    assert "services: 3 created, 0 updated, 0 unchanged" in out
    assert "Not imported: holiday_schedules" in out
    out, _ = run("import", "hsds", str(FIXTURE))
    assert "services: 0 created, 0 updated, 3 unchanged" in out
    assert Service.objects.count() == 3


def test_the_network_is_the_only_one_or_must_be_named(db):
    with pytest.raises(CommandError, match="no network yet"):
        run("import", "hsds", str(FIXTURE))
    make_network("north")
    make_network("south")
    with pytest.raises(CommandError, match=r"several networks \(north, south\); pass --network"):
        run("import", "hsds", str(FIXTURE))
    with pytest.raises(CommandError, match="no network 'east' \\(there are: north, south\\)"):
        run("import", "hsds", str(FIXTURE), "--network", "east")
    run("import", "hsds", str(FIXTURE), "--network", "south")
    assert set(Service.objects.values_list("network__slug", flat=True)) == {"south"}
    run("import", "hsds", str(FIXTURE), network="north")  # as a keyword, too
    assert Service.objects.filter(network__slug="north").count() == 3


def test_errors_print_the_row_report_and_write_nothing(db, tmp_path):
    make_network()
    err = StringIO()
    with pytest.raises(CommandError, match="failed with 1 error\\(s\\); nothing was written"):
        run("import", "hsds", str(_broken(tmp_path)), stderr=err)
    assert "services.csv, row 3, status: unknown status 'open'" in err.getvalue()
    assert not Service.objects.exists()


def test_partial_imports_the_valid_rows_and_still_fails(db, tmp_path):
    make_network()
    err = StringIO()
    with pytest.raises(CommandError, match="the valid rows were imported"):
        run("import", "hsds", str(_broken(tmp_path)), "--partial", stderr=err)
    assert "services.csv, row 3, status" in err.getvalue()
    assert Service.objects.count() == 2


def test_unknown_kind_names_the_kinds(db):
    with pytest.raises(
        CommandError, match=r"invalid choice: 'salesforce' \(choose from [^)]*'?hsds'?"
    ):
        run("import", "salesforce", "x.json")
    with pytest.raises(CommandError, match="invalid choice"):
        run("export", "salesforce", "x.json")


def test_export_writes_json_or_a_datapackage(db, tmp_path):
    make_network()
    run("import", "hsds", str(FIXTURE))
    out, _ = run("export", "hsds", str(tmp_path / "out" / "directory.json"))
    assert "Exported 3 services" in out
    document = json.loads((tmp_path / "out" / "directory.json").read_text(encoding="utf-8"))
    assert {item["name"] for item in document} == {
        "Women's Recovery House",
        "Men's Recovery House",
        "Job Readiness Workshop",
    }
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["directory.json"]  # no temp file
    out, _ = run("export", "hsds", str(tmp_path / "package"))
    assert "HSDS 3.0 datapackage" in out
    assert (tmp_path / "package" / "datapackage.json").is_file()
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    with pytest.raises(CommandError, match="is a file"):
        run("export", "hsds", str(tmp_path / "a-file"))
    with pytest.raises(CommandError, match="give the path to write"):
        run("export", "hsds", " ")  # not the current folder by accident


class FakeTerminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_is_drawn_only_on_a_terminal(db):
    make_network()
    _, plain = run("import", "hsds", str(FIXTURE))
    assert "writing" not in plain
    _, drawn = run("import", "hsds", str(FIXTURE), stderr=FakeTerminal())
    assert "writing services" in drawn or "refreshing" in drawn
    assert "committing" in drawn  # the last stage, while the database checks the links


# --- the real console script ---------------------------------------------------------------------


@pytest.fixture
def cli_env(django_db_setup, django_db_blocker):
    """The real `referloop` command, pointed at this test run's database, with one committed
    network the child process can see (removed afterwards; cheaper than a transactional flush)."""
    with django_db_blocker.unblock():
        network = Network.objects.create(name="CLI", slug="cli-subprocess")
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
        written = Service.objects.filter(network=network).count()
        network.delete()
    assert written == 0


def test_cli_import_errors_exit_non_zero_with_report_and_no_traceback(cli_env, tmp_path):
    result = subprocess.run(
        [REFERLOOP, "import", "hsds", str(_broken(tmp_path)), "--network", "cli-subprocess"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("CommandError: HSDS import failed with 1 error(s)")
    assert any(line.startswith("  services.csv, row 3, status: unknown status") for line in lines)
    assert "Nothing was written." in result.stdout


def test_a_terminal_sees_a_progress_bar_and_a_log_does_not(cli_env, tmp_path):
    from tests.directory.dirty_hsds import Dirt, write_dirty_zip

    path = write_dirty_zip(tmp_path / "county.zip", Dirt(services=3000, orphans=0))
    command = [REFERLOOP, "import", "hsds", str(path), "--network", "cli-subprocess", "--dry-run"]
    primary, secondary = pty.openpty()
    # A terminal 100 columns wide (a new pseudo-terminal has none, and tqdm draws into none).
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    with subprocess.Popen(
        command, env=cli_env, stdout=subprocess.PIPE, stderr=secondary, stdin=subprocess.DEVNULL
    ) as child:
        os.close(secondary)
        terminal = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            terminal += chunk
        out = child.stdout.read().decode()
    os.close(primary)
    assert child.returncode == 0, terminal.decode(errors="replace")
    shown = terminal.decode(errors="replace")
    assert "checking" in shown and "row" in shown  # tqdm's bar: stage, count, unit
    assert "Dry run: nothing was changed." in out
    logged = subprocess.run(command, env=cli_env, capture_output=True, text=True, check=True)
    assert "checking" not in logged.stderr  # no bar where no one watches
