"""The authorization matrix: every URL pattern in the URLconf × anonymous / each role of the own
agency / a user of another agency, with the expected answer declared here.

A new route without a row in MATRIX fails `test_every_route_is_declared`, so nobody can add a
page or an API endpoint without saying who may use it. Object routes also declare how to reach an
object of another agency: that must be a 404 (never a 403 that would confirm it exists) and write
an `access_denied` audit row.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from referloop.clients import models as client_models
from referloop.clients.services import consent_revoke
from referloop.core.models import AuditEvent, Membership, OutboundEmail
from referloop.core.outbox import outbox_enqueue
from referloop.core.permissions import Role
from referloop.core.services import api_token_create
from referloop.core.timeutils import agency_today
from referloop.directory.models import Contact
from referloop.intake import services as intake_services
from referloop.intake.models import Inquiry
from referloop.partners import services as partner_services
from referloop.partners.meetings import meeting_cancel, meeting_schedule
from referloop.partners.models import KeyContact, Material, Meeting, Relationship, Stage
from referloop.partners.services import partner_contact_create
from referloop.referrals.models import DispositionCode
from referloop.stays import services as stay_services
from referloop.stays.models import InboundReferral, Stay, UpdateOwed
from tests.conftest import Cast
from tests.directory import factories
from tests.directory import factories as directory_factories
from tests.partners import factories as partner_factories
from tests.referrals import factories as referral_factories

LOGIN = "login"  # a redirect to the sign-in page
ADMIN_LOGIN = "admin-login"  # a redirect to the admin site's sign-in page
ALL_ROLES = tuple(Role)


@dataclass(frozen=True)
class Route:
    """Who gets what from one route. Codes are HTTP statuses, or LOGIN / ADMIN_LOGIN."""

    anonymous: int | str
    roles: dict = field(default_factory=dict)  # role -> expected; missing roles use `member`
    member: int | str = 200
    method: str = "GET"
    api: bool = False  # authenticates with a bearer token instead of a session
    kwargs: Callable[[Cast], dict] | None = None  # path arguments reaching an own-agency object
    other_agency_kwargs: Callable[[Cast], dict] | None = None  # ... reaching agency B's object
    data: Callable[[Cast], dict] | None = None
    json: bool = False  # the body is JSON (API writes), not a form

    def expected_for(self, role) -> int | str:
        return self.roles.get(role, self.member)


def _own_member(cast: Cast) -> dict:
    return {"pk": Membership.objects.get(user=cast.coordinator).pk}


def _other_member(cast: Cast) -> dict:
    return {"pk": Membership.objects.get(user=cast.admin_b).pk}


def _api_own_member(cast: Cast) -> dict:
    return {"member_id": _own_member(cast)["pk"]}


def _api_other_member(cast: Cast) -> dict:
    return {"member_id": _other_member(cast)["pk"]}


def _listing(cast: Cast, *, network, agency) -> int:
    organization = factories.organization(network=network, agency=agency, name="Listing Org")
    return factories.service(organization=organization, name="Listed Service").pk


def _own_listing(cast: Cast) -> dict:
    """A directory service run by agency A (in A's network)."""
    return {"pk": _listing(cast, network=cast.network, agency=cast.agency_a)}


def _other_network_listing(cast: Cast) -> dict:
    """A directory service of another network, which agency A's people must not reach."""
    return {"pk": _listing(cast, network=cast.other_network, agency=cast.agency_c)}


def _public_listing(cast: Cast) -> dict:
    organization = factories.organization(network=cast.network, name="Public Org")
    return {"hsds_id": factories.service(organization=organization, name="Public Service").hsds_id}


def _api(kwargs_for):
    return lambda cast: {"service_id": kwargs_for(cast)["pk"]}


def _referral_in(agency, user) -> int:
    return referral_factories.sample_referral(agency=agency, actor=user).pk


def _own_referral(cast: Cast) -> dict:
    return {"pk": _referral_in(cast.agency_a, cast.coordinator)}


def _other_referral(cast: Cast) -> dict:
    """A referral of agency B (same network) that was not sent to agency A."""
    return {"pk": _referral_in(cast.agency_b, cast.admin_b)}


def _own_client(cast: Cast) -> dict:
    return {"pk": referral_factories.client(agency=cast.agency_a).pk}


def _other_client(cast: Cast) -> dict:
    return {"pk": referral_factories.client(agency=cast.agency_b).pk}


def _consent_of(agency) -> int:
    person = referral_factories.client(agency=agency)
    org, _ = referral_factories.partner(network=agency.network)
    return referral_factories.consent(client=person, organization=org).pk


def _code_of(agency) -> dict:
    return {"pk": DispositionCode.objects.filter(agency=agency, code="other").get().pk}


def _own_code(cast: Cast) -> dict:
    return _code_of(cast.agency_a)


def _other_code(cast: Cast) -> dict:
    return _code_of(cast.agency_b)


def _own_consent(cast: Cast) -> dict:
    return {"pk": _consent_of(cast.agency_a)}


def _other_consent(cast: Cast) -> dict:
    return {"pk": _consent_of(cast.agency_b)}


def _api_as(name: str, kwargs_for):
    """An API route's path argument `name` for the object a web-route helper makes."""
    return lambda cast: {name: kwargs_for(cast)["pk"]}


def _own_revoked_consent(cast: Cast) -> dict:
    consent = client_models.Consent.objects.get(pk=_own_consent(cast)["pk"])
    consent_revoke(consent=consent, actor=cast.coordinator, method="In writing")
    return {"pk": consent.pk}


def _own_draft(cast: Cast) -> dict:
    draft = referral_factories.sample_referral(
        agency=cast.agency_a, actor=cast.coordinator, sent=False
    )
    return {"pk": draft.pk}


def _own_draft_without_consent(cast: Cast) -> dict:
    org, _ = referral_factories.partner(network=cast.network)
    person = referral_factories.client(agency=cast.agency_a)
    draft = referral_factories.referral(client=person, organization=org, actor=cast.coordinator)
    return {"pk": draft.pk}


def _packet_of(agency, user) -> dict:
    referral = referral_factories.sample_referral(agency=agency, actor=user)
    return {"pk": referral.pk, "packet_pk": referral.packets.get().pk}


def _own_packet(cast: Cast) -> dict:
    return _packet_of(cast.agency_a, cast.coordinator)


def _other_packet(cast: Cast) -> dict:
    """A packet of agency B's referral, sent to a partner that is not agency A."""
    return _packet_of(cast.agency_b, cast.admin_b)


def _api_client_patch(cast: Cast) -> dict:
    """The version the caller last read: each member's change follows the one before."""
    latest = client_models.Client.objects.filter(agency=cast.agency_a).order_by("-pk").first()
    return {"version": latest.version if latest else 1, "preferred_language": "es"}


def _api_new_referral(cast: Cast) -> dict:
    org, _ = referral_factories.partner(network=cast.network)
    return {"client": referral_factories.client(agency=cast.agency_a).pk, "organization": org.pk}


API_CLIENT = _api_as("client_id", _own_client)
API_OTHER_CLIENT = _api_as("client_id", _other_client)
API_REFERRAL = _api_as("referral_id", _own_referral)
API_OTHER_REFERRAL = _api_as("referral_id", _other_referral)
API_NEW_CLIENT = {"first_name": "Matrix", "last_name": "Person", "allow_duplicate": True}
API_CONSENT = {
    "recipient_class": "network_agencies",
    "categories": ["identity"],
    "purpose": "Referral",
    "signed_at": "2020-01-01T00:00:00Z",
    "signed_by_name": "Matrix Person",
    "no_expiry": True,
}


def _reply_token(cast: Cast) -> dict:
    """The token of a live partner reply link, as the partner's e-mail carries it."""
    referral = referral_factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator)
    message = OutboundEmail.objects.get(dedupe_key=f"referral-partner:{referral.pk}")
    return {"token": re.search(r"/r/([A-Za-z0-9_-]{43})", message.body_text).group(1)}


def _message_of(agency) -> dict:
    message, _ = outbox_enqueue(
        dedupe_key=f"matrix:{agency.slug}",
        kind="test",
        to="someone@example.org",
        subject="Hello",
        body_text="Hello.",
        agency=agency,
    )
    return {"pk": message.pk}


