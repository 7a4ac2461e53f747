"""The agency's public "refer someone to us" page at /refer/<agency>/: no login. It makes a
draft inbound referral staff review, answers with its tracking ID and nothing else, and limits
how many referrals one address may send an hour (bots and floods get a 429)."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from referloop.clients.forms import apply_domain_error
from referloop.core.audit import client_ip
from referloop.core.errors import DomainError
from referloop.core.models import Agency, AuditEvent
from referloop.stays import services
from referloop.stays.forms import ReferSomeoneForm


def _flooding(request) -> bool:
    ip = client_ip(request)
    return bool(ip) and (
        AuditEvent.objects.filter(
            action=services.FORM_AUDIT_ACTION,
            ip=ip,
            at__gte=timezone.now() - settings.REFERRAL_FORM_WINDOW,
        ).count()
        >= settings.REFERRAL_FORM_PER_IP
    )


@never_cache
@require_http_methods(["GET", "POST"])
def refer_someone(request, slug):
    agency = Agency.objects.filter(slug=slug).first()
    if agency is None:
        raise Http404("No such agency")
    form = ReferSomeoneForm(request.POST or None)
    context = {"agency": agency, "form": form}
    if request.method == "POST":
        if _flooding(request):
            return render(request, "stays/refer_limited.html", context, status=429)
        if form.is_valid():
            data = dict(form.cleaned_data)
            if data.pop("website"):  # the field people never see: a bot
                return render(request, "stays/refer_thanks.html", context)
            try:
                inbound = services.inbound_from_form(
                    agency=agency, data=services.FormSubmission(**data), request=request
                )
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                context["tracking_id"] = inbound.tracking_id
                return render(request, "stays/refer_thanks.html", context)
        return render(request, "stays/refer.html", context, status=400)
    return render(request, "stays/refer.html", context)
