from django.contrib import messages
from django.contrib.auth import login, logout
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.defaults import page_not_found

from referloop.core import selectors, services
from referloop.core.access import agency_member_required
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.forms import AgencyPolicyForm, LoginForm, MembershipForm
from referloop.core.middleware import SESSION_AGENCY, SESSION_AUTH_AT, SESSION_SEEN_AT
from referloop.core.models import AuditEvent, Membership
from referloop.core.permissions import Perm
from referloop.core.scoping import get_for_user_or_404


def not_found(request, exception):
    """Django's 404 for a path no route matches: JSON under /api/, as the API's own 404s are
    (an id that is not a number, /api/v1/services/abc, matches no route); the page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not Found"}, status=404)
    return page_not_found(request, exception)


@require_safe
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse({"status": "error", "detail": "database unreachable"}, status=503)
    return JsonResponse({"status": "ok"})


@require_safe
def home(request):
    return redirect("worklist:index" if request.user.is_authenticated else "login")


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return target
    return None


@never_cache
@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def login_view(request):
    if request.user.is_authenticated and request.method == "GET":
        return redirect("worklist:index")
    form = LoginForm(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.user)
        now = timezone.now().timestamp()
        request.session[SESSION_AUTH_AT] = now
        request.session[SESSION_SEEN_AT] = now
        # Recorded in the agency the person lands in, so it shows on that agency's audit log.
        memberships = selectors.memberships_of(form.user)
        audit_record(
            action="login",
            request=request,
            user=form.user,
            obj=form.user,
            agency=memberships[0].agency if memberships else None,
        )
        return redirect(_safe_next(request) or "worklist:index")
    return render(
        request,
        "registration/login.html",
        {"form": form, "next": _safe_next(request) or ""},
        status=200 if not form.errors else 400,
    )


@require_POST
def logout_view(request):
    if request.user.is_authenticated:
        audit_record(action="logout", request=request, obj=request.user)
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("login")


@require_POST
def agency_switch(request):
    if not request.user.is_authenticated:
        return redirect("login")
    slug = request.POST.get("agency", "")
    target = next((m for m in request.memberships if m.agency.slug == slug), None)
    if target is None:
        audit_record(
            action="access_denied",
            request=request,
            object_type="core.agency",
            object_id=slug[:64],
            outcome=AuditEvent.Outcome.DENIED,
            detail={"path": request.path, "method": "POST"},
        )
        raise Http404("You are not a member of that agency.")
    request.session[SESSION_AGENCY] = target.agency_id
    messages.success(request, f"You are now working in {target.agency.name}.")
    return redirect("worklist:index")


@agency_member_required(Perm.CONFIGURE_AGENCY)
@require_http_methods(["GET", "HEAD", "POST"])
def agency_settings(request):
    agency = request.agency
    form = AgencyPolicyForm(request.POST or None, initial=AgencyPolicyForm.initial_for(agency))
    if request.method == "POST" and form.is_valid():
        try:
            services.agency_policy_update(
                agency=agency,
                actor=request.user,
                data=form.policy_data(),
                time_zone=form.cleaned_data["time_zone"],
                request=request,
            )
        except DomainError as error:
            form.add_domain_error(error)
        else:
            messages.success(request, "Policies saved. Due dates now follow these settings.")
            return redirect("core:agency_settings")
    return render(
        request,
        "core/agency_settings.html",
        {"form": form, "agency": agency},
        status=400 if form.errors else 200,
    )


@agency_member_required(Perm.VIEW_MEMBERS)
@require_safe
def member_list(request):
    members = selectors.agency_members(agency=request.agency)
    return render(request, "core/member_list.html", {"members": members})


@agency_member_required(Perm.MANAGE_MEMBERS)
@require_http_methods(["GET", "HEAD", "POST"])
def member_edit(request, pk: int):
    membership = get_for_user_or_404(
        Membership.objects.select_related("user", "agency"), request, pk=pk
    )
    form = MembershipForm(
        request.POST or None, initial={"role": membership.role, "is_active": membership.is_active}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_update(
                membership=membership,
                actor=request.user,
                role=form.cleaned_data["role"],
                is_active=form.cleaned_data["is_active"],
                request=request,
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, f"Saved {membership.user}'s access.")
            return redirect("core:member_list")
    return render(
        request,
        "core/member_edit.html",
        {"form": form, "membership": membership},
        status=400 if form.errors else 200,
    )


@agency_member_required(Perm.VIEW_AUDIT)
@require_safe
def audit_log(request):
    page = Paginator(selectors.agency_audit_events(agency=request.agency), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "core/audit_log.html", {"page": page})
