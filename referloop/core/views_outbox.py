"""The Outbox page: every e-mail the agency's Referloop sends, for administrators. Without an SMTP
host this is where the mail is kept (and read) instead of being sent."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from referloop.core.access import agency_member_required
from referloop.core.audit import audit_record
from referloop.core.models import OutboundEmail
from referloop.core.outbox import (
    STATES,
    outbox_cancel,
    outbox_messages,
    outbox_retry,
    smtp_configured,
)
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


@agency_member_required(Perm.CONFIGURE_AGENCY)
@require_POST
def outbox_message_retry(request, pk: int):
    message = get_for_user_or_404(OutboundEmail, request, pk=pk)
    if outbox_retry(message=message):
        audit_record(action="outbox_retry", request=request, obj=message)
        messages.success(request, "The message goes out at the next delivery.")
    else:
        messages.error(request, "This message was sent or cancelled, or is being sent right now.")
    return redirect("core:outbox_detail", pk=message.pk)


@agency_member_required(Perm.CONFIGURE_AGENCY)
@require_POST
def outbox_message_cancel(request, pk: int):
    message = get_for_user_or_404(OutboundEmail, request, pk=pk)
    name = request.user.full_name or request.user.email
    if outbox_cancel(message=message, reason=f"Cancelled by {name} on the Outbox page"):
        audit_record(action="outbox_cancel", request=request, obj=message)
        messages.success(request, "The message is cancelled: it will not be sent.")
    else:
        messages.error(request, "This message was already sent or cancelled.")
    return redirect("core:outbox_detail", pk=message.pk)
