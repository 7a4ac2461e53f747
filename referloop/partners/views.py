"""Partner pages: print materials and what went out, and the monthly availability e-mail."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from referloop.core.access import agency_member_required
from referloop.core.errors import DomainError
from referloop.core.permissions import Perm, has_perm
from referloop.core.scoping import get_for_user_or_404
from referloop.core.timeutils import agency_today
from referloop.partners import selectors, services
from referloop.partners.availability_email import (
    PREVIEW_UNSUBSCRIBE_URL,
    availability_email_render,
)
from referloop.partners.forms import MaterialForm, apply_domain_error
from referloop.partners.models import Material

PAGE_SIZE = 50


@agency_member_required(Perm.VIEW)
def partner_list(request):
    return HttpResponse("")


# --- print materials --------------------------------------------------------------------------


@agency_member_required(Perm.VIEW)
@require_safe
def materials(request):
    services.materials_defaults_ensure(agency=request.agency)
    sent = Paginator(selectors.print_media_sent(agency=request.agency), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "partners/materials.html",
        {
            "materials": list(selectors.agency_materials(agency=request.agency)),
            "sent": sent,
            "can_write": has_perm(request.membership, Perm.WRITE),
        },
    )


def _material_form_page(request, form, material=None):
    status = 400 if form.errors else 200
    context = {"form": form, "material": material, "creating": material is None}
    return render(request, "partners/material_form.html", context, status=status)


def _material_save(request, form, material=None):
    """The form's material through the service, or None with the refusal on the form."""
    try:
        return services.material_save(
            agency=request.agency,
            actor=request.user,
            material=material,
            request=request,
            **form.cleaned_data,
        )
    except DomainError as error:
        apply_domain_error(form, error)
        return None


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def material_create(request):
    form = MaterialForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _material_save(request, form):
        messages.success(request, f"{form.cleaned_data['name']} is added.")
        return redirect("partners:materials")
    return _material_form_page(request, form)


@agency_member_required(Perm.WRITE)
@require_http_methods(["GET", "POST"])
def material_edit(request, pk):
    material = get_for_user_or_404(Material, request, pk=pk)
    form = MaterialForm(request.POST or None, initial=MaterialForm.initial_for(material))
    if request.method == "POST" and form.is_valid() and _material_save(request, form, material):
        messages.success(request, "Saved.")
        return redirect("partners:materials")
    return _material_form_page(request, form, material)


# --- the monthly availability e-mail ----------------------------------------------------------


@agency_member_required(Perm.VIEW)
@require_safe
def availability(request):
    agency = request.agency
    counts = selectors.agency_availability(agency=agency)
    recipients = list(selectors.availability_recipients(agency=agency))
    preview = availability_email_render(
        agency=agency,
        availability=counts,
        month=agency_today(agency),
        unsubscribe_url=PREVIEW_UNSUBSCRIBE_URL,
    )
    return render(
        request,
        "partners/availability.html",
        {
            "availability": counts,
            "preview": preview,
            "recipients": recipients,
            "contacts": list(selectors.established_contacts(agency=agency)),
            "sent_this_month": services.availability_sent_this_month(agency=agency),
            "can_write": has_perm(request.membership, Perm.WRITE),
        },
    )


@agency_member_required(Perm.WRITE)
@require_POST
def availability_send(request):
    try:
        queued = services.availability_email_send(
            agency=request.agency,
            actor=request.user,
            force=request.POST.get("force") == "1",
            request=request,
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"Queued {queued} e-mail{'s' if queued != 1 else ''}: the worker sends them."
        )
    return redirect("partners:availability")


def _ids(values) -> set[int]:
    return {int(value) for value in values if value.isdigit()}


@agency_member_required(Perm.WRITE)
@require_POST
def availability_opt_ins(request):
    """The list's checkboxes: each shown person on the list or off it, as ticked."""
    shown, ticked = _ids(request.POST.getlist("shown")), _ids(request.POST.getlist("opted_in"))
    contacts = selectors.established_contacts(agency=request.agency).filter(pk__in=shown)
    refused = []
    for key in contacts:
        try:
            services.availability_opt_in(
                key_contact=key, actor=request.user, opted_in=key.pk in ticked, request=request
            )
        except DomainError as error:
            refused.append(error.message)
    for message in refused:
        messages.error(request, message)
    if not refused:
        messages.success(request, "The list is saved.")
    return redirect("partners:availability")
