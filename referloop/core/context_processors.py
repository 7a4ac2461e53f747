from django.urls import NoReverseMatch, reverse

from referloop.core.permissions import Perm, has_perm

# The main navigation, in UX.md's order. A section appears once its app provides the page, so the
# shell never links to something that is not there.
NAV = [
    ("worklist", "Worklist", "worklist:index", {"worklist"}),
    ("referrals", "Referrals", "referrals:list", {"referrals"}),
    ("partners", "Partners", "partners:list", {"partners"}),
    ("stays", "Residents", "stays:residents", {"stays"}),
    ("directory", "Directory", "directory:search", {"directory"}),
    ("clients", "Clients", "clients:list", {"clients"}),
    ("intake", "Intake", "intake:index", {"intake"}),
    ("reports", "Reports", "reports:index", {"reports"}),
    ("admin", "Admin", "core:member_list", {"core"}),
]


def _nav_items(request):
    match = getattr(request, "resolver_match", None)
    namespace = match.namespace if match else ""
    items = []
    for key, label, url_name, namespaces in NAV:
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"key": key, "label": label, "url": url, "active": namespace in namespaces})
    return items


def shell(request):
    """What the page shell needs about who is signed in, in which agency, and where to go."""
    membership = getattr(request, "membership", None)
    return {
        "current_agency": getattr(request, "agency", None),
        "current_membership": membership,
        "user_memberships": getattr(request, "memberships", []),
        "nav_items": _nav_items(request) if membership else [],
        # Pages offer what changes something (New referral, Edit...) only to those who may.
        "can_write": has_perm(membership, Perm.WRITE),
        "can_configure_agency": has_perm(membership, Perm.CONFIGURE_AGENCY),
        "can_view_members": has_perm(membership, Perm.VIEW_MEMBERS),
        "can_manage_members": has_perm(membership, Perm.MANAGE_MEMBERS),
        "can_view_audit": has_perm(membership, Perm.VIEW_AUDIT),
    }
