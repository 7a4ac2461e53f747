"""Periodic housekeeping the worker runs (scheduled in settings.REFERLOOP_SWEEPS)."""

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

FINISHED_TASKS_KEPT = timedelta(days=14)


def purge_expired_sessions() -> int:
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


def purge_stale_login_failures() -> int:
    from referloop.core.models import LoginThrottle

    cutoff = timezone.now() - max(settings.LOGIN_LOCKOUT, timedelta(hours=1))
    deleted, _ = LoginThrottle.objects.filter(last_failure_at__lt=cutoff).delete()
    return deleted


def prune_finished_tasks() -> int:
    cutoff = timezone.now() - FINISHED_TASKS_KEPT
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    return deleted


def purge_expired_idempotency_keys() -> int:
    """The API's idempotency keys past their 24 hours (a retry then creates anew anyway)."""
    from referloop.core.idempotency import KEPT
    from referloop.core.models import IdempotentRequest

    cutoff = timezone.now() - KEPT
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
