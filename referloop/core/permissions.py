"""Roles and what each may do: the one place that answers "may this member do that?"."""

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", "Administrator"
    COORDINATOR = "coordinator", "Referral coordinator"
    INTAKE = "intake", "Intake"
    PROGRAM_LEAD = "program_lead", "Program lead"
    AUDITOR = "auditor", "Auditor (read-only)"


class Perm(StrEnum):
    VIEW = "view"  # read the agency's data
    WRITE = "write"  # change the agency's working data (clients, referrals, partners, ...)
    VIEW_AGENCY_WORKLIST = "view_agency_worklist"  # everyone's due items, not only one's own
    VIEW_MEMBERS = "view_members"
    MANAGE_MEMBERS = "manage_members"
    CONFIGURE_AGENCY = "configure_agency"  # policies, time zone, codes, rules
    VIEW_AUDIT = "view_audit"
    RECEIVE_ESCALATIONS = "receive_escalations"  # overdue referrals escalate to these people


_STAFF = {Perm.VIEW, Perm.WRITE, Perm.VIEW_MEMBERS}
ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.ADMINISTRATOR: frozenset(Perm) - {Perm.RECEIVE_ESCALATIONS},
    Role.PROGRAM_LEAD: frozenset(
        _STAFF | {Perm.VIEW_AGENCY_WORKLIST, Perm.VIEW_AUDIT, Perm.RECEIVE_ESCALATIONS}
    ),
    Role.COORDINATOR: frozenset(_STAFF),
    Role.INTAKE: frozenset(_STAFF),
    Role.AUDITOR: frozenset(
        {Perm.VIEW, Perm.VIEW_MEMBERS, Perm.VIEW_AGENCY_WORKLIST, Perm.VIEW_AUDIT}
    ),
}


def role_has_perm(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMS.get(role, frozenset())


def has_perm(membership, perm: Perm) -> bool:
    return membership is not None and role_has_perm(membership.role, perm)
