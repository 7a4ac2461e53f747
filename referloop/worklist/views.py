from django.shortcuts import render
from django.views.decorators.http import require_safe

from referloop.core.access import agency_member_required
from referloop.core.permissions import Perm, has_perm
from referloop.worklist.selectors import overdue_count_for, worklist_for

# What is coming up is listed nearest first, this many unless all are asked for: a busy
# person's week holds hundreds, which would bury what is due now (and cost the page its speed).
COMING_UP_SHOWN = 50


@agency_member_required(Perm.VIEW)
@require_safe
def index(request):
    can_see_agency = has_perm(request.membership, Perm.VIEW_AGENCY_WORKLIST)
    scope = "agency" if request.GET.get("scope") == "agency" and can_see_agency else "mine"
    worklist = worklist_for(
        agency=request.agency, member=None if scope == "agency" else request.membership
    )
    every = request.GET.get("all") == "coming"
    coming = worklist.coming_up if every else worklist.coming_up[:COMING_UP_SHOWN]
    groups = [
        # (key, heading, the items listed, how many there are)
        ("overdue", "Overdue", worklist.overdue, len(worklist.overdue)),
        ("today", "Due today", worklist.due_today, len(worklist.due_today)),
        ("coming", "Coming up (7 days)", coming, len(worklist.coming_up)),
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
