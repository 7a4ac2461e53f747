"""Tasks that only the tests enqueue (a task must live at module level in an importable module)."""

from django.tasks import task

from referloop.core.models import AuditEvent

RUN_ACTION = "test_task_run"


@task
def record_run(*, key: str) -> str:
    """Leaves one real row per run, so a test can count how often each key ran."""
    AuditEvent.objects.create(action=RUN_ACTION, object_type="test", object_id=key)
    return key
