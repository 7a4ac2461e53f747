from django.shortcuts import render
from django.views.decorators.http import require_safe

from referloop.core.access import agency_member_required
from referloop.core.permissions import Perm, has_perm
from referloop.worklist.selectors import overdue_count_for, worklist_for


@agency_member_required(Perm.VIEW)
@require_safe
def index(request):
    can_see_agency = has_perm(request.membership, Perm.VIEW_AGENCY_WORKLIST)
    scope = "agency" if request.GET.get("scope") == "agency" and can_see_agency else "mine"
    worklist = worklist_for(
        agency=request.agency, member=None if scope == "agency" else request.membership
    )
    groups = [
        ("overdue", "Overdue", worklist.overdue),
        ("today", "Due today", worklist.due_today),
        ("coming", "Coming up (7 days)", worklist.coming_up),
    ]
    return render(
        request,
        "worklist/index.html",
        {"worklist": worklist, "groups": groups, "scope": scope, "can_see_agency": can_see_agency},
    )


@agency_member_required(Perm.VIEW)
@require_safe
def badge(request):
    """The navigation's overdue count. Pages load it after they show (and refresh it every
    minute) rather than computing it in every page's own time: its queries cost a simple page
    a fifth of its time."""
    count = overdue_count_for(agency=request.agency, member=request.membership)
    return render(request, "worklist/_badge.html", {"overdue_count": count})
