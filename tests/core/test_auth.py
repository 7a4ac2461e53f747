"""Sign-in, throttling, session timeouts, sign-out and password rules."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from referloop.core import services
from referloop.core.errors import DomainError
from referloop.core.models import AuditEvent, LoginThrottle, User
from tests.conftest import PASSWORD, client_for

LOGIN = "/login/"
WORKLIST = "/worklist/"


def sign_in(client, email, password=PASSWORD, **extra):
    return client.post(LOGIN, {"email": email, "password": password, **extra})


def fail_until_locked(client, email):
    responses = [
        sign_in(client, email, "wrong password!!") for _ in range(settings.LOGIN_FAILURE_LIMIT)
    ]
    return responses


def session_key(client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


# --- the login page ------------------------------------------------------------------------------


def test_login_page_renders(db):
    response = Client().get(LOGIN)
    assert response.status_code == 200
    assert b'name="email"' in response.content
    assert b'name="password"' in response.content


def test_correct_login_redirects_to_worklist_and_is_audited(cast):
    client = Client(REMOTE_ADDR="192.0.2.10")
    response = sign_in(client, cast.coordinator.email)
    assert response.status_code == 302
    assert response["Location"] == WORKLIST
    assert client.get(WORKLIST).status_code == 200
    event = AuditEvent.objects.get(action="login")
    assert event.user_id == cast.coordinator.pk
    assert event.outcome == AuditEvent.Outcome.OK
    assert event.ip == "192.0.2.10"


def test_login_email_is_case_insensitive(cast):
    response = sign_in(Client(), cast.coordinator.email.upper())
    assert response.status_code == 302
    assert response["Location"] == WORKLIST


def test_wrong_password_is_refused_with_a_message_and_audited(cast):
    client = Client()
    response = sign_in(client, cast.coordinator.email, "not the password")
    assert response.status_code == 400
    assert b"not correct" in response.content
    event = AuditEvent.objects.get(action="login_failed")
    assert event.outcome == AuditEvent.Outcome.DENIED
    assert event.detail["email"] == cast.coordinator.email
    # Still anonymous: a protected page sends them to the login page.
    assert client.get(WORKLIST)["Location"].startswith(LOGIN)


def test_unknown_account_gets_the_same_message(cast):
    response = sign_in(Client(), "nobody@alpha.example.org")
    assert response.status_code == 400
    assert b"not correct" in response.content


# --- throttling ----------------------------------------------------------------------------------


def test_repeated_failures_lock_the_account_from_that_address(cast):
    client = Client(REMOTE_ADDR="198.51.100.7")
    responses = fail_until_locked(client, cast.coordinator.email)
    assert all(r.status_code == 400 for r in responses)
    assert all(b"not correct" in r.content for r in responses[:-1])
    assert b"locked" in responses[-1].content
    assert b"locked" not in responses[-2].content

    # Now even the right password is refused, and the form says why.
    response = sign_in(client, cast.coordinator.email)
    assert response.status_code == 400
    assert b"locked" in response.content
    assert b"minute" in response.content
    assert client.get(WORKLIST)["Location"].startswith(LOGIN)
    refused = AuditEvent.objects.get(action="login_refused")
    assert refused.outcome == AuditEvent.Outcome.DENIED
    assert refused.detail["reason"] == "locked"


def test_lock_is_per_address(cast):
    fail_until_locked(Client(REMOTE_ADDR="198.51.100.7"), cast.coordinator.email)
    response = sign_in(Client(REMOTE_ADDR="203.0.113.9"), cast.coordinator.email)
    assert response.status_code == 302
    assert response["Location"] == WORKLIST


def test_lock_is_per_account(cast):
    fail_until_locked(Client(REMOTE_ADDR="198.51.100.7"), cast.coordinator.email)
    response = sign_in(Client(REMOTE_ADDR="198.51.100.7"), cast.auditor.email)
    assert response.status_code == 302


def test_lock_ends_after_the_lockout_period(cast):
    client = Client(REMOTE_ADDR="198.51.100.7")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        fail_until_locked(client, cast.coordinator.email)
        traveller.shift(settings.LOGIN_LOCKOUT - timedelta(minutes=1))
        assert b"locked" in sign_in(client, cast.coordinator.email).content
        traveller.shift(timedelta(minutes=1, seconds=1))
        response = sign_in(client, cast.coordinator.email)
    assert response.status_code == 302
    assert response["Location"] == WORKLIST
    # A successful sign-in forgets the failures.
    assert not LoginThrottle.objects.exists()


def test_successful_login_resets_the_failure_count(cast):
    client = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        sign_in(client, cast.coordinator.email, "wrong password!!")
    assert sign_in(client, cast.coordinator.email).status_code == 302
    response = sign_in(Client(REMOTE_ADDR="198.51.100.7"), cast.coordinator.email, "wrong again!!")
    assert b"not correct" in response.content
    assert b"locked" not in response.content


def test_lock_enqueues_a_notification_to_the_account_holder(
    cast, django_capture_on_commit_callbacks
):
    client = Client(REMOTE_ADDR="198.51.100.7")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
            sign_in(client, cast.coordinator.email, "wrong password!!")
    assert not DBTaskResult.objects.exists()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sign_in(client, cast.coordinator.email, "wrong password!!")
    assert len(callbacks) == 1
    task = DBTaskResult.objects.get()
    assert task.task_path.endswith("notify_account_locked")
    kwargs = task.args_kwargs["kwargs"]
    assert kwargs["email"] == cast.coordinator.email
    assert kwargs["ip"] == "198.51.100.7"


# --- where to go after signing in ----------------------------------------------------------------


def test_next_on_the_same_host_is_followed(cast):
    response = sign_in(Client(), cast.admin_a.email, next="/settings/agency/")
    assert response.status_code == 302
    assert response["Location"] == "/settings/agency/"


@pytest.mark.parametrize(
    "target", ["https://evil.example.com/", "//evil.example.com/path", "http://testserver.evil/"]
)
def test_next_to_another_host_is_refused(cast, target):
    response = sign_in(Client(), cast.coordinator.email, next=target)
    assert response.status_code == 302
    assert response["Location"] == WORKLIST


def test_login_page_does_not_echo_a_foreign_next(db):
    response = Client().get(LOGIN, {"next": "https://evil.example.com/"})
    assert b"evil.example.com" not in response.content


# --- session timeouts ----------------------------------------------------------------------------


def test_idle_session_is_ended_server_side(cast):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = client_for(cast.coordinator)
        assert client.get(WORKLIST).status_code == 200
        old_key = session_key(client)
        assert Session.objects.filter(session_key=old_key).exists()

        traveller.shift(timedelta(minutes=16))
        response = client.get(WORKLIST)
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)
        assert not Session.objects.filter(session_key=old_key).exists()
        login_page = client.get(response["Location"])
    assert b"15 minutes without activity" in login_page.content


def test_idle_timeout_is_not_reached_at_14_minutes(cast):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = client_for(cast.coordinator)
        assert client.get(WORKLIST).status_code == 200
        traveller.shift(timedelta(minutes=14))
        assert client.get(WORKLIST).status_code == 200


def test_activity_keeps_the_session_alive(cast):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = client_for(cast.coordinator)
        for _ in range(5):  # 40 minutes in all, never 15 idle
            assert client.get(WORKLIST).status_code == 200
            traveller.shift(timedelta(minutes=10))
        assert client.get(WORKLIST).status_code == 200


def test_absolute_timeout_ends_even_an_active_session(cast):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = client_for(cast.coordinator)
        assert client.get(WORKLIST).status_code == 200
        old_key = session_key(client)
        elapsed = timedelta()
        step = timedelta(minutes=14)
        while elapsed + step < settings.SESSION_ABSOLUTE_TIMEOUT:
            traveller.shift(step)
            elapsed += step
            assert client.get(WORKLIST).status_code == 200, f"signed out after {elapsed}"
        traveller.shift(step)
        response = client.get(WORKLIST)
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)
        assert not Session.objects.filter(session_key=old_key).exists()
        login_page = client.get(response["Location"])
    assert b"12-hour limit" in login_page.content


def test_absolute_timeout_counts_from_the_real_login(cast):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = Client()
        sign_in(client, cast.coordinator.email)
        traveller.shift(timedelta(hours=12, minutes=1))
        # Idle for 12 h too, but the point is: nothing extended the session past its limit.
        response = client.get(WORKLIST)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


# --- sign-out and deactivation -------------------------------------------------------------------


def test_logout_is_post_only(cast):
    client = client_for(cast.coordinator)
    assert client.get("/logout/").status_code == 405
    assert client.get(WORKLIST).status_code == 200  # still signed in


def test_logout_kills_the_session_so_a_replayed_cookie_is_worthless(cast):
    client = client_for(cast.coordinator)
    assert client.get(WORKLIST).status_code == 200
    old_key = session_key(client)

    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert not Session.objects.filter(session_key=old_key).exists()
    assert AuditEvent.objects.filter(action="logout", user=cast.coordinator).exists()

    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_key
    response = replay.get(WORKLIST)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_deactivated_user_is_signed_out_on_the_next_request(cast):
    client = client_for(cast.coordinator)
    assert client.get(WORKLIST).status_code == 200
    User.objects.filter(pk=cast.coordinator.pk).update(is_active=False)
    response = client.get(WORKLIST)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_deactivated_user_cannot_sign_in(cast):
    User.objects.filter(pk=cast.coordinator.pk).update(is_active=False)
    response = sign_in(Client(), cast.coordinator.email)
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="login").exists()


# --- passwords -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "complaint"),
    [
        ("short", "too short"),
        ("password1234", "too common"),
        ("918273645512", "entirely numeric"),
        ("x" * 129, "too long"),
    ],
)
def test_weak_passwords_are_refused(db, password, complaint):
    with pytest.raises(DomainError) as caught:
        services.user_create(email="new@alpha.example.org", password=password)
    assert caught.value.field == "password"
    assert complaint in caught.value.message
    assert not User.objects.filter(email="new@alpha.example.org").exists()


def test_long_passphrase_is_accepted(db):
    user = services.user_create(
        email="New@Alpha.example.org",
        password="plum kettle orbit sunrise",
        full_name="  New   Person ",
    )
    assert user.email == "new@alpha.example.org"
    assert user.full_name == "New Person"
    assert user.check_password("plum kettle orbit sunrise")


def test_passwords_do_not_expire(db):
    user = services.user_create(email="new@alpha.example.org", password="plum kettle orbit sunrise")
    with time_machine.travel(timezone.now() + timedelta(days=3 * 365), tick=False):
        response = sign_in(Client(), user.email, "plum kettle orbit sunrise")
    assert response.status_code == 302


def test_real_settings_hash_with_argon2_first():
    import referloop.settings as real_settings

    assert real_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    hasher = Argon2PasswordHasher()
    encoded = make_password("plum kettle orbit sunrise", hasher=hasher)
    assert encoded.startswith("argon2$")
    assert hasher.verify("plum kettle orbit sunrise", encoded)
    assert not hasher.verify("plum kettle orbit sunset", encoded)


def test_user_create_stores_an_argon2_hash_with_the_real_hashers(db, settings):
    import referloop.settings as real_settings

    settings.PASSWORD_HASHERS = real_settings.PASSWORD_HASHERS
    user = services.user_create(email="new@alpha.example.org", password="plum kettle orbit sunrise")
    assert user.password.startswith("argon2$")
    assert "plum" not in user.password