def _own_message(cast: Cast) -> dict:
    return _message_of(cast.agency_a)


def _other_message(cast: Cast) -> dict:
    return _message_of(cast.agency_b)


def _partner_contact(agency, user):
    organization = factories.organization(network=agency.network, name=f"{agency.name} Partner")
    return partner_contact_create(
        agency=agency,
        actor=user,
        name="Matrix Partner",
        organization=organization,
        email=f"partner@{agency.slug}.example.org",
    )


def _meeting_in(agency, user) -> Meeting:
    starts = timezone.now() + timedelta(days=7)
    return meeting_schedule(
        agency=agency,
        actor=user,
        title="Matrix meeting",
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        contacts=[_partner_contact(agency, user).pk],
    )


def _own_meeting(cast: Cast) -> dict:
    return {"pk": _meeting_in(cast.agency_a, cast.coordinator).pk}


def _other_meeting(cast: Cast) -> dict:
    return {"pk": _meeting_in(cast.agency_b, cast.admin_b).pk}


def _own_cancelled_meeting(cast: Cast) -> dict:
    meeting = _meeting_in(cast.agency_a, cast.coordinator)
    return {"pk": meeting_cancel(meeting=meeting, actor=cast.coordinator).pk}


def _meeting_form(cast: Cast) -> dict:
    contact = Contact.objects.filter(network=cast.network, email__startswith="partner@").first()
    contact = contact or _partner_contact(cast.agency_a, cast.coordinator)
    day = (timezone.now() + timedelta(days=7)).date().isoformat()
    return {
        "title": "Matrix meeting",
        "day": day,
        "starts": "09:00",
        "ends": "10:00",
        "kind": "in_person",
        "contacts": [contact.pk],
    }


def _api_meeting(cast: Cast) -> dict:
    starts = (timezone.now() + timedelta(days=7)).replace(microsecond=0).isoformat()
    ends = (timezone.now() + timedelta(days=7, hours=1)).replace(microsecond=0).isoformat()
    contact = _meeting_form(cast)["contacts"][0]
    return {"title": "Matrix meeting", "starts_at": starts, "ends_at": ends, "contacts": [contact]}


API_MEETING = _api_as("meeting_id", _own_meeting)
API_OTHER_MEETING = _api_as("meeting_id", _other_meeting)


def _material_of(agency) -> int:
    return Material.objects.create(agency=agency, name="Matrix card", kind="business_card").pk


def _own_material(cast: Cast) -> dict:
    return {"pk": _material_of(cast.agency_a)}


def _other_material(cast: Cast) -> dict:
    return {"pk": _material_of(cast.agency_b)}


def _new_material(cast: Cast) -> dict:
    """A name not taken yet: each member adds their own."""
    count = Material.objects.filter(agency=cast.agency_a).count()
    return {"name": f"Matrix flyer {count}", "kind": "other", "on_hand": 5}


def _unsubscribe_token(cast: Cast) -> dict:
    """The token of a live unsubscribe link, as the availability e-mail carries it."""
    organization = factories.organization(network=cast.network, name="Matrix Partner")
    contact = partner_services.partner_contact_create(
        agency=cast.agency_a,
        actor=cast.coordinator,
        name="Matrix Contact",
        organization=organization,
        email="matrix@partner.example.org",
    )
    key = KeyContact.objects.get(contact=contact)
    partner_services.relationship_stage_move(
        relationship=key.relationship, actor=cast.coordinator, stage=Stage.TRUST
    )
    partner_services.availability_opt_in(key_contact=key, actor=None, opted_in=True)
    service = factories.service(
        organization=factories.organization(network=cast.network, agency=cast.agency_a),
        name="Matrix beds",
    )
    factories.capacity(service=service, available=1, maximum=2)
    partner_services.availability_email_send(agency=cast.agency_a, actor=cast.coordinator)
    message = OutboundEmail.objects.get(to="matrix@partner.example.org")
    return {"token": re.search(r"/unsubscribe/([A-Za-z0-9_-]{43})/", message.body_text).group(1)}


CAPACITY = {"unit": "beds", "available": 1, "maximum": 5}
LISTING = {"name": "Matrix listing", "status": "active", "verified": "on"}

ADMINISTRATOR_ONLY = {role: 403 for role in Role if role != Role.ADMINISTRATOR}
# Retrying and cancelling a message of the Outbox: administrators, by POST, their agency's only.
OUTBOX_ACTION = {
    "GET": Route(anonymous=LOGIN, roles=ADMINISTRATOR_ONLY, member=405, kwargs=_own_message),
    "POST": Route(
        method="POST",
        anonymous=LOGIN,
        roles=ADMINISTRATOR_ONLY,
        member=302,
        kwargs=_own_message,
        other_agency_kwargs=_other_message,
    ),
}
AUDIT_READERS = {Role.COORDINATOR: 403, Role.INTAKE: 403}
READ_ONLY_REFUSED = {Role.AUDITOR: 403}

