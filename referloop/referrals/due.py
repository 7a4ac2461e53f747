"""What is due next on a referral: one pure function of the agency's policy and the referral's
stored timestamps. Services store its answer in `next_due_at`/`due_reason`; the worker re-checks
rows with the same function before acting. Nothing here reads the timeline.

The rules (seed 003): receipt confirmed within N business days of sending; a first contact
attempt with the client within 7 days; the outcome known within 30 days; while the loop is open,
a follow-up with the partner every 7 days. A target that was missed and then chased (a follow-up
logged after it) gives way to the cadence, so logging the follow-up clears the item until the
next one is due. The loop closes when the outcome is known (e.g. "service started"); a referral
that bounced back stays due ("re-refer") until it is re-referred or the owner resolves it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from referloop.core.timeutils import add_business_days, agency_zone
from referloop.referrals.models import DueReason, Status


@dataclass(frozen=True, slots=True)
class Due:
    at: datetime | None
    reason: str = ""


NOT_DUE = Due(None)


def targets(referral, agency) -> dict[str, datetime]:
    """The three time targets of a sent referral, from its send time."""
    policy = agency.policies
    sent = referral.sent_at
    return {
        DueReason.RECEIPT: add_business_days(
            sent,
            policy.receipt_confirm_business_days,
            zone=agency_zone(agency),
            working_weekdays=policy.working_weekdays,
            holidays=policy.holidays,
        ),
        DueReason.FIRST_CONTACT: sent + timedelta(days=policy.first_contact_days),
        DueReason.OUTCOME: sent + timedelta(days=policy.outcome_known_days),
    }


def next_due(referral, agency) -> Due:
    """When the referral next needs its owner, and why (or NOT_DUE)."""
    if referral.status == Status.REJECTED:
        if referral.bounce_resolved_at is None:
            return Due(referral.closed_at or referral.outcome_at, DueReason.REREFER)
        return NOT_DUE
    if referral.status in (Status.DRAFT, Status.COMPLETED, Status.CANCELLED, Status.FAILED):
        return NOT_DUE
    if referral.outcome_at is not None or referral.sent_at is None:
        return NOT_DUE
    unmet = {
        DueReason.RECEIPT: referral.received_at is None,
        DueReason.FIRST_CONTACT: referral.first_contact_at is None,
        DueReason.OUTCOME: True,
    }
    chased = referral.last_follow_up_at
    candidates = [
        (at, reason)
        for reason, at in targets(referral, agency).items()
        if unmet[reason] and (chased is None or at > chased)
    ]
    follow_up_every = timedelta(days=agency.policies.follow_up_every_days)
    last_touch = max(
        filter(None, (referral.sent_at, chased, referral.last_partner_update_at)),
    )
    candidates.append((last_touch + follow_up_every, DueReason.FOLLOW_UP))
    at, reason = min(candidates, key=lambda pair: pair[0])
    return Due(at, reason)


def escalation_threshold(agency, now: datetime) -> datetime:
    """Referrals due before this instant are overdue long enough to go to the program lead."""
    return now - timedelta(days=agency.policies.escalate_after_overdue_days)
