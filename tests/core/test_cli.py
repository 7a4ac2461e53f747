"""The `referloop` command line: its logic in-process through call_command, and a few real runs of
the installed console script (one-line errors, no tracebacks, the token alone on stdout)."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from referloop.core.models import Agency, ApiToken, Membership, Network, User
from referloop.core.permissions import Role
from tests.conftest import child_env

GOOD_PASSWORD = "plum kettle orbit sunrise"
REFERLOOP = str(Path(sys.executable).with_name("referloop"))


def run(*args, **kwargs) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **kwargs)
    return out.getvalue()


# --- createagency --------------------------------------------------------------------------------


def test_createagency_creates_the_agency_and_its_network(db):
    output = run(
        "createagency",
        "--name",
        "Delta  House",
        "--slug",
        "delta",
        "--network",
        "east",
        "--timezone",
        "America/Chicago",
    )
    agency = Agency.objects.get(slug="delta")
    assert agency.name == "Delta House"
    assert agency.time_zone == "America/Chicago"
    assert agency.network.slug == "east"
    assert agency.network.name == "East"
    assert "delta" in output


def test_createagency_reuses_an_existing_network(cast):
    run("createagency", "--name", "Delta", "--slug", "delta", "--network", "north")
    assert Agency.objects.get(slug="delta").network == cast.network
    assert Network.objects.count() == 2


def test_createagency_defaults(db, settings):
    run("createagency", "--name", "Delta", "--slug", "delta")
    agency = Agency.objects.get(slug="delta")
    assert agency.network.slug == "default"
    assert agency.time_zone == settings.DEFAULT_AGENCY_TIME_ZONE


def test_createagency_refuses_a_duplicate_slug(cast):
    with pytest.raises(CommandError, match="slug"):
        run("createagency", "--name", "Another Alpha", "--slug", "alpha")
    assert Agency.objects.get(slug="alpha").name == "Alpha Recovery"


def test_createagency_refuses_a_bad_time_zone_and_creates_nothing(db):
    with pytest.raises(CommandError, match="time zone"):
        run(
            "createagency",
            "--name",
            "Delta",
            "--slug",
            "delta",
            "--network",
            "east",
            "--timezone",
            "Mars/Base",
        )
    assert not Agency.objects.exists()
    assert not Network.objects.exists()  # the new network is not left behind


@pytest.mark.parametrize("slug", ["Bad Slug", "ümlaut", "x" * 61])
def test_createagency_refuses_a_bad_slug(db, slug):
    with pytest.raises(CommandError, match="slug"):
        run("createagency", "--name", "Delta", "--slug", slug)
    assert not Agency.objects.exists()
    assert not Network.objects.exists()


def test_createagency_refuses_an_empty_name(db):
    with pytest.raises(CommandError, match="name"):
        run("createagency", "--name", "   ", "--slug", "delta")
    assert not Agency.objects.exists()


# --- createuser ----------------------------------------------------------------------------------


def test_createuser_creates_user_and_membership(cast, monkeypatch):
    monkeypatch.setenv("REFERLOOP_PASSWORD", GOOD_PASSWORD)
    output = run(
        "createuser",
        "--email",
        "New.Person@Alpha.example.org",
        "--agency",
        "alpha",
        "--role",
        "intake",
        "--name",
        "New Person",
    )
    user = User.objects.get(email="new.person@alpha.example.org")
    assert user.full_name == "New Person"
    assert user.check_password(GOOD_PASSWORD)
    membership = Membership.objects.get(user=user)
    assert membership.agency == cast.agency_a
    assert membership.role == Role.INTAKE
    assert "new.person@alpha.example.org" in output
    # And the account works for signing in.
    response = Client().post("/login/", {"email": user.email, "password": GOOD_PASSWORD})
    assert response.status_code == 302


def test_createuser_refuses_an_unknown_agency(cast, monkeypatch):
    monkeypatch.setenv("REFERLOOP_PASSWORD", GOOD_PASSWORD)
    with pytest.raises(CommandError, match="nowhere"):
        run("createuser", "--email", "new@example.org", "--agency", "nowhere", "--role", "intake")
    assert not User.objects.filter(email="new@example.org").exists()


@pytest.mark.parametrize("password", ["short", "password1234"])
def test_createuser_refuses_a_weak_password_and_creates_nothing(cast, monkeypatch, password):
    monkeypatch.setenv("REFERLOOP_PASSWORD", password)
    with pytest.raises(CommandError, match="password"):
        run("createuser", "--email", "new@example.org", "--agency", "alpha", "--role", "intake")
    assert not User.objects.filter(email="new@example.org").exists()
    assert Membership.objects.count() == 7


def test_createuser_refuses_an_existing_email(cast, monkeypatch):
    monkeypatch.setenv("REFERLOOP_PASSWORD", GOOD_PASSWORD)
    with pytest.raises(CommandError, match="already exists"):
        run(
            "createuser",
            "--email",
            cast.admin_b.email.upper(),
            "--agency",
            "alpha",
            "--role",
            "intake",
        )
    assert not Membership.objects.filter(user=cast.admin_b, agency=cast.agency_a).exists()


def test_createuser_refuses_an_unknown_role(cast, monkeypatch):
    monkeypatch.setenv("REFERLOOP_PASSWORD", GOOD_PASSWORD)
    with pytest.raises(CommandError, match="invalid choice"):
        run("createuser", "--email", "new@example.org", "--agency", "alpha", "--role", "owner")
    assert not User.objects.filter(email="new@example.org").exists()


def test_createuser_without_password_or_terminal_says_so(cast, monkeypatch):
    monkeypatch.delenv("REFERLOOP_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", StringIO())
    with pytest.raises(CommandError, match="REFERLOOP_PASSWORD"):
        run("createuser", "--email", "new@example.org", "--agency", "alpha", "--role", "intake")
    assert not User.objects.filter(email="new@example.org").exists()


# --- token create --------------------------------------------------------------------------------


def test_token_create_prints_only_a_working_token(cast):
    output = run("token", "create", "--user", cast.coordinator.email)
    lines = output.splitlines()
    assert len(lines) == 1
    raw = lines[0]
    assert raw.startswith("rl_")
    assert ApiToken.objects.filter(user=cast.coordinator, agency=cast.agency_a).count() == 1
    response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response.json()["email"] == cast.coordinator.email


def test_token_create_needs_agency_for_a_user_of_several(cast):
    Membership.objects.create(user=cast.coordinator, agency=cast.agency_b, role=Role.INTAKE)
    with pytest.raises(CommandError, match="--agency"):
        run("token", "create", "--user", cast.coordinator.email)
    assert not ApiToken.objects.exists()

    raw = run("token", "create", "--user", cast.coordinator.email, "--agency", "bravo").strip()
    response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.json()["agency"]["slug"] == "bravo"
    assert response.json()["role"] == "intake"


def test_token_create_refuses_an_agency_the_user_is_not_in(cast):
    with pytest.raises(CommandError, match="charlie"):
        run("token", "create", "--user", cast.coordinator.email, "--agency", "charlie")
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("email", ["nobody@example.org", "coordinator@alpha.example.org"])
def test_token_create_refuses_unknown_or_inactive_users(cast, email):
    User.objects.filter(email="coordinator@alpha.example.org").update(is_active=False)
    with pytest.raises(CommandError, match="no active user"):
        run("token", "create", "--user", email)
    assert not ApiToken.objects.exists()


# --- the real console script ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    """A fresh installation in a temp dir, migrated once by the real `referloop migrate`."""
    home = tmp_path_factory.mktemp("cli")
    env = child_env(
        DATABASE_URL=f"sqlite:///{home / 'x.sqlite3'}",
        REFERLOOP_VAR_DIR=str(home),
        DJANGO_SETTINGS_MODULE="referloop.settings",
    )
    result = subprocess.run(
        [REFERLOOP, "migrate", "-v", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return env


def referloop(env, *args):
    return subprocess.run(
        [REFERLOOP, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_error_is_one_line_without_traceback(cli_env):
    result = referloop(cli_env, "createagency", "--name", "Delta", "--slug", "Bad Slug")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "slug" in lines[0]


def test_cli_report_refuses_an_unknown_agency_and_a_reversed_period(cli_env):
    unknown = referloop(cli_env, "report", "metrics", "--agency", "nobody")
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr
    assert unknown.stderr.strip() == "CommandError: No agency with the slug 'nobody'."
    referloop(cli_env, "createagency", "--name", "Echo", "--slug", "echo")
    reversed_ = referloop(
        cli_env,
        "report",
        "metrics",
        "--agency",
        "echo",
        "--from",
        "2026-03-08",
        "--to",
        "2026-03-02",
    )
    assert reversed_.returncode != 0 and "Traceback" not in reversed_.stderr
    assert "--from: The period starts after it ends" in reversed_.stderr
    table = referloop(cli_env, "report", "metrics", "--agency", "echo")
    assert (
        table.returncode == 0 and "Receipt confirmed" in table.stdout and "no data" in table.stdout
    )


def test_cli_bad_arguments_exit_2_with_argparse_message(cli_env):
    result = referloop(
        cli_env, "createuser", "--email", "a@example.org", "--agency", "x", "--role", "bogus"
    )
    assert result.returncode == 2
    assert "invalid choice: 'bogus'" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_check_passes(cli_env):
    result = referloop(cli_env, "check")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_cli_demo_then_token(cli_env):
    demo = referloop(cli_env, "demo")
    assert demo.returncode == 0, demo.stderr
    assert "coordinator@harbor-house.example.org" in demo.stdout

    result = referloop(cli_env, "token", "create", "--user", "coordinator@harbor-house.example.org")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("rl_")
    assert len(lines[0]) > 40
