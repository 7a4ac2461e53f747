"""Writes for networks, agencies, people, tokens and sign-in: each a small function that validates,
changes what it must in one transaction, and records it. Web, API and CLI all call these."""

import hashlib
import secrets
from datetime import UTC, datetime
from functools import partial

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email, validate_slug
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from referloop.core.audit import audit_record
from referloop.core.errors import DomainError
from referloop.core.fields import keyed_hash
from referloop.core.models import (
    Agency,
    ApiToken,
    IssuedTrackingId,
    LoginThrottle,
    Membership,
    Network,
    User,
)
from referloop.core.permissions import Role
from referloop.core.policy import policy_validate
from referloop.core.tasks import notify_account_locked
from referloop.core.timeutils import valid_time_zone
from referloop.core.tracking_ids import tracking_id_generate

TOKEN_PREFIX = "rl_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for


def _valid_slug(slug: str) -> str:
    try:
        validate_slug(slug)
    except ValidationError:
        raise DomainError(
            "Use only lowercase letters, digits, hyphens and underscores.", field="slug"
        ) from None
    if len(slug) > 60:
        raise DomainError("At most 60 characters.", field="slug")
    return slug


def _valid_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise DomainError("A name is required.", field="name")
    if len(name) > 200 or "\x00" in name:
        raise DomainError("At most 200 printable characters.", field="name")
    return name


def network_create(*, name: str, slug: str, is_demo: bool = False) -> Network:
    name, slug = _valid_name(name), _valid_slug(slug)
    if Network.objects.filter(slug=slug).exists():
        raise DomainError(f"A network with the slug '{slug}' already exists.", field="slug")
    return Network.objects.create(name=name, slug=slug, is_demo=is_demo)


def agency_create(*, name: str, slug: str, network: Network, time_zone: str) -> Agency:
    name, slug = _valid_name(name), _valid_slug(slug)
    valid_time_zone(time_zone)
    if Agency.objects.filter(slug=slug).exists():
        raise DomainError(f"An agency with the slug '{slug}' already exists.", field="slug")
    return Agency.objects.create(network=network, name=name, slug=slug, time_zone=time_zone)


def agency_policy_update(
    *, agency: Agency, actor: User, data: dict, time_zone: str, request=None
) -> Agency:
    """Saves a reviewed policy (validated by core.policy.AgencyPolicy) and the time zone."""
    policy = policy_validate(data)
    valid_time_zone(time_zone)
    with transaction.atomic():
        agency.policy = policy.model_dump(mode="json")
        agency.time_zone = time_zone
        agency.policy_reviewed_at = timezone.now()
        agency.save(update_fields=["policy", "time_zone", "policy_reviewed_at"])
        audit_record(
            action="update",
            request=request,
            user=actor,
            agency=agency,
            obj=agency,
            detail={"what": "policy"},
        )
    return agency


def user_create(*, email: str, password: str, full_name: str = "") -> User:
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError(f"'{email}' is not a valid e-mail address.", field="email") from None
    if User.objects.filter(email__iexact=email).exists():
        raise DomainError(f"A user with the e-mail {email} already exists.", field="email")
    full_name = " ".join(full_name.split())[:200]
    candidate = User(email=email, full_name=full_name)
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="password") from None
    return User.objects.create_user(email, password, full_name=full_name)


def membership_grant(*, user: User, agency: Agency, role: str) -> Membership:
    if role not in Role.values:
        raise DomainError(
            f"Unknown role '{role}'; choose one of: {', '.join(Role.values)}.", field="role"
        )
    try:
        with transaction.atomic():
            return Membership.objects.create(user=user, agency=agency, role=role)
    except IntegrityError:
        raise DomainError(
            f"{user.email} is already a member of {agency.name}.", field="user"
        ) from None


def membership_update(
    *, membership: Membership, actor: User, role: str, is_active: bool, request=None
) -> Membership:
    """Changes a member's role or access; an agency always keeps an active administrator."""
    if role not in Role.values:
        raise DomainError("Choose one of the listed roles.", field="role")
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        losing_admin = (
            membership.role == Role.ADMINISTRATOR
            and membership.is_active
            and (role != Role.ADMINISTRATOR or not is_active)
        )
        if losing_admin:
            other_admins = Membership.objects.filter(
                agency_id=membership.agency_id, role=Role.ADMINISTRATOR, is_active=True
            ).exclude(pk=membership.pk)
            if not other_admins.exists():
                raise DomainError(
                    "This is the agency's last administrator; "
                    "make someone else administrator first.",
                    field="role",
                )
        before = {"role": membership.role, "is_active": membership.is_active}
        membership.role, membership.is_active = role, is_active
        membership.save(update_fields=["role", "is_active"])
        audit_record(
            action="update",
            request=request,
            user=actor,
            agency=membership.agency,
            obj=membership,
            detail={"before": before, "after": {"role": role, "is_active": is_active}},
        )
    return membership


def _token_hash(raw: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(
    *, user: User, agency: Agency, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Returns the token row and the raw token, which is shown once and never stored."""
    if not Membership.objects.filter(user=user, agency=agency, is_active=True).exists():
        raise DomainError(f"{user.email} is not an active member of {agency.name}.", field="agency")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        agency=agency,
        name=name[:100],
        prefix=raw[:10],
        key_hash=_token_hash(raw),
        expires_at=expires_at,
    )
    return token, raw


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_touch(*, token: ApiToken) -> None:
    """Records use at most once a minute, so busy clients don't write on every request."""
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)


def tracking_id_issue(*, network: Network, rng=None) -> str:
    """A tracking ID never issued before in this network (the unique constraint decides races);
    `rng` draws reproducible ones (the demo)."""
    for _ in range(20):
        code = tracking_id_generate(rng) if rng is not None else tracking_id_generate()
        try:
            with transaction.atomic():
                IssuedTrackingId.objects.create(network=network, code=code)
            return code
        except IntegrityError:
            continue
    raise RuntimeError("could not find a free tracking ID in 20 tries")


def login_throttle_key(email: str, ip: str | None) -> str:
    return keyed_hash(f"{email}|{ip or '-'}", purpose="login-throttle")


def login_failure_record(*, email: str, ip: str | None) -> datetime | None:
    """Counts a failed sign-in; returns when the lock ends if this failure locked the pair."""
    key = login_throttle_key(email, ip)
    now = timezone.now()
    with transaction.atomic():
        throttle, _ = LoginThrottle.objects.select_for_update().get_or_create(
            key=key, defaults={"failures": 0, "last_failure_at": now}
        )
        if now - throttle.last_failure_at > settings.LOGIN_LOCKOUT:
            throttle.failures = 0  # old failures are forgiven after a quiet lockout period
        throttle.failures = F("failures") + 1 if throttle.failures else 1
        throttle.last_failure_at = now
        throttle.save(update_fields=["failures", "last_failure_at"])
        throttle.refresh_from_db(fields=["failures"])
        if throttle.failures >= settings.LOGIN_FAILURE_LIMIT:
            throttle.locked_until = now + settings.LOGIN_LOCKOUT
            throttle.save(update_fields=["locked_until"])
            # Tell the account holder (the task ignores addresses that are not an active user).
            transaction.on_commit(
                partial(
                    notify_account_locked.enqueue,
                    email=email,
                    locked_until=throttle.locked_until.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                    ip=ip or "unknown",
                )
            )
            return throttle.locked_until
    return None


def login_failures_clear(*, email: str, ip: str | None) -> None:
    LoginThrottle.objects.filter(key=login_throttle_key(email, ip)).delete()
