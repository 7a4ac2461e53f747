"""The agency's disposition codes: the small set of outcomes and "not accepted" reasons."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from referloop.clients.forms import NoNulCharField, apply_domain_error
from referloop.core.access import agency_member_required
from referloop.core.errors import DomainError
from referloop.core.permissions import Perm
from referloop.core.scoping import get_for_user_or_404
from referloop.referrals import services
from referloop.referrals.models import DispositionCode, DispositionKind


class NewCodeForm(forms.Form):
    label = NoNulCharField(max_length=100)
    code = NoNulCharField(max_length=40, help_text="Short name used in exports, e.g. no_bed")
    kind = forms.ChoiceField(choices=DispositionKind.choices, label="Used for")


@agency_member_required(Perm.CONFIGURE_AGENCY)
@require_http_methods(["GET", "POST"])
def disposition_list(request):
    form = NewCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.disposition_code_create(
                agency=request.agency, actor=request.user, request=request, **form.cleaned_data
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, "Code added.")
            return redirect("referrals:dispositions")
    codes = DispositionCode.objects.for_agency(request.agency).order_by("position", "label")
    return render(
        request,
        "referrals/dispositions.html",
        {"form": form, "codes": codes, "life_cycle": services.LIFE_CYCLE_CODES},
        status=400 if form.errors else 200,
    )


@agency_member_required(Perm.CONFIGURE_AGENCY)
@require_POST
def disposition_update(request, pk):
    disposition = get_for_user_or_404(DispositionCode, request, pk=pk)
    try:
        services.disposition_code_update(
            disposition=disposition,
            actor=request.user,
            label=request.POST.get("label", ""),
            is_active=request.POST.get("is_active") == "on",
            request=request,
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Saved.")
    return redirect("referrals:dispositions")
