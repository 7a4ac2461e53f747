"""FHIR reads: the referral or inbound referral a resource id names (in the token's agency
only), the Tasks changed since a moment, and whether a requester may read its Task."""

from datetime import datetime

from django.db.models import Prefetch

from referloop.clients.models import Consent
from referloop.directory.models import Organization, ServiceAtLocation
from referloop.fhir.importer import ANSWER_CATEGORIES
from referloop.referrals.models import Referral, Status
from referloop.stays.models import InboundReferral
from referloop.stays.selectors import source_consent

REFERRAL_RELATED = ("agency", "client", "organization", "organization__agency", "disposition")
INBOUND_RELATED = ("agency", "client", "source_organization", "fhir", "stay")


def own_organization(agency) -> Organization | None:
    """The agency's own listing in the directory (the first, if it runs several)."""
    return (
        Organization.objects.filter(agency=agency)
        .select_related("agency")
        .prefetch_related("phones")
        .order_by("pk")
        .first()
    )


def referral_for_export(pk: int) -> Referral:
    return (
        Referral.objects.select_related(
            *REFERRAL_RELATED,
            "service",
            "service__organization",
            "consent",
            "consent__client",
            "consent__agency",
            "consent__recipient_organization",
        )
        .prefetch_related(
            "needs",
            "organization__phones",
            "service__phones",
            Prefetch(
                "service__service_at_locations",
                queryset=ServiceAtLocation.objects.select_related(
                    "location", "location__organization"
                ).prefetch_related("location__addresses"),
            ),
        )
        .get(pk=pk)
    )


def _number(resource_id: str, prefix: str) -> int | None:
    tail = resource_id.removeprefix(prefix)
    return (
        int(tail) if resource_id.startswith(prefix) and tail.isdigit() and len(tail) < 12 else None
    )


def referral_by_resource_id(user, agency, resource_id: str) -> Referral | None:
    """`referral-<id>`: a referral this agency sent (drafts are no Task yet)."""
    pk = _number(resource_id, "referral-")
    if pk is None:
        return None
    return (
        Referral.objects.visible_to(user, agency)
        .filter(agency=agency)
        .exclude(status=Status.DRAFT)
        .select_related(*REFERRAL_RELATED)
        .filter(pk=pk)
        .first()
    )


def inbound_by_resource_id(user, agency, resource_id: str) -> InboundReferral | None:
    """`inbound-<id>`: a referral made to this agency as FHIR."""
    pk = _number(resource_id, "inbound-")
    if pk is None:
        return None
    return (
        InboundReferral.objects.visible_to(user, agency)
        .filter(pk=pk, fhir__isnull=False)
        .select_related(*INBOUND_RELATED)
        .first()
    )


def answers_consent(inbound: InboundReferral):
    """Whether a consent lets us tell the requester how its referral goes (the client's
    consents as read with the page, when `tasks_changed` read them)."""
    prefetched = "consents" in getattr(inbound.client, "_prefetched_objects_cache", {})
    return source_consent(
        inbound, ANSWER_CATEGORIES, consents=inbound.client.consents.all() if prefetched else None
    )


def parent_tasks(referrals) -> dict[int, int]:
    """{referral id: inbound referral id} for referrals that pass on a referral made to us as
    FHIR: the same client's latest such inbound referral before it (one query for a page)."""
    referrals = list(referrals)
    if not referrals:
        return {}
    inbounds = list(
        InboundReferral.objects.filter(
            agency_id__in={r.agency_id for r in referrals},
            client_id__in={r.client_id for r in referrals},
            fhir__isnull=False,
        )
        .order_by("referred_at")
        .values_list("pk", "agency_id", "client_id", "referred_at")
    )
    parents = {}
    for referral in referrals:
        earlier = [
            pk
            for pk, agency_id, client_id, at in inbounds
            if (agency_id, client_id) == (referral.agency_id, referral.client_id)
            and at <= referral.created_at
        ]
        if earlier:
            parents[referral.pk] = earlier[-1]
    return parents


def tasks_changed(user, agency, *, since: datetime | None, referral_statuses, limit: int):
    """The agency's Tasks (referrals it sent, in `referral_statuses`; FHIR referrals made to
    it) last changed after `since`, oldest change first, each kind at most `limit` + 1: both
    read by their indexed `updated_at`."""
    referrals = (
        Referral.objects.visible_to(user, agency)
        .filter(agency=agency, status__in=referral_statuses)
        .select_related(*REFERRAL_RELATED)
    )
    inbounds = InboundReferral.objects.visible_to(user, agency).filter(fhir__isnull=False)
    if since is not None:
        referrals = referrals.filter(updated_at__gt=since)
        inbounds = inbounds.filter(updated_at__gt=since)
    referrals = list(referrals.order_by("updated_at", "pk")[: limit + 1])
    inbounds = list(
        inbounds.select_related(*INBOUND_RELATED)
        .prefetch_related(
            "fhir__identifiers",
            Prefetch(
                "client__consents",
                queryset=Consent.objects.select_related("agency", "recipient_organization"),
            ),
        )
        .order_by("updated_at", "pk")[: limit + 1]
    )
    return referrals, inbounds