MATRIX: dict[str, Route] = {
    "home": Route(anonymous=LOGIN, member=302),
    "healthz": Route(anonymous=200),
    "login": Route(anonymous=200, member=302),
    "logout": Route(anonymous=405, member=405),
    "worklist:index": Route(anonymous=LOGIN),
    "worklist:badge": Route(anonymous=LOGIN),
    "core:agency_switch": Route(anonymous=405, member=405),
    "core:agency_settings": Route(anonymous=LOGIN, roles=ADMINISTRATOR_ONLY),
    "core:member_list": Route(anonymous=LOGIN),
    "core:member_edit": Route(
        anonymous=LOGIN,
        roles=ADMINISTRATOR_ONLY,
        kwargs=_own_member,
        other_agency_kwargs=_other_member,
    ),
    "core:audit_log": Route(anonymous=LOGIN, roles=AUDIT_READERS),
    "core:outbox": Route(anonymous=LOGIN, roles=ADMINISTRATOR_ONLY),
    "core:outbox_detail": Route(
        anonymous=LOGIN,
        roles=ADMINISTRATOR_ONLY,
        kwargs=_own_message,
        other_agency_kwargs=_other_message,
    ),
    "core:outbox_retry": OUTBOX_ACTION["GET"],
    "core:outbox_cancel": OUTBOX_ACTION["GET"],
    # The partner's reply page: public, the token is the key; signed-in staff are no different.
    "reply": Route(anonymous=200, kwargs=_reply_token),
    "api:api-root": Route(anonymous=404, member=404, api=True),
    "api:openapi-json": Route(anonymous=200, api=True),
    "api:openapi-view": Route(anonymous=200, api=True),
    "api:me": Route(anonymous=401, api=True),
    "api:member_list": Route(anonymous=401, api=True),
    "api:member_detail": Route(
        anonymous=401,
        api=True,
        kwargs=_api_own_member,
        other_agency_kwargs=_api_other_member,
    ),
    "api:member_update": Route(
        anonymous=401,
        api=True,
        kwargs=_api_own_member,
        other_agency_kwargs=_api_other_member,
    ),
    "api:audit_event_list": Route(anonymous=401, api=True, roles=AUDIT_READERS),
    "api:worklist": Route(anonymous=401, api=True),
    "directory:search": Route(anonymous=LOGIN),
    "directory:service_detail": Route(
        anonymous=LOGIN, kwargs=_own_listing, other_agency_kwargs=_other_network_listing
    ),
    "directory:capacity_update": Route(
        anonymous=LOGIN, roles=READ_ONLY_REFUSED, member=405, kwargs=_own_listing
    ),
    "directory:listing_create": Route(anonymous=LOGIN, roles=READ_ONLY_REFUSED),
    "directory:listing_edit": Route(
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        kwargs=_own_listing,
        other_agency_kwargs=_other_network_listing,
    ),
    "directory:listing_verify": Route(
        anonymous=LOGIN, roles=READ_ONLY_REFUSED, member=405, kwargs=_own_listing
    ),
    "public:search": Route(anonymous=200),
    "public:service": Route(anonymous=200, kwargs=_public_listing),
    "public:export": Route(anonymous=200, kwargs=lambda cast: {"fmt": "json"}),
    "api:directory_search_list": Route(anonymous=401, api=True),
    "api:directory_service": Route(
        anonymous=401,
        api=True,
        kwargs=_api(_own_listing),
        other_agency_kwargs=_api(_other_network_listing),
    ),
    # Shares its path with api:directory_search_list: a GET there is that operation.
    "api:directory_service_create": Route(anonymous=401, api=True),
    # Shares its path with api:directory_service: a GET there is that operation.
    "api:directory_service_update": Route(
        anonymous=401,
        api=True,
        kwargs=_api(_own_listing),
        other_agency_kwargs=_api(_other_network_listing),
    ),
    "api:directory_capacity_history": Route(
        anonymous=401,
        api=True,
        kwargs=_api(_own_listing),
        other_agency_kwargs=_api(_other_network_listing),
    ),
    "clients:list": Route(anonymous=LOGIN),
    "clients:create": Route(anonymous=LOGIN, roles=READ_ONLY_REFUSED),
    "clients:detail": Route(anonymous=LOGIN, kwargs=_own_client, other_agency_kwargs=_other_client),
    "clients:edit": Route(
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        kwargs=_own_client,
        other_agency_kwargs=_other_client,
    ),
    "clients:consent_create": Route(
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        kwargs=_own_client,
        other_agency_kwargs=_other_client,
    ),
    "clients:consent_revoke": Route(
        anonymous=LOGIN, roles=READ_ONLY_REFUSED, member=405, kwargs=_own_consent
    ),
    "clients:consent_end": Route(
        anonymous=LOGIN, roles=READ_ONLY_REFUSED, member=405, kwargs=_own_consent
    ),
    "referrals:list": Route(anonymous=LOGIN),
    "referrals:dispositions": Route(anonymous=LOGIN, roles=ADMINISTRATOR_ONLY),
    "referrals:disposition_update": Route(
        anonymous=LOGIN, roles=ADMINISTRATOR_ONLY, member=405, kwargs=_own_code
    ),
    "referrals:create": Route(anonymous=LOGIN, roles=READ_ONLY_REFUSED),
    "referrals:detail": Route(
        anonymous=LOGIN, kwargs=_own_referral, other_agency_kwargs=_other_referral
    ),
    # Packets and the disclosure ledger: reading them is VIEW; the PDF re-checks the consent.
    "referrals:packet": Route(
        anonymous=LOGIN, kwargs=_own_packet, other_agency_kwargs=_other_packet
    ),
    "referrals:packet_pdf": Route(
        anonymous=LOGIN, kwargs=_own_packet, other_agency_kwargs=_other_packet
    ),
    "referrals:packet_preview": Route(
        anonymous=LOGIN, kwargs=_own_referral, other_agency_kwargs=_other_referral
    ),
    "clients:disclosures": Route(
        anonymous=LOGIN, kwargs=_own_client, other_agency_kwargs=_other_client
    ),
    **{
        f"referrals:{name}": Route(
            anonymous=LOGIN, roles=READ_ONLY_REFUSED, member=405, kwargs=_own_referral
        )
        for name in (
            "send",
            "transition",
            "answer",
            "follow_up",
            "note",
            "reassign",
            "bounce_resolve",
        )
    },
    # ninja answers a wrong method before it authenticates
    "api:directory_capacity_update": Route(
        anonymous=405, api=True, member=405, kwargs=_api(_own_listing)
    ),
    # Routes that share a path with another operation answer GET as that operation does.
    "api:client_list": Route(anonymous=401, api=True),
    "api:client_create": Route(anonymous=401, api=True),
    "api:client_detail": Route(
        anonymous=401, api=True, kwargs=API_CLIENT, other_agency_kwargs=API_OTHER_CLIENT
    ),
    "api:client_update": Route(anonymous=401, api=True, kwargs=API_CLIENT),
    "api:client_consent_list": Route(
        anonymous=401, api=True, kwargs=API_CLIENT, other_agency_kwargs=API_OTHER_CLIENT
    ),
    "api:client_consent_create": Route(anonymous=401, api=True, kwargs=API_CLIENT),
    "api:client_disclosure_list": Route(
        anonymous=401, api=True, kwargs=API_CLIENT, other_agency_kwargs=API_OTHER_CLIENT
    ),
    "api:consent_revoke": Route(
        anonymous=405, api=True, member=405, kwargs=_api_as("consent_id", _own_consent)
    ),
    "api:consent_end": Route(
        anonymous=405, api=True, member=405, kwargs=_api_as("consent_id", _own_consent)
    ),
    "api:referral_list": Route(anonymous=401, api=True),
    "api:referral_create": Route(anonymous=401, api=True),
    "api:referral_detail": Route(
        anonymous=401, api=True, kwargs=API_REFERRAL, other_agency_kwargs=API_OTHER_REFERRAL
    ),
    "api:referral_timeline": Route(
        anonymous=401, api=True, kwargs=API_REFERRAL, other_agency_kwargs=API_OTHER_REFERRAL
    ),
    "api:referral_reply_list": Route(
        anonymous=401, api=True, kwargs=API_REFERRAL, other_agency_kwargs=API_OTHER_REFERRAL
    ),
    "api:referral_packet_pdf": Route(
        anonymous=401, api=True, kwargs=API_REFERRAL, other_agency_kwargs=API_OTHER_REFERRAL
    ),
    **{
        f"api:{name}": Route(anonymous=405, api=True, member=405, kwargs=API_REFERRAL)
        for name in (
            "referral_send",
            "referral_transition",
            "referral_reassign",
            "referral_bounce_resolve",
            "referral_follow_up_create",
            "referral_note_create",
            "referral_contact_attempt_create",
        )
    },
    "api:disposition_list": Route(anonymous=401, api=True),
    "api:disposition_update": Route(
        anonymous=405, api=True, member=405, kwargs=lambda cast: {"code": "other"}
    ),
    "partners:meeting_list": Route(anonymous=LOGIN),
    "partners:meeting_create": Route(anonymous=LOGIN, roles=READ_ONLY_REFUSED),
    "partners:meeting_detail": Route(
        anonymous=LOGIN, kwargs=_own_meeting, other_agency_kwargs=_other_meeting
    ),
    "partners:meeting_edit": Route(
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        kwargs=_own_meeting,
        other_agency_kwargs=_other_meeting,
    ),
    "partners:meeting_cancel": Route(
        anonymous=LOGIN, roles=READ_ONLY_REFUSED, member=405, kwargs=_own_meeting
    ),
    "partners:meeting_reply": Route(
        anonymous=LOGIN, roles=READ_ONLY_REFUSED, member=405, kwargs=_own_meeting
    ),
    "partners:meeting_invite": Route(
        anonymous=LOGIN, kwargs=_own_meeting, other_agency_kwargs=_other_meeting
    ),
    # Shares its path with api:meeting_create: a GET there is that operation.
    "api:meeting_list": Route(anonymous=401, api=True),
    "api:meeting_create": Route(anonymous=401, api=True),
    "api:meeting_detail": Route(
        anonymous=401, api=True, kwargs=API_MEETING, other_agency_kwargs=API_OTHER_MEETING
    ),
    "api:meeting_update": Route(
        anonymous=401, api=True, kwargs=API_MEETING, other_agency_kwargs=API_OTHER_MEETING
    ),
    "api:meeting_cancel": Route(anonymous=405, api=True, member=405, kwargs=API_MEETING),
    "api:meeting_invite": Route(
        anonymous=401, api=True, kwargs=API_MEETING, other_agency_kwargs=API_OTHER_MEETING
    ),
    "partners:materials": Route(anonymous=LOGIN),
    "partners:material_create": Route(anonymous=LOGIN, roles=READ_ONLY_REFUSED),
    "partners:material_edit": Route(
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        kwargs=_own_material,
        other_agency_kwargs=_other_material,
    ),
    "partners:availability": Route(anonymous=LOGIN),
    "partners:availability_send": Route(anonymous=LOGIN, roles=READ_ONLY_REFUSED, member=405),
    "partners:availability_opt_ins": Route(anonymous=LOGIN, roles=READ_ONLY_REFUSED, member=405),
    # The availability e-mail's unsubscribe page: public, the token is the key.
    "partners:unsubscribe": Route(anonymous=200, kwargs=_unsubscribe_token),
    "api:material_list": Route(anonymous=401, api=True),
    # Shares its path with api:material_list: a GET there is that operation.
    "api:material_create": Route(anonymous=401, api=True),
    "api:material_update": Route(
        anonymous=405, api=True, member=405, kwargs=_api_as("material_id", _own_material)
    ),
}
# The same routes with a second method, where the method changes who may do what.
POSTS: dict[str, Route] = {
    "reply": Route(
        method="POST",
        anonymous=302,
        member=302,
        kwargs=_reply_token,
        data=lambda cast: {"answer": "received"},
    ),
    "logout": Route(method="POST", anonymous=302, member=302),
    # Unsubscribing is at once and idempotent: the page says so, whoever posts.
    "partners:unsubscribe": Route(
        method="POST", anonymous=200, member=200, kwargs=_unsubscribe_token
    ),
    "partners:material_create": Route(
        method="POST", anonymous=LOGIN, roles=READ_ONLY_REFUSED, member=302, data=_new_material
    ),
    "partners:material_edit": Route(
        method="POST",
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        member=302,
        kwargs=_own_material,
        other_agency_kwargs=_other_material,
        data=lambda cast: {"name": "Matrix card", "kind": "business_card", "on_hand": 3},
    ),
    # Sending says what happened on the page it redirects to (sent, or already sent this month).
    "partners:availability_send": Route(
        method="POST", anonymous=LOGIN, roles=READ_ONLY_REFUSED, member=302
    ),
    "partners:availability_opt_ins": Route(
        method="POST", anonymous=LOGIN, roles=READ_ONLY_REFUSED, member=302
    ),
    "api:material_create": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=201,
        api=True,
        json=True,
        data=_new_material,
    ),
    "api:material_update": Route(
        method="PATCH",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        api=True,
        json=True,
        kwargs=_api_as("material_id", _own_material),
        other_agency_kwargs=_api_as("material_id", _other_material),
        data=lambda cast: {"on_hand": 7},
    ),
    "core:outbox_retry": OUTBOX_ACTION["POST"],
    "core:outbox_cancel": OUTBOX_ACTION["POST"],
    "core:agency_switch": Route(
        method="POST",
        anonymous=LOGIN,
        member=302,
        data=lambda cast: {"agency": cast.agency_a.slug},
    ),
    "directory:capacity_update": Route(
        method="POST",
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        member=302,
        kwargs=_own_listing,
        other_agency_kwargs=_other_network_listing,
        data=lambda cast: CAPACITY,
    ),
    "directory:listing_verify": Route(
        method="POST",
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        member=302,
        kwargs=_own_listing,
        other_agency_kwargs=_other_network_listing,
    ),
    "directory:listing_create": Route(
        method="POST",
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        member=302,
        data=lambda cast: LISTING,
    ),
    "api:directory_service_create": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=201,
        api=True,
        json=True,
        data=lambda cast: {"name": "Matrix listing", "needs": ["detox"]},
    ),
    "directory:listing_edit": Route(
        method="POST",
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        member=302,
        kwargs=_own_listing,
        other_agency_kwargs=_other_network_listing,
        data=lambda cast: LISTING,
    ),
    "api:directory_service_update": Route(
        method="PATCH",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        api=True,
        json=True,
        kwargs=_api(_own_listing),
        other_agency_kwargs=_api(_other_network_listing),
        data=lambda cast: {"alert": "Intake paused this week"},
    ),
    "api:directory_capacity_update": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        api=True,
        json=True,
        kwargs=_api(_own_listing),
        other_agency_kwargs=_api(_other_network_listing),
        data=lambda cast: CAPACITY,
    ),
    "clients:consent_revoke": Route(
        method="POST",
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        member=302,
        kwargs=_own_consent,
        other_agency_kwargs=_other_consent,
        data=lambda cast: {"revocation_method": "In writing"},
    ),
    "referrals:disposition_update": Route(
        method="POST",
        anonymous=LOGIN,
        roles=ADMINISTRATOR_ONLY,
        member=302,
        kwargs=_own_code,
        other_agency_kwargs=_other_code,
        data=lambda cast: {"label": "Something else", "is_active": "on"},
    ),
    "clients:consent_end": Route(
        method="POST",
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        member=302,
        kwargs=_own_consent,
        other_agency_kwargs=_other_consent,
    ),
    "api:client_create": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=201,
        api=True,
        json=True,
        data=lambda cast: API_NEW_CLIENT,
    ),
    "api:client_update": Route(
        method="PATCH",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        api=True,
        json=True,
        kwargs=API_CLIENT,
        other_agency_kwargs=API_OTHER_CLIENT,
        data=_api_client_patch,
    ),
    "api:client_consent_create": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=201,
        api=True,
        json=True,
        kwargs=API_CLIENT,
        other_agency_kwargs=API_OTHER_CLIENT,
        data=lambda cast: API_CONSENT,
    ),
    # An already revoked consent: every member reaches the service, which says so (409).
    "api:consent_revoke": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=409,
        api=True,
        json=True,
        kwargs=_api_as("consent_id", _own_revoked_consent),
        other_agency_kwargs=_api_as("consent_id", _other_consent),
        data=lambda cast: {"method": "In writing"},
    ),
    # Nothing changed: administrators reach the service, which saves the same (200).
    "api:member_update": Route(
        method="PATCH",
        anonymous=401,
        roles=ADMINISTRATOR_ONLY,
        api=True,
        json=True,
        kwargs=_api_own_member,
        other_agency_kwargs=_api_other_member,
        data=lambda cast: {"is_active": True},
    ),
    # A consent that ends on no event: every member reaches the service, which says so (400).
    "api:consent_end": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=400,
        api=True,
        json=True,
        kwargs=_api_as("consent_id", _own_consent),
        other_agency_kwargs=_api_as("consent_id", _other_consent),
    ),
    # Not bounced back: every member reaches the service, which says so (409).
    "api:referral_bounce_resolve": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=409,
        api=True,
        json=True,
        kwargs=API_REFERRAL,
        other_agency_kwargs=API_OTHER_REFERRAL,
        data=lambda cast: {"note": "Placed elsewhere."},
    ),
    # A code is named by its code, which every agency has: there is no other agency's to reach.
    "api:disposition_update": Route(
        method="PATCH",
        anonymous=401,
        roles=ADMINISTRATOR_ONLY,
        member=200,
        api=True,
        json=True,
        kwargs=lambda cast: {"code": "other"},
        data=lambda cast: {"label": "Something else"},
    ),
    # To its owner already: every member reaches the service, which changes nothing (200).
    "api:referral_reassign": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=200,
        api=True,
        json=True,
        kwargs=API_REFERRAL,
        other_agency_kwargs=API_OTHER_REFERRAL,
        data=lambda cast: {"owner": cast.coordinator.pk},
    ),
    "api:referral_create": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=201,
        api=True,
        json=True,
        data=_api_new_referral,
    ),
    # A draft without consent: every member reaches the consent gate, which refuses (409).
    "api:referral_send": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=409,
        api=True,
        json=True,
        kwargs=_api_as("referral_id", _own_draft_without_consent),
        other_agency_kwargs=API_OTHER_REFERRAL,
    ),
    # Completing a draft: every member reaches the life cycle's rules, which refuse (400).
    "api:referral_transition": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=400,
        api=True,
        json=True,
        kwargs=_api_as("referral_id", _own_draft),
        other_agency_kwargs=API_OTHER_REFERRAL,
        data=lambda cast: {"status": "completed"},
    ),
    **{
        f"api:{name}": Route(
            method="POST",
            anonymous=401,
            roles=READ_ONLY_REFUSED,
            member=201,
            api=True,
            json=True,
            kwargs=API_REFERRAL,
            other_agency_kwargs=API_OTHER_REFERRAL,
            data=lambda cast: {"note": "Called the partner."},
        )
        for name in (
            "referral_follow_up_create",
            "referral_note_create",
            "referral_contact_attempt_create",
        )
    },
    **{
        f"referrals:{name}": Route(
            method="POST",
            anonymous=LOGIN,
            roles=READ_ONLY_REFUSED,
            member=302,
            kwargs=_own_referral,
            other_agency_kwargs=_other_referral,
            data=lambda cast: {"note": "Called the partner."},
        )
        for name in ("note",)
    },
    "partners:meeting_create": Route(
        method="POST",
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        member=302,
        data=_meeting_form,
    ),
    "partners:meeting_edit": Route(
        method="POST",
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        member=302,
        kwargs=_own_meeting,
        other_agency_kwargs=_other_meeting,
        data=_meeting_form,
    ),
    # Cancelling twice is the service's refusal shown on the page: a redirect either way.
    "partners:meeting_cancel": Route(
        method="POST",
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        member=302,
        kwargs=_own_meeting,
        other_agency_kwargs=_other_meeting,
    ),
    # Without a file: the form's error on the meeting page.
    "partners:meeting_reply": Route(
        method="POST",
        anonymous=LOGIN,
        roles=READ_ONLY_REFUSED,
        member=302,
        kwargs=_own_meeting,
        other_agency_kwargs=_other_meeting,
    ),
    "api:meeting_create": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=201,
        api=True,
        json=True,
        data=_api_meeting,
    ),
    # An already cancelled meeting: every member reaches the service, which says so (409).
    "api:meeting_update": Route(
        method="PATCH",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        api=True,
        json=True,
        kwargs=API_MEETING,
        other_agency_kwargs=API_OTHER_MEETING,
        data=lambda cast: {"location": "Room 2"},
    ),
    "api:meeting_cancel": Route(
        method="POST",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=409,
        api=True,
        json=True,
        kwargs=_api_as("meeting_id", _own_cancelled_meeting),
        other_agency_kwargs=API_OTHER_MEETING,
    ),
}
# Django's admin site is for the people who run the installation (is_staff), never agency staff:
# every admin route ends, after its redirects, on the admin sign-in page for anonymous users and
# agency members alike (test_admin_site_refuses_everyone_but_installation_staff).


