"""The audit helper every view and API handler calls when it reads or writes client data, and
whenever it refuses access. One row per event; the table is append-only."""

from referloop.core.models import AuditEvent


def client_ip(request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is set by whoever sends the request and proves nothing.
    # Behind a trusted proxy, the proxy must set REMOTE_ADDR (gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR") if request is not None else None


def audit_record(
    *,
    action: str,
    request=None,
    user=None,
    agency=None,
    obj=None,
    object_type: str = "",
    object_id="",
    outcome: str = AuditEvent.Outcome.OK,
    detail: dict | None = None,
) -> AuditEvent:
    if request is not None:
        if user is None and getattr(request, "user", None) is not None:
            user = request.user if request.user.is_authenticated else None
        if agency is None:
            agency = getattr(request, "agency", None)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    return AuditEvent.objects.create(
        action=action,
        user=user,
        agency=agency,
        object_type=object_type,
        object_id=str(object_id or ""),
        ip=client_ip(request),
        outcome=outcome,
        detail=detail or {},
    )
