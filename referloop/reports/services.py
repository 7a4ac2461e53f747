"""Writes of the reports app: publishing the network's community scorecard on the directory."""

from django.db import transaction
from django.utils import timezone

from referloop.core.audit import audit_record
from referloop.core.models import Network


def community_publish(*, network: Network, actor, published: bool, request=None) -> Network:
    """Publishes the network's community scorecard on the public directory (or withdraws it):
    any administrator of one of its agencies may, and it is recorded who did and when. Only the
    suppressed figures are ever public; publishing twice keeps the first date."""
    with transaction.atomic():
        locked = Network.objects.select_for_update().get(pk=network.pk)
        if published and locked.community_published_at is None:
            locked.community_published_at = timezone.now()
            locked.community_published_by = actor
        elif not published:
            locked.community_published_at = None
            locked.community_published_by = None
        locked.save(update_fields=["community_published_at", "community_published_by"])
        audit_record(
            action="community_publish" if published else "community_unpublish",
            request=request,
            user=actor,
            obj=locked,
        )
    return locked