def _walk(patterns, prefix="", namespaces=()):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = (pattern.namespace,) if pattern.namespace else ()
            yield from _walk(
                pattern.url_patterns, prefix + str(pattern.pattern), namespaces + namespace
            )
        elif isinstance(pattern, URLPattern):
            name = (
                ":".join((*namespaces, pattern.name))
                if pattern.name
                else prefix + str(pattern.pattern)
            )
            yield name, prefix + str(pattern.pattern), pattern


# --- partners ---------------------------------------------------------------------------------


def _own_relationship(cast: Cast) -> dict:
    return {"pk": partner_factories.relationship(agency=cast.agency_a, actor=cast.coordinator).pk}


def _other_relationship(cast: Cast) -> dict:
    return {"pk": partner_factories.relationship(agency=cast.agency_b, name="B's partner").pk}


def _own_person(cast: Cast) -> dict:
    relationship = partner_factories.relationship(agency=cast.agency_a, actor=cast.coordinator)
    return {"pk": partner_factories.person(relationship=relationship, actor=cast.coordinator).pk}


def _other_network_person(cast: Cast) -> dict:
    """A partner person of another network's directory (agency C's)."""
    relationship = partner_factories.relationship(agency=cast.agency_c, name="C's partner")
    return {"pk": partner_factories.person(relationship=relationship, actor=cast.admin_c).pk}


