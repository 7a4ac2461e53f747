"""Client pages: find, record (with duplicate warning), view with safe-contact banner, consents.

Every page that shows a client writes an audit row (who saw whose record, from where)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from referloop.clients import selectors, services
from referloop.clients.forms import (
    ClientForm,
    ClientSearchForm,
    ConsentForm,
    RevokeForm,
    apply_domain_error,
)
from referloop.clients.models import Client, Consent
from referloop.core.access import agency_member_required
from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.permissions import Perm
from referloop.core.scoping import get_for_user_or_404

PAGE_SIZE = 50


@agency_member_required(Perm.VIEW)
@require_safe
def client_list(request):
    form = ClientSearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    if query:
        clients = selectors.client_search(agency=request.agency, text=query)
        page = None
    else:
        page = Paginator(selectors.agency_clients(agency=request.agency), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        clients = list(page.object_list)
    audit_record(
        action="list",
        request=request,
        object_type="clients.client",
        detail={"count": len(clients), "search": bool(query)},
    )
    return render(
        request,
        "clients/list.html",
        {"form": form, "clients": clients, "page": page, "query": query},
    )


def _client(request, pk) -> Client:
    return get_for_user_or_404(Client, request, pk=pk)


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def client_create(request):
    form = ClientForm(request.POST or None)
    duplicates = []
    if request.method == "POST" and form.is_valid():
        try:
            client = services.client_create(
                agency=request.agency,
                actor=request.user,
                data=form.to_data(),
                allow_duplicate=form.cleaned_data["allow_duplicate"],
                request=request,
            )
        except DomainError as error:
            if error.code == "duplicate":
                duplicates = selectors.client_possible_duplicates(
                    agency=request.agency,
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                    date_of_birth=(
                        form.cleaned_data["date_of_birth"].isoformat()
                        if form.cleaned_data["date_of_birth"]
                        else ""
                    ),
                )
            else:
                apply_domain_error(form, error)
        else:
            messages.success(request, f"{client.display_name} is recorded.")
            next_url = request.GET.get("next", "")
            if next_url == "referral":
                service = request.GET.get("service", "")
                service_part = f"&service={service}" if service.isdigit() else ""
                return redirect(f"{reverse('referrals:create')}?client={client.pk}{service_part}")
            return redirect("clients:detail", pk=client.pk)
    status = 400 if form.errors else (409 if duplicates else 200)
    return render(
        request,
        "clients/form.html",
        {"form": form, "duplicates": duplicates, "creating": True},
        status=status,
    )


@agency_member_required(Perm.VIEW)
@require_safe
def client_detail(request, pk):
    client = _client(request, pk)
    audit_record(action="view", request=request, obj=client)
    return render(
        request,
        "clients/detail.html",
        {
            "client": client,
            "safe_contact": selectors.safe_contact_rules(client),
            "consents": list(selectors.client_consents(client=client)),
            "revoke_form": RevokeForm(),
        },
    )


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def client_edit(request, pk):
    client = _client(request, pk)
    form = ClientForm(request.POST or None, initial=ClientForm.initial_for(client))
    if request.method == "POST" and form.is_valid():
        try:
            services.client_update(
                client=client,
                actor=request.user,
                data=form.to_data(),
                version=form.cleaned_data["version"] or 0,
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "Saved.")
            return redirect("clients:detail", pk=client.pk)
    if request.method == "GET":
        audit_record(action="view", request=request, obj=client, detail={"form": "edit"})
    return render(
        request,
        "clients/form.html",
        {"form": form, "client": client, "creating": False},
        status=400 if form.errors else 200,
    )


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def consent_create(request, pk):
    client = _client(request, pk)
    initial = {"signed_by_name": client.display_name}
    if request.GET.get("organization", "").isdigit():
        initial["organization"] = int(request.GET["organization"])
    form = ConsentForm(request.POST or None, initial=initial, network=request.agency.network)
    if request.method == "POST" and form.is_valid():
        try:
            services.consent_record(
                client=client, actor=request.user, data=form.to_data(), request=request
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "Consent recorded.")
            back = request.GET.get("next", "")
            if back.startswith("/referrals/") and "//" not in back:
                return redirect(back)
            return redirect("clients:detail", pk=client.pk)
    organization = None
    if initial.get("organization"):
        from referloop.directory.models import Organization

        organization = (
            Organization.objects.for_network(request.agency.network)
            .filter(pk=initial["organization"])
            .first()
        )
    return render(
        request,
        "clients/consent_form.html",
        {"form": form, "client": client, "organization": organization},
        status=400 if form.errors else 200,
    )


def _consent(request, pk) -> Consent:
    return get_for_user_or_404(Consent.objects.select_related("client"), request, pk=pk)


@agency_member_required(Perm.WRITE)
@require_POST
def consent_revoke(request, pk):
    consent = _consent(request, pk)
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            services.consent_revoke(
                consent=consent,
                actor=request.user,
                method=form.cleaned_data["revocation_method"],
                request=request,
            )
            messages.success(request, "Consent revoked: nothing more will be shared under it.")
        except DomainError as error:
            messages.error(request, error.message)
    else:
        messages.error(request, "Say how the client revoked the consent.")
    return redirect("clients:detail", pk=consent.client_id)


@agency_member_required(Perm.WRITE)
@require_POST
def consent_end(request, pk):
    consent = _consent(request, pk)
    try:
        services.consent_end(consent=consent, actor=request.user, request=request)
        messages.success(request, "Consent ended: nothing more will be shared under it.")
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("clients:detail", pk=consent.client_id)
