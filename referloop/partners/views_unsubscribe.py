"""The unsubscribe page of the monthly availability e-mail at /partners/unsubscribe/<token>/:
public, no login. GET only asks (mail scanners open links before people do); POST unsubscribes
at once -- also as the RFC 8058 one-click POST a mail client sends. The page shows the agency
and a masked address only, links nowhere into Referloop, and every answer is private: no
referrer leaves it (the URL is the key), no cache keeps it, no search engine lists it."""

from functools import wraps

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from referloop.core.audit import audit_record, client_ip
from referloop.core.models import AuditEvent
from referloop.partners.services import availability_unsubscribe
from referloop.partners.unsubscribe import unsubscribe_find

UNKNOWN_LINK = "partner_unsubscribe_unknown_link"  # the audit rows the rate limit counts


def _private(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "no-store"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return wrapper


def _guessing(request) -> bool:
    """Has this address tried too many unknown links lately (the reply page's limit)?"""
    ip = client_ip(request)
    return bool(ip) and (
        AuditEvent.objects.filter(
            action=UNKNOWN_LINK, ip=ip, at__gte=timezone.now() - settings.REPLY_RATE_WINDOW
        ).count()
        >= settings.REPLY_UNKNOWN_LINKS_PER_IP
    )


def masked(address: str) -> str:
    """d•••@harbor.example.org: enough for the person to recognise, little for anyone else."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


def _page(request, template: str, key=None, *, status: int = 200):
    context = {"key": key, "limited": status == 429}
    if key is not None:
        context |= {"agency": key.agency, "address": masked(key.contact.email)}
    return render(request, f"partners/{template}", context, status=status)


# No CSRF check, as on the reply page: the unguessable token in the path is what proves the
# request comes from the link's holder, and the page sets no cookie at all.
@csrf_exempt
@_private
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token):
    if _guessing(request):
        return _page(request, "unsubscribe_problem.html", status=429)
    key = unsubscribe_find(token)
    if key is None:
        audit_record(action=UNKNOWN_LINK, request=request, outcome=AuditEvent.Outcome.DENIED)
        return _page(request, "unsubscribe_problem.html", status=404)
    if request.method == "POST":
        key = availability_unsubscribe(key_contact=key, request=request)
        return _page(request, "unsubscribed.html", key)
    if key.unsubscribed_at is not None:
        return _page(request, "unsubscribed.html", key)
    return _page(request, "unsubscribe.html", key)
