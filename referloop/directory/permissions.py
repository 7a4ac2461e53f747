"""Who may change a directory entry: staff of the agency that runs the organization (any role
that may write), and the installation's staff. Everyone in the network may read."""

from referloop.core.permissions import Perm, has_perm


def can_edit_listing(*, user, membership, agency_id: int | None) -> bool:
    if getattr(user, "is_staff", False) and user.is_active:
        return True
    return (
        agency_id is not None
        and membership is not None
        and membership.agency_id == agency_id
        and has_perm(membership, Perm.WRITE)
    )
