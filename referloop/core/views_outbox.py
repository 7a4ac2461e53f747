"""The Outbox page: every e-mail the agency's Referloop sends, for administrators. Without an SMTP
host this is where the mail is kept (and read) instead of being sent."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_safe

from referloop.core.access import agency_member_required
from referloop.core.audit import audit_record
from referloop.core.models import OutboundEmail
from referloop.core.outbox import STATES, outbox_messages, smtp_configured
from referloop.core.permissions import Perm
from referloop.core.scoping import get_for_user_or_404

PER_PAGE = 50


@agency_member_required(Perm.CONFIGURE_AGENCY)
@require_safe
def outbox(request):
    state = request.GET.get("state", "")
    if state not in STATES:
        state = ""
    page = Paginator(outbox_messages(agency=request.agency, state=state), PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "state": state,
        "states": STATES,
        "smtp_configured": smtp_configured(),
    }
    return render(request, "core/outbox.html", context)


@agency_member_required(Perm.CONFIGURE_AGENCY)
@require_safe
def outbox_detail(request, pk: int):
    message = get_for_user_or_404(OutboundEmail, request, pk=pk)
    # Bodies can name clients (staff digests): reading one is audited like any client data.
    audit_record(action="read", request=request, obj=message)
    return render(
        request,
        "core/outbox_detail.html",
        {"message": message, "smtp_configured": smtp_configured()},
    )
