"""Directory pages: the staff directory (network members, with capacity updates and verification
for the agency that runs a listing) and the public directory (no login, no client data)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from referloop.core.access import agency_member_required
from referloop.core.errors import DomainError
from referloop.core.permissions import Perm
from referloop.core.scoping import get_for_user_or_404
from referloop.core.selectors import networks_with_public_scorecard
from referloop.directory import selectors, services
from referloop.directory.forms import (
    CapacityForm,
    DirectorySearchForm,
    ListingCreateForm,
    ListingForm,
)
from referloop.directory.models import Service
from referloop.directory.permissions import can_edit_listing
from referloop.directory.search import directory_search


def _search_context(request, *, network, public: bool) -> dict:
    # The viewer's agency decides when a bed count is too old to trust; the public sees the default.
    agency = None if public else request.agency
    form = DirectorySearchForm(request.GET, public=public)
    page = None
    if form.is_valid():
        try:
            page = directory_search(
                network=network,
                query=form.to_query(),
                capacity_stale_days=agency.policies.capacity_stale_days if agency else None,
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
    refer_client = "" if public else request.GET.get("refer_client", "")
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "form": form,
        "page": page,
        "query": query.urlencode(),  # the search the pager's links keep
        "public": public,
        # Choosing a service for a new referral: results offer "Refer here" (ids only, no names).
        "refer_client": refer_client if refer_client.isdigit() else "",
    }


@agency_member_required(Perm.VIEW)
@require_safe
def search(request):
    context = _search_context(request, network=request.agency.network, public=False)
    return render(
        request, "directory/search.html", context, status=400 if context["form"].errors else 200
    )


def _staff_service(request, pk: int) -> Service:
    return get_for_user_or_404(
        Service.objects.select_related("organization", "agency"), request, pk=pk
    )


def _service_context(request, service: Service, *, capacity_form=None) -> dict:
    detail = selectors.service_detail(pk=service.pk)
    can_edit = can_edit_listing(
        user=request.user, membership=request.membership, agency_id=service.agency_id
    )
    days = _history_days(request)
    return {
        "service": detail,
        "public": False,
        "can_edit": can_edit,
        "capacity_form": capacity_form or (CapacityForm.for_service(detail) if can_edit else None),
        "history_spans": selectors.CAPACITY_HISTORY_SPANS,
        "capacity_span": selectors.capacity_history(capacities=detail.capacities.all(), days=days),
    }


def _history_days(request) -> int:
    """The span of the capacity charts: one the page offers (?days=30), else the default."""
    asked = request.GET.get("days", "")
    spans = selectors.CAPACITY_HISTORY_SPANS
    return (
        int(asked) if asked in {str(days) for days in spans} else selectors.CAPACITY_HISTORY_DEFAULT
    )


@agency_member_required(Perm.VIEW)
@require_safe
def service_detail(request, pk: int):
    service = _staff_service(request, pk)
    return render(request, "directory/service_detail.html", _service_context(request, service))


@agency_member_required(Perm.WRITE)
@require_POST
def capacity_update(request, pk: int):
    """The two-second action: one small form on the service page, updated in place with htmx."""
    service = _staff_service(request, pk)
    if not can_edit_listing(
        user=request.user, membership=request.membership, agency_id=service.agency_id
    ):
        return render(request, "403.html", status=403)
    form = CapacityForm(request.POST)
    if form.is_valid():
        try:
            services.capacity_update(service=service, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
    if form.errors:
        context = _service_context(request, service, capacity_form=form)
        template = (
            "directory/_capacity_panel.html" if request.htmx else "directory/service_detail.html"
        )
        # htmx swaps only 2xx answers by default; the error markup is the useful answer here.
        return render(request, template, context, status=200 if request.htmx else 400)
    if request.htmx:
        context = _service_context(request, service)
        context["saved"] = True
        return render(request, "directory/_capacity_panel.html", context)
    messages.success(request, "Capacity updated.")
    return redirect("directory:service_detail", pk=service.pk)


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "HEAD", "POST"])
def listing_create(request):
    """A new listing of the agency in its network's directory, for every member to refer to."""

    def save(form):
        service = services.listing_create(
            agency=request.agency, actor=request.user, **form.listing_arguments()
        )
        return service, f"“{service.name}” is listed in the network's directory."

    form = ListingCreateForm(request.POST if request.method == "POST" else None)
    return _listing_page(request, form, save=save, context={"creating": True})


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "HEAD", "POST"])
def listing_edit(request, pk: int):
    """The agency that runs a listing keeps it true: what it offers, to whom, and how to apply."""
    service = _staff_service(request, pk)
    if not can_edit_listing(
        user=request.user, membership=request.membership, agency_id=service.agency_id
    ):
        return render(request, "403.html", status=403)
    detail = selectors.service_detail(pk=service.pk)

    def save(form):
        services.listing_update(service=detail, actor=request.user, **form.listing_arguments())
        verified = " and verified as of today" if form.cleaned_data["verified"] else ""
        return detail, f"“{detail.name}” is saved{verified}."

    form = ListingForm.for_service(detail, data=request.POST if request.method == "POST" else None)
    return _listing_page(request, form, save=save, context={"service": detail})


def _listing_page(request, form, *, save, context: dict):
    """The edit and new-listing pages: a valid POST is saved by `save(form)` — which returns the
    listing and what to tell the user — then shows the listing; a refusal lands next to its
    field. Else the form, 400 with its errors."""
    if request.method == "POST" and form.is_valid():
        try:
            service, message = save(form)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, message)
            return redirect("directory:service_detail", pk=service.pk)
    status = 400 if form.errors else 200
    return render(request, "directory/listing_form.html", {"form": form, **context}, status=status)


@agency_member_required(Perm.WRITE)
@require_POST
def listing_verify(request, pk: int):
    service = _staff_service(request, pk)
    if not can_edit_listing(
        user=request.user, membership=request.membership, agency_id=service.agency_id
    ):
        return render(request, "403.html", status=403)
    services.listing_verify(service=service, actor=request.user)
    messages.success(request, f"“{service.name}” is verified as of today.")
    return redirect("directory:service_detail", pk=service.pk)


@require_safe
def public_search(request):
    context = _search_context(request, network=None, public=True)
    context["scorecards"] = networks_with_public_scorecard()
    return render(
        request, "directory/search.html", context, status=400 if context["form"].errors else 200
    )


@require_safe
def public_service(request, hsds_id):
    service = (
        Service.objects.published().filter(hsds_id=hsds_id).values_list("pk", flat=True).first()
    )
    if service is None:
        raise Http404("No such service in the directory")
    return render(
        request,
        "directory/service_detail.html",
        {"service": selectors.service_detail(pk=service), "public": True},
    )
