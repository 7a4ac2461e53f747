import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout

from referloop.core.selectors import memberships_of

SESSION_AUTH_AT = "referloop_auth_at"
SESSION_SEEN_AT = "referloop_seen_at"
SESSION_AGENCY = "referloop_agency_id"
# Activity is written back to the session at most this often, not on every request.
_SEEN_RESOLUTION_SECONDS = 30


class SessionTimeoutMiddleware:
    """Ends a session after 15 minutes idle or 12 hours in all (HIPAA automatic logoff; ASVS).

    The session is flushed server-side, so an old cookie replayed later is worth nothing.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = time.time()
            auth_at = request.session.get(SESSION_AUTH_AT, now)
            seen_at = request.session.get(SESSION_SEEN_AT, now)
            idle = now - seen_at > settings.SESSION_IDLE_TIMEOUT.total_seconds()
            too_old = now - auth_at > settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds()
            if idle or too_old:
                logout(request)
                idle_minutes = round(settings.SESSION_IDLE_TIMEOUT.total_seconds() / 60)
                max_hours = round(settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds() / 3600)
                messages.info(
                    request,
                    f"You were signed out after {idle_minutes} minutes without activity. "
                    "Please sign in again."
                    if idle
                    else f"Your session reached its {max_hours}-hour limit. Please sign in again.",
                )
            else:
                request.session.setdefault(SESSION_AUTH_AT, now)
                if (
                    now - seen_at >= _SEEN_RESOLUTION_SECONDS
                    or SESSION_SEEN_AT not in request.session
                ):
                    request.session[SESSION_SEEN_AT] = now
        return self.get_response(request)


class AgencyMiddleware:
    """Sets request.agency and request.membership from the signed-in user's memberships.

    A user with several memberships works in one agency at a time (chosen with the switcher,
    kept in the session); without a membership both are None and agency pages refuse.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.agency = None
        request.membership = None
        request.memberships = []
        if request.user.is_authenticated:
            request.memberships = memberships_of(request.user)
            chosen_id = request.session.get(SESSION_AGENCY)
            chosen = next((m for m in request.memberships if m.agency_id == chosen_id), None)
            if chosen is None and request.memberships:
                chosen = request.memberships[0]
            if chosen is not None:
                request.membership = chosen
                request.agency = chosen.agency
        return self.get_response(request)
