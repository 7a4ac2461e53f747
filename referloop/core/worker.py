"""The background worker: periodic sweeps and queued tasks, safe to run as several processes.

Sweeps are claimed with one compare-and-set UPDATE on their SweepState row (only the worker whose
UPDATE matched runs it); queued tasks are claimed by django-tasks-db (row lock with SKIP LOCKED on
PostgreSQL, an exclusive transaction on SQLite) — either way no item runs twice.
"""

import logging
import os
import socket
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.management.commands.db_worker import Worker as TaskWorker

from referloop.core.models import SweepState

logger = logging.getLogger("referloop.worker")

SWEEP_LEASE = timedelta(minutes=30)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def sweep_claim(*, name: str, worker: str) -> bool:
    """True if this worker won the sweep: it is due and nobody else holds a live claim."""
    SweepState.objects.get_or_create(name=name)
    # Read the clock after the row exists: a row created just now has next_run_at = its creation
    # time, which must not be later than `now` or a new sweep would never run on its first pass.
    now = timezone.now()
    won = (
        SweepState.objects.filter(name=name, next_run_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_by=worker, claimed_until=now + SWEEP_LEASE)
    )
    return won == 1


def sweep_release(*, name: str, worker: str, interval: int, error: str = "") -> None:
    now = timezone.now()
    SweepState.objects.filter(name=name, claimed_by=worker).update(
        claimed_by="",
        claimed_until=None,
        last_finished_at=now,
        next_run_at=now + timedelta(seconds=interval),
        last_error=error[:2000],
    )


def run_due_sweeps(*, worker: str) -> list[str]:
    ran = []
    for path, interval in settings.REFERLOOP_SWEEPS:
        if not sweep_claim(name=path, worker=worker):
            continue
        error = ""
        try:
            result = import_string(path)()
            logger.info("sweep %s done: %s", path, result)
        except Exception as exc:  # one failing sweep must not stop the others
            logger.exception("sweep %s failed", path)
            error = f"{type(exc).__name__}: {exc}"
        sweep_release(name=path, worker=worker, interval=interval, error=error)
        ran.append(path)
    return ran


def run_queued_tasks(*, worker: str, max_tasks: int | None = None) -> None:
    """Runs ready tasks until the queue is empty (or max_tasks have run)."""
    TaskWorker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=worker,
        excluded_queue_names=[],
    ).run()


def run_once(*, worker: str | None = None) -> None:
    worker = worker or worker_id()
    run_due_sweeps(worker=worker)
    run_queued_tasks(worker=worker)


def run_forever(*, idle_seconds: float, should_stop=lambda: False) -> None:
    worker = worker_id()
    logger.info("worker %s started", worker)
    while not should_stop():
        close_old_connections()
        run_once(worker=worker)
        close_old_connections()
        time.sleep(idle_seconds)
