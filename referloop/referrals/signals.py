"""What the referrals app announces to the apps above it (they connect; it never imports them).

`referral_status_changed` is sent after the transaction that moved a referral commits, with the
referral and its status event: the relationship with the organization that referred the person
may then owe that source news (seed 000).
"""

from django.dispatch import Signal

referral_status_changed = Signal()
