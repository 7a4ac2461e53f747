"""Reads for agencies, people, tokens, audit and sign-in state."""

import hashlib
from datetime import datetime

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from referloop.core.due import DueItem, DueRows
from referloop.core.models import (
    Agency,
    ApiToken,
    AuditEvent,
    LoginThrottle,
    Membership,
    Network,
    User,
)
from referloop.core.permissions import Perm, has_perm


def memberships_of(user: User) -> list[Membership]:
    """The user's active memberships with their agencies, in one query."""
    return list(
        Membership.objects.filter(user=user, is_active=True)
        .select_related("agency", "agency__network")
        .order_by("agency__name")
    )


def agency_members(*, agency: Agency) -> QuerySet[Membership]:
    return (
        Membership.objects.for_agency(agency)
        .select_related("user")
        .order_by("-is_active", "user__full_name", "user__email")
    )


def agency_audit_events(*, agency: Agency) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.for_agency(agency).select_related("user")


def networks_with_public_scorecard() -> list[Network]:
    """The networks whose community scorecard is published (the public directory links them)."""
    return list(
        Network.objects.filter(community_published_at__isnull=False)
        .order_by("name")
        .only("name", "slug")
    )


def login_locked_until(*, key: str) -> datetime | None:
    locked_until = (
        LoginThrottle.objects.filter(key=key, locked_until__gt=timezone.now())
        .values_list("locked_until", flat=True)
        .first()
    )
    return locked_until


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The live token for a raw bearer value, with its user and agency; None if unusable."""
    if not raw or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.filter(key_hash=hashlib.sha256(raw.encode()).hexdigest())
        .select_related("user", "agency", "agency__network")
        .first()
    )
    now = timezone.now()
    if (
        token is None
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
        or not token.user.is_active
    ):
        return None
    token.membership = Membership.objects.filter(
        user=token.user, agency=token.agency, is_active=True
    ).first()
    return token if token.membership is not None else None


def due_rows(*, agency: Agency, member: Membership | None, until: datetime) -> list[DueRows]:
    """Core's worklist source: an agency whose policies no administrator has reviewed yet.

    `member` None asks for the whole agency's items; otherwise only that member's.
    """
    if agency.policy_reviewed_at is not None or agency.created_at > until:
        return []
    if member is not None and not has_perm(member, Perm.CONFIGURE_AGENCY):
        return []
    return [DueRows([agency], _agency_setup_item)]


def _agency_setup_item(agency: Agency) -> DueItem:
    return DueItem(
        key=f"agency-setup:{agency.pk}",
        kind="agency_setup",
        kind_label="Agency set-up",
        subject=agency.name,
        reason="Finish setting up your agency: review the follow-up targets, cadences and "
        "business days everyone's due dates are computed from.",
        due_at=agency.created_at,
        action_label="Review policies",
        action_url=reverse("core:agency_settings"),
    )