def _own_owed(cast: Cast) -> dict:
    relationship = partner_factories.relationship(agency=cast.agency_a, actor=cast.coordinator)
    person = partner_factories.person(relationship=relationship, actor=cast.coordinator)
    return {"pk": KeyContact.objects.get(contact=person).pk}


def _other_owed(cast: Cast) -> dict:
    relationship = partner_factories.relationship(agency=cast.agency_b, name="B's partner")
    person = partner_factories.person(relationship=relationship, actor=cast.admin_b)
    return {"pk": KeyContact.objects.get(contact=person).pk}


def _own_sent_referral(cast: Cast) -> dict:
    return {
        "pk": referral_factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator).pk
    }


def _other_sent_referral(cast: Cast) -> dict:
    return {"pk": referral_factories.sample_referral(agency=cast.agency_b, actor=cast.admin_b).pk}


def _partner_object(kwargs, other_kwargs, **fields) -> Route:
    return Route(anonymous=LOGIN, kwargs=kwargs, other_agency_kwargs=other_kwargs, **fields)


_WRITE_PAGE = {"roles": READ_ONLY_REFUSED}
# The log fragment without htmx sends people to the partner page's form.
MATRIX |= {
    "partners:list": Route(anonymous=LOGIN),
    "partners:board": Route(anonymous=LOGIN),
    "partners:people": Route(anonymous=LOGIN),
    "partners:add": Route(anonymous=LOGIN, **_WRITE_PAGE),
    "partners:detail": _partner_object(_own_relationship, _other_relationship),
    "partners:edit": _partner_object(_own_relationship, _other_relationship, **_WRITE_PAGE),
    "partners:stage": Route(anonymous=LOGIN, member=405, kwargs=_own_relationship, **_WRITE_PAGE),
    "partners:log_form": _partner_object(
        _own_relationship, _other_relationship, member=302, **_WRITE_PAGE
    ),
    "partners:referral_log": _partner_object(
        _own_sent_referral, _other_sent_referral, member=302, **_WRITE_PAGE
    ),
    "partners:contact_add": _partner_object(_own_relationship, _other_relationship, **_WRITE_PAGE),
    "partners:contact_edit": _partner_object(_own_person, _other_network_person, **_WRITE_PAGE),
    "partners:contact_move": _partner_object(_own_person, _other_network_person, **_WRITE_PAGE),
    "partners:contact_merge": Route(anonymous=LOGIN, member=405, **_WRITE_PAGE),
    "partners:key_contact_done": Route(
        anonymous=LOGIN, member=405, kwargs=_own_owed, **_WRITE_PAGE
    ),
}
_PARTNER_POST = {"method": "POST", "anonymous": LOGIN, "member": 302, **_WRITE_PAGE}
POSTS |= {
    "partners:stage": Route(
        kwargs=_own_relationship,
        other_agency_kwargs=_other_relationship,
        data=lambda cast: {"stage": "rapport"},
        **_PARTNER_POST,
    ),
    "partners:log_form": Route(
        kwargs=_own_relationship,
        other_agency_kwargs=_other_relationship,
        data=lambda cast: {"kind": "call", "occurred_on": "2000-01-01", "summary": "Matrix"},
        **_PARTNER_POST,
    ),
    "partners:key_contact_done": Route(
        kwargs=_own_owed, other_agency_kwargs=_other_owed, **_PARTNER_POST
    ),
}


def _api_relationship(kwargs):
    return lambda cast: {"relationship_id": kwargs(cast)["pk"]}


def _api_person(kwargs):
    return lambda cast: {"contact_id": kwargs(cast)["pk"]}


def _partner_api(method="GET", member=200, kwargs=None, other=None, data=None) -> Route:
    return Route(
        method=method,
        anonymous=401,
        roles=READ_ONLY_REFUSED if method != "GET" else {},
        member=member,
        api=True,
        json=method != "GET",
        kwargs=kwargs,
        other_agency_kwargs=other,
        data=data,
    )


