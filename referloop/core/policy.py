"""An agency's policy settings: one JSON document on the agency, validated by this schema.

Later capabilities read their targets and cadences from here, so a new setting is one field with
a default (seed 000 and seed 003 give the defaults) rather than a migration per number.
"""

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from referloop.core.errors import DomainError


class AgencyPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Closed-loop referral targets (seed 003).
    receipt_confirm_business_days: int = Field(
        2, ge=1, le=30, title="Receipt confirmed within", description="business days"
    )
    first_contact_days: int = Field(
        7, ge=1, le=90, title="First contact attempt within", description="days"
    )
    outcome_known_days: int = Field(
        30, ge=1, le=365, title="Outcome known within", description="days"
    )
    follow_up_every_days: int = Field(
        7, ge=1, le=90, title="Follow up with the partner every", description="days"
    )
    escalate_after_overdue_days: int = Field(
        7, ge=1, le=90, title="Escalate when overdue by", description="days"
    )
    bounce_back_days: int = Field(30, ge=1, le=365, title="Bounce-back window", description="days")
    reply_link_days: int = Field(
        60, ge=1, le=365, title="Partner reply links expire after", description="days"
    )
    # Partner cadence (seed 000), per tier: prospects, regular partners, primary sources.
    partner_prospect_touch_days: int = Field(
        14, ge=1, le=365, title="Touch every prospect at least every", description="days"
    )
    partner_touch_days: int = Field(
        14, ge=1, le=365, title="Touch every regular partner at least every", description="days"
    )
    partner_primary_touch_days: int = Field(
        14, ge=1, le=365, title="Touch every primary source at least every", description="days"
    )
    partner_primary_face_to_face_days: int = Field(
        30, ge=7, le=365, title="Meet primary sources face to face every", description="days"
    )
    partner_max_silence_days: int = Field(
        90, ge=7, le=730, title="Never more silence than (then: at risk)", description="days"
    )
    partner_update_within_days: int = Field(
        2, ge=1, le=30, title="Send a source a status update within", description="days"
    )
    partner_top_referrer_months: int = Field(
        6,
        ge=1,
        le=36,
        title="Top referrers: referrals received over the last",
        description="months",
    )
    partner_top_referrer_min: int = Field(
        3, ge=1, le=1000, title="Top referrers: at least", description="referrals received"
    )
    # Residents' stays and the updates their referral sources are owed.
    stays_enabled: bool = Field(
        True, title="Track residents' stays (move-in, sobriety date, discharge)"
    )
    stay_check_in_days: list[int] = Field(
        default_factory=lambda: [7, 14, 30],
        title="Update the referral source this many days after move-in",
        description="days, separated by commas",
    )
    stay_milestone_days: list[int] = Field(
        default_factory=lambda: [30, 60, 90, 182, 365],
        title="Sobriety milestones the source hears of",
        description="days sober, separated by commas (182 = 6 months, 365 = 1 year)",
    )
    # Directory freshness (seed 004).
    listing_verify_days: int = Field(
        180, ge=7, le=1095, title="Verify listings every", description="days"
    )
    capacity_stale_days: int = Field(
        7, ge=1, le=90, title="Capacity counts as stale after", description="days"
    )
    # The weekly review (seed 003's operating rhythm), e-mailed on the week's first working day.
    weekly_review_email: bool = Field(
        False, title="E-mail last week's review to program leads each week"
    )
    # Business days: ISO weekdays worked (1 = Monday) and days off.
    working_weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    holidays: list[date] = Field(default_factory=list)

    @field_validator("working_weekdays")
    @classmethod
    def _weekdays_valid(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("at least one working weekday is needed")
        if any(day < 1 or day > 7 for day in value):
            raise ValueError("weekdays are numbered 1 (Monday) to 7 (Sunday)")
        return sorted(set(value))

    @field_validator("stay_check_in_days", "stay_milestone_days")
    @classmethod
    def _day_list_valid(cls, value: list[int]) -> list[int]:
        if len(value) > 20:
            raise ValueError("at most 20 days")
        if any(day < 1 or day > 3650 for day in value):
            raise ValueError("each number of days must be between 1 and 3650")
        return sorted(set(value))


POLICY_FIELD_NAMES = tuple(AgencyPolicy.model_fields)


def policy_from_document(document: dict | None) -> AgencyPolicy:
    """The stored document with defaults filled in; stored documents were validated on write."""
    return AgencyPolicy.model_validate(document or {})


def policy_validate(data: dict) -> AgencyPolicy:
    """Validates policy input, turning the first problem into a DomainError naming the field."""
    try:
        return AgencyPolicy.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = error["loc"]
        field = str(location[0]) if location else None
        where = (
            f" (item {location[1] + 1})"
            if len(location) > 1 and isinstance(location[1], int)
            else ""
        )
        raise DomainError(f"{error['msg']}{where}", field=field) from None
