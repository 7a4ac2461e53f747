"""What the stays app does when the referrals app announces something (see apps.py)."""

from django.dispatch import receiver

from referloop.referrals.models import Status
from referloop.referrals.signals import referral_status_changed
from referloop.stays.services import inbound_from_network

# Once the receiving agency has the referral in hand, it keeps its own record of it: the
# sender's caseworker is then owed the same check-ins and milestones as any other source.
TAKEN_IN = frozenset({Status.RECEIVED, Status.ACCEPTED})


@receiver(referral_status_changed, dispatch_uid="stays.inbound_from_network")
def _network_referral_taken_in(sender, *, referral, event, **kwargs):
    if referral.receiving_agency_id is not None and event.to_status in TAKEN_IN:
        inbound_from_network(referral=referral, actor=event.actor)
