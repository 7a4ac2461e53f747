from django.utils.functional import SimpleLazyObject

from referloop.worklist.selectors import overdue_count_for


def overdue_badge(request):
    """The navigation's overdue count, computed only when a page actually shows it."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"overdue_count": 0}
    return {
        "overdue_count": SimpleLazyObject(
            lambda: overdue_count_for(agency=request.agency, member=membership)
        )
    }