_API_OWN_RELATIONSHIP = _api_relationship(_own_relationship)
_API_OTHER_RELATIONSHIP = _api_relationship(_other_relationship)
MATRIX |= {
    "api:relationship_list": _partner_api(),
    "api:relationship_detail": _partner_api(
        kwargs=_API_OWN_RELATIONSHIP, other=_API_OTHER_RELATIONSHIP
    ),
    "api:relationship_reciprocity": _partner_api(
        kwargs=_API_OWN_RELATIONSHIP, other=_API_OTHER_RELATIONSHIP
    ),
    "api:interaction_list": _partner_api(
        kwargs=_API_OWN_RELATIONSHIP, other=_API_OTHER_RELATIONSHIP
    ),
    "api:contact_list": _partner_api(),
    "api:contact_detail": _partner_api(
        kwargs=_api_person(_own_person), other=_api_person(_other_network_person)
    ),
    "api:duplicate_list": _partner_api(),
    "api:relationship_create": _partner_api(
        "POST",
        201,
        data=lambda cast: {
            "organization": directory_factories.organization(network=cast.network, name="New").pk
        },
    ),
    "api:relationship_patch": _partner_api(
        "PATCH",
        kwargs=_API_OWN_RELATIONSHIP,
        other=_API_OTHER_RELATIONSHIP,
        data=lambda cast: {
            "version": max(
                [
                    1,
                    *Relationship.objects.filter(agency=cast.agency_a).values_list(
                        "version", flat=True
                    ),
                ]
            ),
            "tier": "regular",
        },
    ),
    "api:relationship_stage": _partner_api(
        "POST",
        kwargs=_API_OWN_RELATIONSHIP,
        other=_API_OTHER_RELATIONSHIP,
        data=lambda cast: {"stage": "rapport"},
    ),
    "api:interaction_create": _partner_api(
        "POST",
        201,
        kwargs=_API_OWN_RELATIONSHIP,
        other=_API_OTHER_RELATIONSHIP,
        data=lambda cast: {"kind": "call", "summary": "Matrix call"},
    ),
    "api:contact_create": _partner_api(
        "POST",
        201,
        data=lambda cast: {
            "organization": partner_factories.relationship(agency=cast.agency_a).organization_id,
            "name": "Matrix Person",
        },
    ),
    "api:contact_update": _partner_api(
        "PATCH",
        kwargs=_api_person(_own_person),
        other=_api_person(_other_network_person),
        data=lambda cast: {"title": "Supervisor"},
    ),
    "api:contact_move": _partner_api(
        "POST",
        kwargs=_api_person(_own_person),
        other=_api_person(_other_network_person),
        data=lambda cast: {
            "organization": directory_factories.organization(
                network=cast.network, name="Elsewhere"
            ).pk,
            "on": "2999-01-01",
        },
    ),
    "api:contact_merge": _partner_api(
        "POST",
        data=lambda cast: {
            "keep": _own_person(cast)["pk"],
            "duplicate": partner_factories.person(
                relationship=partner_factories.relationship(agency=cast.agency_a),
                actor=cast.coordinator,
                name="Jordan Elis",
            ).pk,
        },
    ),
}


# --- inbound referrals and stays ----------------------------------------------------------------


def _inbound_in(agency, actor, name) -> InboundReferral:
    relationship = partner_factories.relationship(agency=agency, actor=actor, name=name)
    return stay_services.inbound_create(
        agency=agency,
        actor=actor,
        data=stay_services.InboundData(
            client=referral_factories.client(agency=agency, actor=actor),
            source_organization=relationship.organization,
        ),
    )


def _stay_in(agency, actor, name) -> Stay:
    inbound = _inbound_in(agency, actor, name)
    return stay_services.stay_move_in(
        agency=agency, actor=actor, inbound=inbound, move_in_on=agency_today(agency)
    )


def _standalone_stay(agency, actor) -> Stay:
    return stay_services.stay_move_in(
        agency=agency,
        actor=actor,
        client=referral_factories.client(agency=agency, actor=actor),
        move_in_on=agency_today(agency),
    )


def _own_inbound(cast: Cast) -> dict:
    return {"pk": _inbound_in(cast.agency_a, cast.coordinator, "Inbound Source").pk}


def _other_inbound(cast: Cast) -> dict:
    return {"pk": _inbound_in(cast.agency_b, cast.admin_b, "B's source").pk}


def _own_stay(cast: Cast) -> dict:
    return {"pk": _stay_in(cast.agency_a, cast.coordinator, "Stay Source").pk}


def _other_stay(cast: Cast) -> dict:
    return {"pk": _stay_in(cast.agency_b, cast.admin_b, "B's stay source").pk}


def _update_of(stay: Stay, *, settled: bool = False) -> int:
    update = UpdateOwed.objects.filter(stay=stay).order_by("due_at").first()
    if settled:
        stay_services.update_skip(update=update, actor=stay.created_by, reason="Matrix")
    return update.pk


def _own_update(cast: Cast) -> dict:
    return {"pk": _update_of(_stay_in(cast.agency_a, cast.coordinator, "Update Source"))}


def _own_settled_update(cast: Cast) -> dict:
    stay = _stay_in(cast.agency_a, cast.coordinator, "Settled Source")
    return {"pk": _update_of(stay, settled=True)}


def _other_update(cast: Cast) -> dict:
    return {"pk": _update_of(_stay_in(cast.agency_b, cast.admin_b, "B's update source"))}


# Writes whose answer is the same for every role in turn: a form that fails validation (400), an
# update with nobody to send it to, one settled already.
_STAY_POST = {"method": "POST", "member": 400, **_WRITE_PAGE}
MATRIX |= {
    "stays:residents": Route(anonymous=LOGIN),
    "stays:inbound_list": Route(anonymous=LOGIN),
    "stays:inbound_create": Route(anonymous=LOGIN, **_WRITE_PAGE),
    "stays:move_in_client": Route(anonymous=LOGIN, **_WRITE_PAGE),
    "stays:stay_detail": _partner_object(
        lambda cast: {"pk": _standalone_stay(cast.agency_a, cast.coordinator).pk},
        lambda cast: {"pk": _standalone_stay(cast.agency_b, cast.admin_b).pk},
    ),
    "stays:inbound_detail": _partner_object(_own_inbound, _other_inbound),
    "stays:inbound_review": _partner_object(_own_inbound, _other_inbound, **_STAY_POST),
    "stays:application": _partner_object(_own_inbound, _other_inbound, **_STAY_POST),
    "stays:move_in": _partner_object(_own_inbound, _other_inbound, **_STAY_POST),
    "stays:stay_edit": _partner_object(_own_stay, _other_stay, **_STAY_POST),
    "stays:discharge": _partner_object(_own_stay, _other_stay, **_STAY_POST),
    "stays:update": _partner_object(_own_update, _other_update),
    "stays:update_send": _partner_object(_own_update, _other_update, **_STAY_POST),
    "stays:update_skip": _partner_object(_own_settled_update, _other_update, **_STAY_POST),
    "stays:templates": Route(anonymous=LOGIN, roles=ADMINISTRATOR_ONLY),
    # Public: a partner refers someone without an account.
    "refer_someone": Route(anonymous=200, kwargs=lambda cast: {"slug": cast.agency_a.slug}),
}


def _api_ids(kwargs, name):
    return lambda cast: {name: kwargs(cast)["pk"]}


_API_OWN_INBOUND = _api_ids(_own_inbound, "inbound_id")
_API_OTHER_INBOUND = _api_ids(_other_inbound, "inbound_id")
_API_OWN_STAY = _api_ids(_own_stay, "stay_id")
_API_OTHER_STAY = _api_ids(_other_stay, "stay_id")
_API_OTHER_UPDATE = _api_ids(_other_update, "update_id")
MATRIX |= {
    "api:inbound_list": _partner_api(),
    "api:inbound_detail": _partner_api(kwargs=_API_OWN_INBOUND, other=_API_OTHER_INBOUND),
    "api:inbound_create": _partner_api(
        "POST",
        201,
        data=lambda cast: {
            "client": referral_factories.client(agency=cast.agency_a).pk,
            "source_organization": partner_factories.relationship(
                agency=cast.agency_a
            ).organization_id,
        },
    ),
    "api:inbound_application": _partner_api(
        "POST",
        400,
        kwargs=_API_OWN_INBOUND,
        other=_API_OTHER_INBOUND,
        data=lambda cast: {"status": "denied"},  # a denial needs its reason
    ),
    # Taken in already (made by staff, not the public form): the service says so (400).
    "api:inbound_review": _partner_api(
        "POST",
        400,
        kwargs=_API_OWN_INBOUND,
        other=_API_OTHER_INBOUND,
        data=lambda cast: {
            "client": referral_factories.client(agency=cast.agency_a).pk,
            "source_organization": partner_factories.relationship(
                agency=cast.agency_a
            ).organization_id,
        },
    ),
    "api:inbound_move_in": _partner_api(
        "POST",
        400,
        kwargs=_API_OWN_INBOUND,
        other=_API_OTHER_INBOUND,
        data=lambda cast: {"move_in_on": "2999-01-01"},
    ),
    "api:stay_list": _partner_api(),
    "api:stay_detail": _partner_api(kwargs=_API_OWN_STAY, other=_API_OTHER_STAY),
    "api:stay_patch": _partner_api(
        "PATCH",
        409,
        kwargs=_API_OWN_STAY,
        other=_API_OTHER_STAY,
        data=lambda cast: {"version": 999, "house": "Matrix"},
    ),
    "api:stay_discharge": _partner_api(
        "POST",
        400,
        kwargs=_API_OWN_STAY,
        other=_API_OTHER_STAY,
        data=lambda cast: {"discharge_on": "2999-01-01", "reason": "left"},
    ),
    "api:update_list": _partner_api(),
    "api:update_detail": _partner_api(
        kwargs=_api_ids(_own_update, "update_id"), other=_API_OTHER_UPDATE
    ),
    "api:update_send": _partner_api(
        "POST",
        400,  # the source has nobody with an address to send to
        kwargs=_api_ids(_own_update, "update_id"),
        other=_API_OTHER_UPDATE,
        data=lambda cast: {},
    ),
    "api:update_skip": _partner_api(
        "POST",
        400,  # settled already
        kwargs=_api_ids(_own_settled_update, "update_id"),
        other=_API_OTHER_UPDATE,
        data=lambda cast: {"reason": "Matrix"},
    ),
}

