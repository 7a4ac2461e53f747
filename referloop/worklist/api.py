from datetime import datetime
from typing import Literal

from ninja import Router, Schema

from referloop.core.access import api_require
from referloop.core.permissions import Perm
from referloop.core.schemas import ErrorOut, ValidationErrorOut
from referloop.worklist.selectors import worklist_for

router = Router(tags=["worklist"])


class DueItemOut(Schema):
    key: str
    kind: str
    kind_label: str
    subject: str
    reason: str
    due_at: datetime
    action_label: str
    action_url: str
    owner_id: int | None


class WorklistOut(Schema):
    overdue: list[DueItemOut]
    due_today: list[DueItemOut]
    coming_up: list[DueItemOut]


@router.get(
    "",
    response={200: WorklistOut, 401: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut},
    summary="What is due",
)
def worklist(request, scope: Literal["mine", "agency"] = "mine"):
    """`scope=mine` (default): the token user's items; `scope=agency`: everyone's (leads)."""
    member = request.membership
    if scope == "agency":
        api_require(request, Perm.VIEW_AGENCY_WORKLIST)
        member = None
    return worklist_for(agency=request.agency, member=member)
