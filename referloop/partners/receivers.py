"""What the partners app does when the referrals app announces something (see apps.py)."""

from django.dispatch import receiver

from referloop.partners.services import relationship_update_owed
from referloop.referrals.signals import referral_status_changed


@receiver(referral_status_changed, dispatch_uid="partners.update_owed")
def _update_owed_to_source(sender, *, referral, event, **kwargs):
    relationship_update_owed(referral=referral, at=event.at)