# --- intake ---------------------------------------------------------------------------------------


def _inquiry_in(agency, actor) -> Inquiry:
    """An inquiry referred out (its options are the agency's network's DV services)."""
    organization = factories.organization(network=agency.network, name=f"DV program {agency.pk}")
    factories.service(organization=organization, name="DV counseling", needs=["domestic-violence"])
    return intake_services.inquiry_create(
        agency=agency,
        actor=actor,
        data=intake_services.ScreeningData(
            first_name="Matrix",
            need="counseling",
            service_format="couples",
            age_group="adult",
            severity="mild",
            suicidal_risk=False,
            homicidal_risk=False,
            domestic_violence=True,
            substance_use=False,
            legal_involvement=False,
        ),
    )


def _own_inquiry(cast: Cast) -> dict:
    return {"pk": _inquiry_in(cast.agency_a, cast.coordinator).pk}


def _other_inquiry(cast: Cast) -> dict:
    return {"pk": _inquiry_in(cast.agency_b, cast.admin_b).pk}


def _option_of(inquiry_kwargs):
    def kwargs(cast: Cast) -> dict:
        inquiry = Inquiry.objects.get(**inquiry_kwargs(cast))
        return {"pk": inquiry.pk, "option_pk": inquiry.options.first().pk}

    return kwargs


_INTAKE_POST = {"method": "POST", "member": 400, **_WRITE_PAGE}
_MATRIX_SCREENING = {
    "first_name": "Matrix",
    "need": "counseling",
    "service_format": "individual",
    "age_group": "adult",
    "severity": "mild",
    "suicidal_risk": False,
    "homicidal_risk": False,
    "domestic_violence": False,
    "substance_use": False,
    "legal_involvement": False,
}
MATRIX |= {
    "intake:index": Route(anonymous=LOGIN),
    "intake:create": Route(anonymous=LOGIN, **_WRITE_PAGE),
    # The decision panel for the answers so far: saving nothing, it still needs write access.
    "intake:decide": Route(anonymous=LOGIN, method="POST", **_WRITE_PAGE),
    "intake:rules": Route(anonymous=LOGIN),
    "intake:rotation": Route(anonymous=LOGIN),
    "intake:detail": _partner_object(_own_inquiry, _other_inquiry),
    "intake:assign": _partner_object(_own_inquiry, _other_inquiry, **_INTAKE_POST),
    "intake:close": _partner_object(_own_inquiry, _other_inquiry, **_INTAKE_POST),
    "intake:choose": _partner_object(
        _option_of(_own_inquiry),
        _option_of(_other_inquiry),
        method="POST",
        member=302,
        **_WRITE_PAGE,
    ),
    "intake:refer": _partner_object(
        _option_of(_own_inquiry), _option_of(_other_inquiry), **_WRITE_PAGE
    ),
}


def _api_option(inquiry_kwargs):
    option = _option_of(inquiry_kwargs)
    return lambda cast: dict(zip(("inquiry_id", "option_id"), option(cast).values(), strict=True))


_API_OWN_INQUIRY = _api_ids(_own_inquiry, "inquiry_id")
_API_OTHER_INQUIRY = _api_ids(_other_inquiry, "inquiry_id")
_ADMIN_API_PUT = {
    "roles": ADMINISTRATOR_ONLY,
    "method": "PUT",
    "anonymous": 401,
    "api": True,
    "json": True,
}
MATRIX |= {
    "api:inquiry_decide": _partner_api("POST", 200, data=lambda cast: _MATRIX_SCREENING),
    "api:inquiry_create": _partner_api("POST", 201, data=lambda cast: _MATRIX_SCREENING),
    "api:inquiry_list": _partner_api(),
    "api:inquiry_detail": _partner_api(kwargs=_API_OWN_INQUIRY, other=_API_OTHER_INQUIRY),
    "api:inquiry_assign": _partner_api(
        "POST",
        400,
        kwargs=_API_OWN_INQUIRY,
        other=_API_OTHER_INQUIRY,
        data=lambda cast: {"owner": cast.admin_b.pk},  # not a member of agency A
    ),
    "api:inquiry_close": _partner_api(
        "POST",
        400,
        kwargs=_API_OWN_INQUIRY,
        other=_API_OTHER_INQUIRY,
        data=lambda cast: {"status": "closed"},  # closing needs the person's choice
    ),
    "api:option_choose": _partner_api(
        "POST",
        200,
        kwargs=_api_option(_own_inquiry),
        other=_api_option(_other_inquiry),
        data=lambda cast: {"chosen": True},
    ),
    "api:rules_read": _partner_api(),
    "api:rules_replace": Route(member=400, data=lambda cast: {"items": []}, **_ADMIN_API_PUT),
    "api:template_list": _partner_api(),
    "api:template_replace": Route(
        member=200,
        kwargs=lambda cast: {"kind": "milestone"},
        data=lambda cast: {"subject": "{client}: {milestone}", "body": "Hi {source}"},
        **_ADMIN_API_PUT,
    ),
    "api:rotation_read": _partner_api(),
    "api:rotation_replace": Route(member=200, data=lambda cast: {"items": []}, **_ADMIN_API_PUT),
}


MATRIX |= {
    # Every member reads the agency's numbers; another agency's are never in them (each list
    # is the viewer's agency's own, see tests/reports).
    "reports:index": Route(anonymous=LOGIN),
    "reports:referrals": Route(
        anonymous=LOGIN, member=400, data=lambda cast: {"metric": "no-such-metric"}
    ),
    "reports:scorecards": Route(anonymous=LOGIN),
    "reports:review": Route(anonymous=LOGIN),
    "api:metrics_read": _partner_api(),
    "api:scorecards_read": _partner_api(),
    "api:weekly_review_read": _partner_api(),
}
# The community scorecard: the network's suppressed figures for every member of its agencies;
# publishing them is an administrator's; the public page is a 404 until they are published
# (and for a network that does not exist), whoever asks.
MATRIX |= {
    "reports:community": Route(anonymous=LOGIN),
    "reports:community_publish": Route(anonymous=LOGIN, roles=ADMINISTRATOR_ONLY, member=405),
    "community_public": Route(anonymous=404, member=404, kwargs=lambda cast: {"slug": "north"}),
    "api:community_read": _partner_api(),
}
POSTS |= {
    "reports:community_publish": Route(
        method="POST",
        anonymous=LOGIN,
        roles=ADMINISTRATOR_ONLY,
        member=302,
        data=lambda cast: {"publish": "0"},
    ),
}


# --- FHIR (/fhir): bearer tokens like the API; refusals are OperationOutcomes -----------------


def _fhir_own_task(cast: Cast) -> dict:
    return {"resource_id": f"referral-{_own_referral(cast)['pk']}"}


