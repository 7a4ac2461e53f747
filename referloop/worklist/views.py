from django.shortcuts import render
from django.views.decorators.http import require_safe

from referloop.core.access import agency_member_required
from referloop.core.permissions import Perm, has_perm
from referloop.worklist.selectors import overdue_count_for, worklist_for

# Each group lists this many, most pressing first, unless all of it is asked for: a busy
# agency's week holds hundreds of items, which would bury the next ones to act on (and cost the
# page its speed). Its heading counts them all.
SHOWN = 50


@agency_member_required(Perm.VIEW)
@require_safe
def index(request):
    can_see_agency = has_perm(request.membership, Perm.VIEW_AGENCY_WORKLIST)
    scope = "agency" if request.GET.get("scope") == "agency" and can_see_agency else "mine"
    worklist = worklist_for(
        agency=request.agency, member=None if scope == "agency" else request.membership
    )
    every = request.GET.get("all")
    groups = [
        # (key, heading, the items listed, how many there are)
        (key, label, items if every == key else items[:SHOWN], len(items))
        for key, label, items in (
            ("overdue", "Overdue", worklist.overdue),
            ("today", "Due today", worklist.due_today),
            ("coming", "Coming up (7 days)", worklist.coming_up),
        )
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
