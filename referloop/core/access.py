"""View guards: signed in, a member of an agency, and holding the permission the view needs."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from ninja.errors import HttpError

from referloop.core.audit import audit_record
from referloop.core.models import AuditEvent
from referloop.core.permissions import Perm, has_perm


def agency_member_required(perm: Perm = Perm.VIEW):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.membership is None:
                return render(request, "core/no_agency.html", status=403)
            if not has_perm(request.membership, perm):
                permission_denied_record(request, perm)
                return render(request, "403.html", {"perm": perm}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def permission_denied_record(request, perm: Perm) -> None:
    """The audit row of a request refused for the member's role (pages, API and FHIR)."""
    audit_record(
        action="permission_denied",
        request=request,
        outcome=AuditEvent.Outcome.DENIED,
        detail={"path": request.path[:300], "method": request.method, "perm": perm},
    )


def api_require(request, perm: Perm) -> None:
    """The API's counterpart of `agency_member_required`: 403 with a reason, and an audit row."""
    if not has_perm(request.membership, perm):
        permission_denied_record(request, perm)
        raise HttpError(403, f"Your role may not do this (needs '{perm}').")