def _fhir_other_task(cast: Cast) -> dict:
    return {"resource_id": f"referral-{_other_referral(cast)['pk']}"}


FHIR_OBJECT = {"kwargs": _fhir_own_task, "other_agency_kwargs": _fhir_other_task}
MATRIX |= {
    # POST a transaction Bundle (a GET: 405 to those who may write, 403 to the rest).
    "fhir_base": Route(anonymous=401, roles=READ_ONLY_REFUSED, member=405, api=True),
    "fhir:transaction": Route(anonymous=401, roles=READ_ONLY_REFUSED, member=405, api=True),
    "fhir:metadata": Route(anonymous=200, api=True),
    "fhir:task_search": Route(anonymous=401, api=True),
    "fhir:task": Route(anonymous=401, api=True, **FHIR_OBJECT),
    "fhir:service_request": Route(anonymous=401, api=True, **FHIR_OBJECT),
    "fhir_referral_bundle": Route(
        anonymous=LOGIN, kwargs=_own_referral, other_agency_kwargs=_other_referral
    ),
}
POSTS |= {
    # An empty Bundle: each role that may write gets as far as its content (422).
    **{
        name: Route(
            method="POST",
            anonymous=401,
            roles=READ_ONLY_REFUSED,
            member=422,
            api=True,
            json=True,
            data=lambda cast: {"resourceType": "Bundle", "type": "transaction", "entry": []},
        )
        for name in ("fhir_base", "fhir:transaction")
    },
    "fhir:task": Route(
        method="PUT",
        anonymous=401,
        roles=READ_ONLY_REFUSED,
        member=422,
        api=True,
        data=lambda cast: {"resourceType": "Task", "intent": "order", "status": "shipped"},
        **FHIR_OBJECT,
    ),
}


# --- the agency's settings and outbox through the API: administrators only ------------------


def _api_message(kwargs_for):
    return lambda cast: {"message_id": kwargs_for(cast)["pk"]}


API_OUTBOX = {
    "kwargs": _api_message(_own_message),
    "other_agency_kwargs": _api_message(_other_message),
}
MATRIX |= {
    "api:agency_settings_read": Route(anonymous=401, roles=ADMINISTRATOR_ONLY, api=True),
    "api:agency_settings_update": Route(anonymous=401, roles=ADMINISTRATOR_ONLY, api=True),
    "api:outbox_list": Route(anonymous=401, roles=ADMINISTRATOR_ONLY, api=True),
    **{
        f"api:{name}": Route(anonymous=405, member=405, api=True, kwargs=_api_message(_own_message))
        for name in ("outbox_message_retry", "outbox_message_cancel")
    },
}
POSTS |= {
    "api:agency_settings_update": Route(
        method="PUT",
        anonymous=401,
        roles=ADMINISTRATOR_ONLY,
        api=True,
        data=lambda cast: {"time_zone": "America/Chicago", "policy": {}},
    ),
    **{
        f"api:{name}": Route(
            method="POST",
            anonymous=401,
            roles=ADMINISTRATOR_ONLY,
            api=True,
            json=True,
            **API_OUTBOX,
        )
        for name in ("outbox_message_retry", "outbox_message_cancel")
    },
}

ROUTES = list(_walk(get_resolver().url_patterns))
APP_ROUTES = [(name, route) for name, route, _ in ROUTES if not route.startswith("admin/")]
ADMIN_ROUTES = [(name, route) for name, route, _ in ROUTES if route.startswith("admin/")]


def test_every_route_is_declared():
    undeclared = [f"{name} ({route})" for name, route in APP_ROUTES if name not in MATRIX]
    assert not undeclared, "Routes without a row in the authorization matrix: " + ", ".join(
        undeclared
    )
    stale = set(MATRIX) - {name for name, _ in APP_ROUTES}
    assert not stale, f"Matrix rows for routes that no longer exist: {stale}"


def _url(route: str, kwargs: dict) -> str:
    import re

    def fill(match):
        name = match.group(1).split(":")[-1]
        return str(kwargs.get(name, 1))

    # Django path converters (<int:pk>) and ninja's ({int:member_id}), already turned into <...>.
    return "/" + re.sub(r"<([^>]+)>", fill, route).lstrip("^").rstrip("$")


def _request(client: Client, route: Route, url: str, cast: Cast, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = route.data(cast) if route.data else {}
    if route.method in ("PATCH", "PUT"):
        send = client.patch if route.method == "PATCH" else client.put
        return send(url, data, content_type="application/json", **headers)
    if route.method == "POST" and route.json:
        return client.post(url, data, content_type="application/json", **headers)
    if route.method == "POST":
        return client.post(url, data, **headers)
    return client.get(url, data, **headers)


def _assert_answer(response, expected, *, context: str):
    if expected == LOGIN:
        assert response.status_code == 302, context
        assert response["Location"].startswith("/login/"), context
    elif expected == ADMIN_LOGIN:
        assert response.status_code == 302, context
        assert response["Location"].startswith("/admin/login/"), context
    else:
        assert response.status_code == expected, f"{context}: got {response.status_code}"


def _client_and_token(user, route: Route):
    client = Client()
    if user is None:
        return client, None
    if route.api:
        membership = Membership.objects.select_related("agency").get(user=user)
        return client, api_token_create(user=user, agency=membership.agency)[1]
    client.force_login(user)
    return client, None


CASES = [(name, route) for name, route in MATRIX.items()] + [
    (f"{name} [{route.method}]", route) for name, route in POSTS.items()
]


@pytest.mark.parametrize(("name", "declared"), CASES, ids=[name for name, _ in CASES])
def test_route_answers_each_role_as_declared(cast, name, declared):
    base_name = name.split(" [")[0]
    route_string = next(route for n, route in APP_ROUTES if n == base_name)
    kwargs = declared.kwargs(cast) if declared.kwargs else {}
    url = _url(route_string, kwargs)

    client, token = _client_and_token(None, declared)
    _assert_answer(
        _request(client, declared, url, cast, token),
        declared.anonymous,
        context=f"{name} anonymous",
    )
    for role in ALL_ROLES:
        client, token = _client_and_token(cast.members_a[role], declared)
        response = _request(client, declared, url, cast, token)
        _assert_answer(response, declared.expected_for(role), context=f"{name} as {role}")


OBJECT_CASES = [(name, route) for name, route in CASES if route.other_agency_kwargs]


@pytest.mark.parametrize(("name", "declared"), OBJECT_CASES, ids=[name for name, _ in OBJECT_CASES])
def test_other_agency_object_is_not_found_and_audited(cast, name, declared):
    route_string = next(route for n, route in APP_ROUTES if n == name.split(" [")[0])
    url = _url(route_string, declared.other_agency_kwargs(cast))
    # Agency A's administrator (who may open such objects in A) asks for agency B's object.
    client, token = _client_and_token(cast.admin_a, declared)
    before = AuditEvent.objects.filter(action="access_denied").count()
    response = _request(client, declared, url, cast, token)
    assert response.status_code == 404, f"{name}: another agency's object must be a 404"
    denied = AuditEvent.objects.filter(action="access_denied").order_by("-id")
    assert denied.count() == before + 1
    row = denied.first()
    assert (row.user_id, row.agency_id, row.outcome) == (
        cast.admin_a.pk,
        cast.agency_a.pk,
        "denied",
    )
    # Agency B's object is unchanged and still there for B.
    assert Membership.objects.filter(user=cast.admin_b, role=Role.ADMINISTRATOR).exists()


def test_admin_site_refuses_everyone_but_installation_staff(cast):
    assert len(ADMIN_ROUTES) > 10, "the admin site is mounted"
    member = Client()
    member.force_login(cast.admin_a)  # an agency administrator is not installation staff
    for name, route in ADMIN_ROUTES:
        url = _url(route.replace("(?P<url>.*)$", "anything/"), {})
        for who, client in (("anonymous", Client()), ("agency admin", member)):
            response = client.get(url, follow=True)
            assert response.status_code == 200, f"{name} {url} as {who}"
            assert response.request["PATH_INFO"] == "/admin/login/", f"{name} {url} as {who}"
            assert b"Log in" in response.content
