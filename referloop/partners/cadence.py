"""The cadence rules (seed 000) as one pure function: when is a relationship next due, and why.

- any contact every N days, N per tier (14 by default for every tier);
- primary sources (set by hand, or computed top referrers) face to face about monthly;
- a status update to the source within a few days of a referral event they should know about;
- a next step the worker promised, on its day;
- never more than 90 days of silence: past that the relationship is *at risk* (`is_at_risk`).

Dormant and not-a-fit relationships are not worked, so nothing is due for them. The services
store the answer in `next_due_at` / `due_reason`; the worklist and the sweep only read it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from referloop.core.policy import AgencyPolicy
from referloop.core.timeutils import local_midnight_utc
from referloop.partners.models import ACTIVE_STAGES, DueReason, Tier


@dataclass(frozen=True)
class Due:
    at: datetime | None
    reason: str = ""


def touch_days(policy: AgencyPolicy, tier: str) -> int:
    return {
        Tier.PROSPECT: policy.partner_prospect_touch_days,
        Tier.REGULAR: policy.partner_touch_days,
        Tier.PRIMARY: policy.partner_primary_touch_days,
    }[tier]


def silence_start(relationship) -> datetime:
    """Since when the partner has heard nothing: the last contact, else since we started."""
    return relationship.last_contact_at or relationship.created_at


def relationship_next_due(relationship, agency) -> Due:
    if relationship.stage not in ACTIVE_STAGES:
        return Due(None)
    policy = agency.policies
    tier = relationship.effective_tier
    candidates = [
        (
            silence_start(relationship) + timedelta(days=touch_days(policy, tier)),
            DueReason.TOUCH,
        )
    ]
    if tier == Tier.PRIMARY:
        since = relationship.last_face_to_face_at or relationship.created_at
        days = policy.partner_primary_face_to_face_days
        candidates.append((since + timedelta(days=days), DueReason.FACE_TO_FACE))
    if relationship.update_owed_since is not None:
        days = policy.partner_update_within_days
        candidates.append(
            (relationship.update_owed_since + timedelta(days=days), DueReason.STATUS_UPDATE)
        )
    if relationship.next_step_on is not None:
        candidates.append(
            (local_midnight_utc(agency, relationship.next_step_on), DueReason.NEXT_STEP)
        )
    at, reason = min(candidates, key=lambda candidate: candidate[0])
    return Due(at, reason)


def is_at_risk(relationship, policy: AgencyPolicy, now: datetime) -> bool:
    if relationship.stage not in ACTIVE_STAGES:
        return False
    return now - silence_start(relationship) > timedelta(days=policy.partner_max_silence_days)


def silent_days(relationship, now: datetime) -> int:
    return max(0, (now - silence_start(relationship)).days)
