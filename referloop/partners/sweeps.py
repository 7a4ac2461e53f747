"""The partners app's periodic work (scheduled in settings.REFERLOOP_SWEEPS)."""

from referloop.core.models import Agency
from referloop.partners.services import relationship_tiers_refresh


def top_referrers_refresh() -> int:
    """Recomputes every agency's top referrers (a rolling window moves on by itself)."""
    return sum(relationship_tiers_refresh(agency=agency) for agency in Agency.objects.all())
