"""The background worker: compare-and-set sweep claims, queued tasks run exactly once across
concurrent workers, and a task that sends real e-mail through a real SMTP server."""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from referloop.core.models import AuditEvent, SweepState
from referloop.core.tasks import notify_account_locked
from referloop.core.worker import (
    SWEEP_LEASE,
    run_due_sweeps,
    run_queued_tasks,
    sweep_claim,
    sweep_release,
)
from tests.core.tasks_for_tests import RUN_ACTION, record_run
from tests.smtp import smtp_server  # noqa: F401

NOW = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)
SUCCESSFUL = "SUCCESSFUL"


def run_together(*functions):
    """Runs each function in its own thread, released at the same instant by a barrier.
    Returns their results in order; re-raises the first exception a thread hit."""
    barrier = threading.Barrier(len(functions))
    results: list = [None] * len(functions)
    errors: list[BaseException] = []

    def runner(index, function):
        try:
            barrier.wait(timeout=30)
            results[index] = function()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection: don't leak it

    threads = [
        threading.Thread(target=runner, args=(index, function))
        for index, function in enumerate(functions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a worker thread hung"
    if errors:
        raise errors[0]
    return results


# --- sweep claims ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_two_concurrent_claims_wins():
    for round_number in range(25):
        name = f"tests.sweep.{round_number}"  # a new row each round: get_or_create races too
        won = run_together(
            lambda name=name: sweep_claim(name=name, worker="worker-1"),
            lambda name=name: sweep_claim(name=name, worker="worker-2"),
        )
        assert sorted(won) == [False, True], f"round {round_number}: {won}"
        state = SweepState.objects.get(name=name)
        assert state.claimed_by == ("worker-1" if won[0] else "worker-2")
    assert SweepState.objects.filter(name__startswith="tests.sweep.").count() == 25


@pytest.mark.django_db(transaction=True)
def test_exactly_one_wins_when_the_sweep_row_already_exists():
    name = "tests.sweep.existing"
    for round_number in range(25):
        sweep_claim(name=name, worker="setup")
        SweepState.objects.filter(name=name).update(claimed_by="", claimed_until=None)
        won = run_together(*(lambda w=w: sweep_claim(name=name, worker=w) for w in "abc"))
        assert sorted(won) == [False, False, True], f"round {round_number}: {won}"


@pytest.mark.django_db
def test_a_sweep_never_seen_before_is_claimed_on_its_first_pass():
    # Real, ticking time: the new row's next_run_at must not be later than the claim's "now".
    assert not SweepState.objects.filter(name="new.sweep").exists()
    assert sweep_claim(name="new.sweep", worker="w1")
    assert SweepState.objects.get(name="new.sweep").claimed_by == "w1"


@pytest.mark.django_db
def test_a_claimed_sweep_cannot_be_claimed_again_until_released():
    with time_machine.travel(NOW, tick=False) as clock:
        assert sweep_claim(name="s", worker="w1")
        assert not sweep_claim(name="s", worker="w2")
        assert not sweep_claim(name="s", worker="w1"), "not even by the holder"
        state = SweepState.objects.get(name="s")
        assert state.claimed_by == "w1"
        assert state.claimed_until == NOW + SWEEP_LEASE

        sweep_release(name="s", worker="w1", interval=600)
        state.refresh_from_db()
        assert state.claimed_by == ""
        assert state.claimed_until is None
        assert state.last_finished_at == NOW
        assert state.next_run_at == NOW + timedelta(seconds=600)
        # Released, but not due again until its interval has passed.
        assert not sweep_claim(name="s", worker="w2")
        clock.move_to(NOW + timedelta(seconds=599))
        assert not sweep_claim(name="s", worker="w2")
        clock.move_to(NOW + timedelta(seconds=600))
        assert sweep_claim(name="s", worker="w2")


@pytest.mark.django_db
def test_an_abandoned_claim_expires_with_its_lease():
    with time_machine.travel(NOW, tick=False) as clock:
        assert sweep_claim(name="s", worker="crashed")
        clock.move_to(NOW + SWEEP_LEASE - timedelta(seconds=1))
        assert not sweep_claim(name="s", worker="w2")
        clock.move_to(NOW + SWEEP_LEASE + timedelta(seconds=1))
        assert sweep_claim(name="s", worker="w2")
        assert SweepState.objects.get(name="s").claimed_by == "w2"

        # The crashed worker's late release must not undo the new holder's claim.
        sweep_release(name="s", worker="crashed", interval=600)
        state = SweepState.objects.get(name="s")
        assert state.claimed_by == "w2"
        assert state.last_finished_at is None
        assert not sweep_claim(name="s", worker="w3")


# --- run_due_sweeps --------------------------------------------------------------------------

SWEEP_CALLS: list[str] = []
PARTNER_API = {"down": True}


def sweep_hourly():
    SWEEP_CALLS.append("hourly")
    return 3


def sweep_broken():
    SWEEP_CALLS.append("broken")
    if PARTNER_API["down"]:
        raise RuntimeError("the partner API is down")


def sweep_minutely():
    SWEEP_CALLS.append("minutely")


HOURLY = f"{__name__}.sweep_hourly"
BROKEN = f"{__name__}.sweep_broken"
MINUTELY = f"{__name__}.sweep_minutely"


@pytest.fixture
def test_sweeps(settings):
    SWEEP_CALLS.clear()
    PARTNER_API["down"] = True
    settings.REFERLOOP_SWEEPS = [(HOURLY, 3600), (BROKEN, 300), (MINUTELY, 60)]
    yield
    SWEEP_CALLS.clear()
    PARTNER_API["down"] = True


@pytest.mark.django_db
def test_run_due_sweeps_runs_each_once_and_schedules_the_next_run(test_sweeps):
    with time_machine.travel(NOW, tick=False) as clock:
        ran = run_due_sweeps(worker="w1")
        assert ran == [HOURLY, BROKEN, MINUTELY]
        assert SWEEP_CALLS == ["hourly", "broken", "minutely"]
        states = {state.name: state for state in SweepState.objects.all()}
        assert states[HOURLY].next_run_at == NOW + timedelta(hours=1)
        assert states[BROKEN].next_run_at == NOW + timedelta(minutes=5)
        assert states[MINUTELY].next_run_at == NOW + timedelta(minutes=1)
        for state in states.values():
            assert state.claimed_by == ""
            assert state.claimed_until is None
            assert state.last_finished_at == NOW

        # Nothing is due again at the same instant, whichever worker asks.
        assert run_due_sweeps(worker="w1") == []
        assert run_due_sweeps(worker="w2") == []
        assert len(SWEEP_CALLS) == 3

        clock.move_to(NOW + timedelta(minutes=1))
        assert run_due_sweeps(worker="w2") == [MINUTELY]
        clock.move_to(NOW + timedelta(minutes=5))
        assert run_due_sweeps(worker="w2") == [BROKEN, MINUTELY]
        clock.move_to(NOW + timedelta(hours=1))
        assert run_due_sweeps(worker="w2") == [HOURLY, BROKEN, MINUTELY]


@pytest.mark.django_db
def test_a_failing_sweep_records_its_error_and_the_others_still_run(test_sweeps, caplog):
    with time_machine.travel(NOW, tick=False) as clock:
        ran = run_due_sweeps(worker="w1")
        assert SWEEP_CALLS == ["hourly", "broken", "minutely"]
        assert BROKEN in ran
        broken = SweepState.objects.get(name=BROKEN)
        assert broken.last_error == "RuntimeError: the partner API is down"
        assert broken.claimed_by == "", "a failed sweep must release its claim"
        assert SweepState.objects.get(name=HOURLY).last_error == ""
        assert SweepState.objects.get(name=MINUTELY).last_error == ""
        assert "sweep_broken failed" in caplog.text

        # It is retried after its own interval; once it works again, the old error is cleared.
        PARTNER_API["down"] = False
        clock.move_to(NOW + timedelta(minutes=5))
        assert run_due_sweeps(worker="w1") == [BROKEN, MINUTELY]
        assert SweepState.objects.get(name=BROKEN).last_error == ""


@pytest.mark.django_db
def test_a_sweep_held_by_another_worker_is_skipped(test_sweeps):
    with time_machine.travel(NOW, tick=False):
        assert sweep_claim(name=MINUTELY, worker="other")
        assert run_due_sweeps(worker="w1") == [HOURLY, BROKEN]
        assert "minutely" not in SWEEP_CALLS
        assert SweepState.objects.get(name=MINUTELY).claimed_by == "other"


def test_default_sweeps_are_importable_with_sensible_intervals(settings):
    from django.utils.module_loading import import_string

    assert settings.REFERLOOP_SWEEPS
    for path, interval in settings.REFERLOOP_SWEEPS:
        assert callable(import_string(path))
        # The outbox is polled often (mail should leave within seconds); the rest are periodic.
        minimum = 5 if path == "referloop.core.outbox.outbox_deliver" else 60
        assert interval >= minimum


# --- queued tasks ----------------------------------------------------------------------------


def runs_by_key() -> Counter:
    return Counter(AuditEvent.objects.filter(action=RUN_ACTION).values_list("object_id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_workers_never_run_a_task_twice():
    keys = [f"key-{number:02d}" for number in range(30)]
    results = [record_run.enqueue(key=key) for key in keys]
    assert DBTaskResult.objects.ready().count() == 30
    assert runs_by_key() == Counter()

    run_together(
        lambda: run_queued_tasks(worker="worker-1"),
        lambda: run_queued_tasks(worker="worker-2"),
    )

    runs = runs_by_key()
    assert set(runs) == set(keys)
    assert all(count == 1 for count in runs.values()), {k: c for k, c in runs.items() if c > 1}
    rows = list(DBTaskResult.objects.filter(id__in=[result.id for result in results]))
    assert len(rows) == 30
    assert {row.status for row in rows} == {SUCCESSFUL}
    for row in rows:
        assert len(row.worker_ids) == 1, "claimed by exactly one worker"
        assert row.worker_ids[0] in {"worker-1", "worker-2"}
        assert row.return_value == row.args_kwargs["kwargs"]["key"]
    assert not DBTaskResult.objects.ready().exists()


@pytest.mark.django_db(transaction=True)
def test_run_queued_tasks_stops_after_max_tasks():
    for number in range(5):
        record_run.enqueue(key=f"k{number}")
    run_queued_tasks(worker="w1", max_tasks=2)
    assert sum(runs_by_key().values()) == 2
    assert DBTaskResult.objects.ready().count() == 3
    run_queued_tasks(worker="w1")
    assert runs_by_key() == Counter({f"k{number}": 1 for number in range(5)})


# --- a task that sends real e-mail -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_notify_account_locked_sends_one_real_email(cast, settings, smtp_server):  # noqa: F811
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_server.port},
        }
    }
    user = cast.coordinator
    result = notify_account_locked.enqueue(
        email=user.email.upper(),  # addresses are matched without regard to case
        locked_until="2026-05-15 12:15",
        ip="203.0.113.9",
    )
    notify_account_locked.enqueue(
        email="nobody@nowhere.example.org", locked_until="2026-05-15 12:15", ip="203.0.113.9"
    )
    assert smtp_server.messages == [], "nothing is sent before the worker runs"

    run_queued_tasks(worker="w1")

    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == user.email
    assert message["Subject"] == "Referloop: sign-in locked after repeated failed attempts"
    body = message.get_content()
    assert "203.0.113.9" in body
    assert "2026-05-15 12:15" in body
    assert f"{settings.BASE_URL}{reverse('login')}" in body
    assert message["From"] == settings.DEFAULT_FROM_EMAIL
    assert smtp_server.messages_to(user.email) == [message]
    assert smtp_server.messages_to("nobody@nowhere.example.org") == []

    rows = DBTaskResult.objects.all()
    assert {row.status for row in rows} == {SUCCESSFUL}
    by_email = {row.args_kwargs["kwargs"]["email"]: row.return_value for row in rows}
    assert by_email == {user.email.upper(): True, "nobody@nowhere.example.org": False}
    assert result.id in {str(row.id) for row in rows}


@pytest.mark.django_db(transaction=True)
def test_notify_account_locked_ignores_inactive_accounts(cast, settings, smtp_server):  # noqa: F811
    settings.MAILERS = smtp_server.mailers()
    user = cast.coordinator
    user.is_active = False
    user.save(update_fields=["is_active"])
    notify_account_locked.enqueue(email=user.email, locked_until="soon", ip="203.0.113.9")
    run_queued_tasks(worker="w1")
    assert smtp_server.messages == []
    assert DBTaskResult.objects.get().return_value is False
