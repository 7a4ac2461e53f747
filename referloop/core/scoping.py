"""Fetching tenant objects for a request: through `visible_to`, and a 404 (never a 403 that would
confirm the object exists) with an audit row when the object is not the requester's to see."""

from django.db.models import Model, QuerySet
from django.http import Http404

from referloop.core.audit import audit_record
from referloop.core.models import AuditEvent


def access_denied_record(request, *, object_type: str, object_id) -> None:
    """The audit row of a request for an object that is not the requester's to see."""
    audit_record(
        action="access_denied",
        request=request,
        object_type=object_type,
        object_id=object_id,
        outcome=AuditEvent.Outcome.DENIED,
        detail={"path": request.path[:300], "method": request.method},
    )


def get_for_user_or_404(model_or_queryset, request, **lookup) -> Model:
    queryset: QuerySet = (
        model_or_queryset
        if isinstance(model_or_queryset, QuerySet)
        else model_or_queryset._default_manager.all()
    )
    obj = queryset.visible_to(request.user, request.agency).filter(**lookup).first()
    if obj is None:
        access_denied_record(
            request,
            object_type=queryset.model._meta.label_lower,
            object_id=next(iter(lookup.values()), "") if len(lookup) == 1 else "",
        )
        raise Http404(f"No {queryset.model._meta.verbose_name} found")
    return obj
