"""The referrals API: create, send, transitions, follow-ups, notes, contact attempts, timeline,
dispositions; what the receiving agency may see (the packet, behind the consent gate, with a
ledger row a day); scoping, permissions, bad input, stale versions and list query counts."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from referloop.clients.models import Channel, Disclosure
from referloop.clients.services import consent_revoke
from referloop.core.models import AuditEvent
from referloop.core.permissions import Role
from referloop.core.services import api_token_create
from referloop.referrals.models import DispositionCode, EventKind, Referral, ReferralEvent, Status
from referloop.referrals.replies import reply_answer_record
from referloop.referrals.services import Actor, referral_accept, referral_note_add
from tests.conftest import make_member
from tests.referrals import factories

REFERRALS = "/api/v1/referrals"


def token(user, agency) -> str:
    return api_token_create(user=user, agency=agency)[1]


def get(path, raw, **params):
    return HttpClient().get(path, params, headers={"Authorization": f"Bearer {raw}"})


def post(path, raw, body=None):
    return HttpClient().post(
        path,
        json.dumps(body or {}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )


def patch(path, raw, body):
    return HttpClient().patch(
        path,
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )


@pytest.fixture
def world(cast):
    """Agency A's client Dana, with consents for Harbor House (a partner not on Referloop) and
    for Bravo Detox (run by agency B, so referrals to it land in B's inbox)."""
    harbor, harbor_intake = factories.partner(network=cast.network, name="Harbor House")
    bravo, bravo_intake = factories.partner(
        network=cast.network, agency=cast.agency_b, name="Bravo Detox"
    )
    dana = factories.client(agency=cast.agency_a, actor=cast.coordinator)
    return {
        "dana": dana,
        "harbor": harbor,
        "harbor_intake": harbor_intake,
        "harbor_consent": factories.consent(client=dana, organization=harbor),
        "bravo": bravo,
        "bravo_intake": bravo_intake,
        "bravo_consent": factories.consent(client=dana, organization=bravo),
    }


@pytest.fixture
def coordinator(cast):
    return token(cast.coordinator, cast.agency_a)


@pytest.fixture
def bravo(cast):
    """A token of agency B's staff: the receiving side of referrals to Bravo Detox."""
    return token(cast.admin_b, cast.agency_b)


def draft(cast, world, to="harbor", **fields):
    return factories.referral(
        client=world["dana"],
        organization=world[to],
        service=world[f"{to}_intake"],
        consent=fields.pop("consent", world[f"{to}_consent"]),
        actor=cast.coordinator,
        **fields,
    )


def sent(cast, world, to="harbor", **fields):
    return factories.send(draft(cast, world, to, **fields), actor=cast.coordinator)


def url(referral, tail="") -> str:
    return f"{REFERRALS}/{referral.pk}{tail}"


# --- create ----------------------------------------------------------------------------------


def _new(world, **fields) -> dict:
    return {
        "client": world["dana"].pk,
        "organization": world["harbor"].pk,
        "service": world["harbor_intake"].pk,
        "contact_name": "Pat Intake",
        "contact_email": "Intake@Harbor.example.org",
        "needs": ["sober-living", "peer-support"],
        "reason": "Needs a sober-living bed after detox.",
        "urgency": "urgent",
        "consent": world["harbor_consent"].pk,
        "categories": ["identity", "contact", "reason"],
        **fields,
    }


def test_create_makes_a_draft_owned_by_the_token_user(cast, world, coordinator):
    response = post(REFERRALS, coordinator, _new(world))

    assert response.status_code == 201
    body = response.json()
    referral = Referral.objects.get(pk=body["id"])
    assert (referral.status, referral.owner, referral.agency) == (
        Status.DRAFT,
        cast.coordinator,
        cast.agency_a,
    )
    assert body["tracking_id"] == referral.tracking_id
    assert (body["direction"], body["status"], body["urgency"]) == ("outbound", "draft", "urgent")
    assert body["client"] == {"id": world["dana"].pk, "display_name": "Dana Rivers"}
    assert body["organization"] == {"id": world["harbor"].pk, "name": "Harbor House"}
    assert sorted(need["code"] for need in body["needs"]) == ["peer-support", "sober-living"]
    assert body["contact_email"] == "intake@harbor.example.org"
    assert body["categories"] == ["identity", "contact", "reason"]
    assert (body["consent_id"], body["packet"], body["client_details_withheld"]) == (
        world["harbor_consent"].pk,
        None,
        None,
    )
    assert referral.events.get().kind == EventKind.CREATED


def test_create_for_another_owner(cast, world, coordinator):
    lead = cast.members_a[Role.PROGRAM_LEAD]

    body = post(REFERRALS, coordinator, _new(world, owner=lead.pk)).json()

    assert body["owner"] == {"id": lead.pk, "name": str(lead)}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"needs": ["sober-living", "flying-lessons"]}, "needs"),
        ({"owner": "admin_b"}, "owner"),
        ({"owner": 999999}, "owner"),
        ({"client": "other_agency_client"}, "client"),
        ({"organization": "other_network_org"}, "organization"),
        ({"service": "other_service"}, "service"),
        ({"consent": "other_client_consent"}, "consent"),
    ],
)
def test_create_refuses_what_the_agency_cannot_use_naming_the_field(
    cast, world, coordinator, fields, field
):
    other_org, _ = factories.partner(network=cast.other_network, name="Far Away")
    someone = factories.client(agency=cast.agency_a, first_name="Sam", last_name="Other")
    stand_ins = {
        "admin_b": cast.admin_b.pk,
        "other_agency_client": factories.client(agency=cast.agency_b).pk,
        "other_network_org": other_org.pk,
        "other_service": world["bravo_intake"].pk,
        "other_client_consent": factories.consent(
            client=someone, recipient_class="network_agencies"
        ).pk,
    }
    fields = {
        name: stand_ins.get(value, value) if isinstance(value, str) else value
        for name, value in fields.items()
    }

    response = post(REFERRALS, coordinator, _new(world, **fields))

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert "Far Away" not in response.content.decode()
    assert not Referral.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"urgency": "whenever"}, "urgency"),
        ({"categories": ["gossip"]}, "categories"),
        ({"reason": "x\x00y"}, "reason"),
        ({"reason": "x" * 4001}, "reason"),
        ({"contact_email": "nobody"}, "contact_email"),
        ({"contact_name": "n" * 201}, "contact_name"),
        ({"needs": ["DROP TABLE;"]}, "needs"),
        ({"client": "one"}, "client"),
        ({"client": None}, "client"),
    ],
)
def test_malformed_referrals_are_422_naming_the_field(cast, world, coordinator, fields, field):
    response = post(REFERRALS, coordinator, _new(world, **fields))

    assert response.status_code == 422
    assert field in response.json()["detail"][0]["loc"]
    assert not Referral.objects.exists()


def test_an_auditor_may_read_but_not_write(cast, world):
    auditor = token(cast.auditor, cast.agency_a)
    referral = draft(cast, world)

    assert get(url(referral), auditor).status_code == 200
    for response in (
        post(REFERRALS, auditor, _new(world)),
        post(url(referral, "/send"), auditor),
        post(url(referral, "/transitions"), auditor, {"status": "cancelled", "reason": "x"}),
        post(url(referral, "/notes"), auditor, {"note": "x"}),
        post(url(referral, "/follow-ups"), auditor),
        post(url(referral, "/contact-attempts"), auditor),
    ):
        assert response.status_code == 403
    assert Referral.objects.get().status == Status.DRAFT
    assert Referral.objects.count() == 1
    assert AuditEvent.objects.filter(action="permission_denied").count() == 6


# --- send ------------------------------------------------------------------------------------


def test_send_e_mails_a_partner_not_on_referloop(cast, world, coordinator):
    referral = draft(cast, world)

    response = post(url(referral, "/send"), coordinator, {"version": referral.version})

    assert response.status_code == 200
    assert response.json()["status"] == "requested"
    assert response.json()["due_reason"] == "receipt"
    referral.refresh_from_db()
    assert referral.status == Status.REQUESTED
    assert referral.packets.count() == 1
    assert Disclosure.objects.get().channel == Channel.PACKET_EMAIL


def test_send_without_consent_is_409_with_the_reason(cast, world, coordinator):
    referral = draft(cast, world)
    consent_revoke(consent=world["harbor_consent"], actor=cast.coordinator, method="By phone")

    response = post(url(referral, "/send"), coordinator)

    assert response.status_code == 409
    assert response.json()["code"] == "consent"
    assert "revoked" in response.json()["detail"]
    referral.refresh_from_db()
    assert referral.status == Status.DRAFT
    assert not Disclosure.objects.exists()


def test_send_with_a_stale_version_is_409(cast, world, coordinator):
    referral = draft(cast, world)
    referral_note_add(
        referral=referral, actor=Actor(user=cast.coordinator, agency=cast.agency_a), note="x"
    )

    response = post(url(referral, "/send"), coordinator, {"version": 1})

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert Referral.objects.get().status == Status.DRAFT


def test_only_a_draft_is_sent_and_only_by_its_sender(cast, world, coordinator, bravo):
    referral = sent(cast, world, to="bravo")

    again = post(url(referral, "/send"), coordinator)
    by_receiver = post(url(referral, "/send"), bravo)

    assert again.status_code == 400
    assert again.json()["code"] == "invalid_transition"
    assert by_receiver.status_code == 403
    assert by_receiver.json()["code"] == "forbidden"


# --- transitions -----------------------------------------------------------------------------


def test_an_invalid_transition_is_400_with_the_allowed_moves(cast, world, coordinator):
    referral = draft(cast, world)

    response = post(url(referral, "/transitions"), coordinator, {"status": "completed"})

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["field"]) == ("invalid_transition", "status")
    assert body["detail"] == (
        "A referral that is draft cannot become completed (it can become: cancelled, sent)."
    )
    referral.refresh_from_db()
    assert (referral.status, referral.version) == (Status.DRAFT, 1)
    assert referral.events.count() == 1


@pytest.mark.parametrize("status", ["requested", "draft"])
def test_a_transition_never_sends_a_draft_nor_makes_one(cast, world, coordinator, status):
    """Its schema's statuses leave both out (a draft is sent with /send, which checks the
    consent): a 422 naming `status`."""
    referral = draft(cast, world)
    consent_revoke(consent=world["harbor_consent"], actor=cast.coordinator, method="By phone")

    response = post(url(referral, "/transitions"), coordinator, {"status": status})

    assert response.status_code == 422
    assert "status" in response.json()["detail"][0]["loc"]
    assert Referral.objects.get().status == Status.DRAFT
    schema = HttpClient().get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert status not in schema["TransitionIn"]["properties"]["status"]["enum"]
    assert "/send" in schema["TransitionIn"]["properties"]["status"]["description"]


def test_the_sender_moves_a_referral_to_a_partner_off_referloop(cast, world, coordinator):
    referral = sent(cast, world)

    accepted = post(
        url(referral, "/transitions"),
        coordinator,
        {"status": "accepted", "note": "Pat called back", "version": referral.version},
    )
    started = post(url(referral, "/transitions"), coordinator, {"status": "in-progress"})

    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert started.json()["status"] == "in-progress"
    assert started.json()["disposition"] == {"code": "service_started", "label": "Service started"}
    event = ReferralEvent.objects.filter(to_status=Status.ACCEPTED).get()
    assert (event.actor, event.note) == (cast.coordinator, "Pat called back")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "rejected"}, "disposition"),
        ({"status": "rejected", "disposition": "completed"}, "disposition"),
        ({"status": "rejected", "disposition": "no-such-code"}, "disposition"),
        ({"status": "cancelled"}, "reason"),
    ],
)
def test_a_missing_or_wrong_reason_is_400_naming_the_field(cast, world, coordinator, body, field):
    referral = sent(cast, world)

    response = post(url(referral, "/transitions"), coordinator, body)

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert Referral.objects.get().status == Status.REQUESTED


@pytest.mark.parametrize(
    "body",
    [
        {"status": "done"},
        {"status": "cancelled", "reason": "r" * 501},
        {"status": "cancelled", "reason": "\x00"},
        {"status": "cancelled", "reason": "x", "version": 0},
        {"status": "rejected", "disposition": "a b"},
    ],
)
def test_malformed_transitions_are_422(cast, world, coordinator, body):
    referral = sent(cast, world)

    assert post(url(referral, "/transitions"), coordinator, body).status_code == 422
    assert Referral.objects.get().status == Status.REQUESTED


def test_a_transition_on_a_stale_version_is_409(cast, world, coordinator):
    referral = sent(cast, world)
    seen = referral.version
    post(url(referral, "/notes"), coordinator, {"note": "Called Pat"})

    response = post(
        url(referral, "/transitions"),
        coordinator,
        {"status": "cancelled", "reason": "Client moved", "version": seen},
    )

    assert response.status_code == 409
    assert "Reload" in response.json()["detail"]
    assert Referral.objects.get().status == Status.REQUESTED


def test_the_receiving_agency_makes_the_receivers_moves(cast, world, coordinator, bravo):
    referral = sent(cast, world, to="bravo")

    by_sender = post(url(referral, "/transitions"), coordinator, {"status": "accepted"})
    by_receiver = post(url(referral, "/transitions"), bravo, {"status": "accepted"})
    cancelled = post(
        url(referral, "/transitions"), coordinator, {"status": "cancelled", "reason": "Moved"}
    )

    assert by_sender.status_code == 403
    assert by_sender.json()["code"] == "forbidden"
    assert by_receiver.status_code == 200
    assert by_receiver.json()["direction"] == "inbound"
    assert by_receiver.json()["client"] is None
    assert cancelled.status_code == 200
    event = ReferralEvent.objects.get(to_status=Status.ACCEPTED)
    assert (event.actor, event.actor_agency) == (cast.admin_b, cast.agency_b)


# --- follow-ups, notes, contact attempts -----------------------------------------------------


def test_follow_up_restarts_the_clock(cast, world, coordinator, bravo):
    referral = sent(cast, world)

    response = post(
        url(referral, "/follow-ups"), coordinator, {"channel": "email", "note": "Asked Pat"}
    )

    assert response.status_code == 201
    referral.refresh_from_db()
    assert referral.last_follow_up_at is not None
    event = referral.events.get(kind=EventKind.FOLLOW_UP)
    assert (event.data, event.note) == ({"channel": "email"}, "Asked Pat")
    assert post(url(referral, "/follow-ups"), coordinator, {"channel": "fax"}).status_code == 422


def test_follow_up_needs_an_open_referral_of_ones_own(cast, world, coordinator, bravo):
    inbound = sent(cast, world, to="bravo")

    on_draft = post(url(draft(cast, world), "/follow-ups"), coordinator)
    by_receiver = post(url(inbound, "/follow-ups"), bravo)

    assert on_draft.status_code == 400
    assert on_draft.json()["code"] == "invalid_transition"
    assert by_receiver.status_code == 403


def test_notes_from_both_sides(cast, world, coordinator, bravo):
    referral = sent(cast, world, to="bravo")

    mine = post(url(referral, "/notes"), coordinator, {"note": "Client prefers mornings"})
    theirs = post(url(referral, "/notes"), bravo, {"note": "Bed available Monday"})

    assert (mine.status_code, theirs.status_code) == (201, 201)
    notes = referral.events.filter(kind=EventKind.NOTE)
    assert sorted((event.actor_agency_id, event.note) for event in notes) == sorted(
        [
            (cast.agency_a.pk, "Client prefers mornings"),
            (cast.agency_b.pk, "Bed available Monday"),
        ]
    )
    empty = post(url(referral, "/notes"), coordinator, {"note": ""})
    assert empty.status_code == 422
    assert "note" in empty.json()["detail"][0]["loc"]


def test_contact_attempts_by_sender_and_by_receiver(cast, world, coordinator, bravo):
    inbound = sent(cast, world, to="bravo")
    outbound = sent(cast, world)

    by_receiver = post(url(inbound, "/contact-attempts"), bravo, {"note": "Left a message"})
    by_sender = post(url(outbound, "/contact-attempts"), coordinator)

    assert (by_receiver.status_code, by_sender.status_code) == (201, 201)
    inbound.refresh_from_db()
    assert inbound.first_contact_at is not None
    assert inbound.last_partner_update_at is not None  # the receiver's update counts as theirs
    assert inbound.status == Status.RECEIVED
    assert outbound.events.filter(kind=EventKind.CONTACT_ATTEMPT).exists()
    on_draft = post(url(draft(cast, world), "/contact-attempts"), coordinator)
    assert on_draft.status_code == 400


# --- detail: sender and receiver -------------------------------------------------------------


def test_the_sender_sees_its_client_and_the_view_is_audited(cast, world, coordinator):
    referral = sent(cast, world)

    body = get(url(referral), coordinator).json()

    assert body["client"] == {"id": world["dana"].pk, "display_name": "Dana Rivers"}
    assert body["reason"] == "Needs a sober-living bed after detox."
    assert (body["direction"], body["packet"], body["next_due_at"] is not None) == (
        "outbound",
        None,
        True,
    )
    row = AuditEvent.objects.get(action="view", object_type="referrals.referral")
    assert row.detail == {"as": "sender", "withheld": False}
    assert not Disclosure.objects.filter(channel=Channel.API).exists()


def test_the_receiver_sees_the_packet_never_the_client_record(cast, world, bravo):
    referral = sent(cast, world, to="bravo")
    referral_note_add(
        referral=referral,
        actor=Actor(user=cast.coordinator, agency=cast.agency_a),
        note="Internal: lives with her mother",
    )

    response = get(url(referral), bravo)

    assert response.status_code == 200
    body = response.json()
    assert body["direction"] == "inbound"
    assert body["sender"] == {"id": cast.agency_a.pk, "name": "Alpha Recovery"}
    for client_field in ("client", "reason", "needs", "categories", "consent_id", "next_due_at"):
        assert body[client_field] is None, client_field
    packet = body["packet"]
    assert packet["tracking_id"] == referral.tracking_id
    assert packet["client"]["name"] == "Dana Rivers"
    assert packet["reason"] == "Needs a sober-living bed after detox."
    assert packet["consent"]["id"] == world["bravo_consent"].pk
    assert body["client_details_withheld"] is None
    text = response.content.decode()
    assert "lives with her mother" not in text
    assert "1990-04-12" in text  # the consent covers identity: the packet has the birth date
    assert AuditEvent.objects.get(action="view", agency=cast.agency_b).detail == {
        "as": "receiver",
        "withheld": False,
    }


def test_the_receiver_reading_the_packet_is_in_the_ledger_once_a_day(cast, world, bravo):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        referral = sent(cast, world, to="bravo")

        get(url(referral), bravo)
        get(url(referral), bravo)
        reads = Disclosure.objects.filter(channel=Channel.API)
        assert reads.count() == 1
        row = reads.get()
        assert (row.recipient_name, row.by, row.consent, row.client) == (
            "Bravo Treatment",
            cast.admin_b,
            world["bravo_consent"],
            world["dana"],
        )
        assert (row.object_type, row.object_id) == (
            "referrals.packet",
            str(referral.packets.get().pk),
        )

        traveller.shift(timedelta(days=1))
        get(url(referral), bravo)
        assert reads.count() == 2


def test_after_revocation_the_receiver_sees_only_the_status_and_why(cast, world, bravo):
    referral = sent(cast, world, to="bravo")
    consent_revoke(consent=world["bravo_consent"], actor=cast.coordinator, method="In writing")

    body = get(url(referral), bravo).json()

    assert body["packet"] is None
    assert "revoked" in body["client_details_withheld"]
    assert (body["tracking_id"], body["status"]) == (referral.tracking_id, "requested")
    assert "Dana" not in json.dumps(body)
    assert not Disclosure.objects.filter(channel=Channel.API).exists()
    assert AuditEvent.objects.get(action="view", agency=cast.agency_b).detail == {
        "as": "receiver",
        "withheld": True,
    }


def test_a_draft_is_not_visible_to_the_receiver(cast, world, bravo):
    referral = draft(cast, world, to="bravo")

    assert get(url(referral), bravo).status_code == 404
    assert get(REFERRALS, bravo).json()["count"] == 0


# --- other agencies ----------------------------------------------------------------------------

OBJECT_ROUTES = [
    ("GET", "", None),
    ("GET", "/timeline", None),
    ("POST", "/send", {}),
    ("POST", "/transitions", {"status": "cancelled", "reason": "x"}),
    ("POST", "/follow-ups", {}),
    ("POST", "/notes", {"note": "x"}),
    ("POST", "/contact-attempts", {}),
]


@pytest.mark.parametrize(("method", "tail", "body"), OBJECT_ROUTES)
def test_another_agencys_referral_is_404_and_audited(cast, world, method, tail, body):
    referral = sent(cast, world)  # to Harbor House: agency B has no part in it
    outsider = token(cast.admin_b, cast.agency_b)

    if method == "GET":
        response = get(url(referral, tail), outsider)
    else:
        response = post(url(referral, tail), outsider, body)

    assert response.status_code == 404
    assert referral.tracking_id not in response.content.decode()
    row = AuditEvent.objects.get(action="access_denied")
    assert (row.user, row.agency, row.object_id, row.outcome) == (
        cast.admin_b,
        cast.agency_b,
        str(referral.pk),
        "denied",
    )
    assert Referral.objects.get().version == referral.version


# --- list --------------------------------------------------------------------------------------


def test_list_filters(cast, world, coordinator, bravo):
    lead = cast.members_a[Role.PROGRAM_LEAD]
    month_ago = timezone.now() - timedelta(days=30)
    signed_then = factories.consent(
        client=world["dana"], organization=world["harbor"], signed_at=month_ago
    )
    with time_machine.travel(month_ago + timedelta(days=10), tick=False):
        overdue = sent(cast, world, consent=signed_then)  # receipt was due 2 business days on
    inbox = sent(cast, world, to="bravo")
    led = draft(cast, world, owner=lead)
    bravo_own = factories.referral(
        client=factories.client(agency=cast.agency_b),
        organization=world["harbor"],
        actor=cast.admin_b,
    )

    def ids(raw=coordinator, **params):
        response = get(REFERRALS, raw, **params)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [led.pk, inbox.pk, overdue.pk]
    assert ids(status="draft") == [led.pk]
    assert ids(owner="me") == [inbox.pk, overdue.pk]
    assert ids(owner=str(lead.pk)) == [led.pk]
    assert ids(organization=world["bravo"].pk) == [inbox.pk]
    assert ids(overdue="true") == [overdue.pk]
    assert ids(direction="outbound") == [led.pk, inbox.pk, overdue.pk]
    assert ids(direction="inbound") == []
    assert ids(bravo) == [bravo_own.pk, inbox.pk]
    assert ids(bravo, direction="inbound") == [inbox.pk]
    assert ids(bravo, direction="outbound") == [bravo_own.pk]
    assert AuditEvent.objects.filter(action="list", object_type="referrals.referral").count() == 11


def test_list_items_for_the_receiver_carry_no_client(cast, world, bravo):
    sent(cast, world, to="bravo")

    item = get(REFERRALS, bravo).json()["items"][0]

    assert (item["direction"], item["client"], item["next_due_at"], item["due_reason"]) == (
        "inbound",
        None,
        None,
        None,
    )
    assert "Dana" not in json.dumps(item)


@pytest.mark.parametrize(
    "params",
    [
        {"status": "lost"},
        {"owner": "you"},
        {"owner": "1; drop"},
        {"organization": "harbor"},
        {"overdue": "maybe"},
        {"direction": "sideways"},
        {"limit": 0},
    ],
)
def test_bad_list_filters_are_422(cast, coordinator, params):
    assert get(REFERRALS, coordinator, **params).status_code == 422


def test_list_costs_the_same_queries_for_3_or_12_referrals(
    cast, world, coordinator, django_assert_max_num_queries
):
    def add(count):
        for number in range(count):
            owner = make_member(
                cast.agency_a, Role.INTAKE, f"owner{Referral.objects.count()}@alpha.example.org"
            )
            build = sent if number % 2 else draft
            build(cast, world, to=("harbor", "bravo")[number % 2], owner=owner)

    def measure() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = get(REFERRALS, coordinator)
        assert response.status_code == 200
        return len(captured)

    add(3)
    get(REFERRALS, coordinator)  # the token's first use writes its last_used_at
    baseline = measure()
    add(9)
    with django_assert_max_num_queries(baseline):
        body = get(REFERRALS, coordinator).json()
    assert body["count"] == 12


# --- timeline and dispositions -----------------------------------------------------------------


def test_timeline_is_newest_first_and_paginated(cast, world, coordinator):
    referral = sent(cast, world)
    referral_accept(referral=referral, actor=Actor(label="Pat (reply link)"))

    body = get(url(referral, "/timeline"), coordinator).json()

    kinds = [(event["kind"], event["to_status"]) for event in body["items"]]
    assert kinds[0] == ("status", "accepted")
    assert kinds[-1] == ("created", "")
    assert body["count"] == referral.events.count()
    assert body["items"][0]["actor"] == "Pat (reply link)"
    assert body["items"][-1]["actor"] == str(cast.coordinator)
    first = get(url(referral, "/timeline"), coordinator, limit=1).json()
    page = get(url(referral, "/timeline"), coordinator, limit=1, cursor=first["next_cursor"])
    assert page.json()["items"][0]["id"] == body["items"][1]["id"]
    assert AuditEvent.objects.filter(action="view", detail={"timeline": True}).exists()


def test_the_receiver_sees_the_timeline_without_the_senders_notes(cast, world, bravo):
    referral = sent(cast, world, to="bravo")
    sender = Actor(user=cast.coordinator, agency=cast.agency_a)
    referral_note_add(referral=referral, actor=sender, note="She relapsed last week")
    referral_note_add(
        referral=referral, actor=Actor(user=cast.admin_b, agency=cast.agency_b), note="Bed Monday"
    )

    events = get(url(referral, "/timeline"), bravo).json()["items"]

    assert [event["note"] for event in events if event["kind"] == "note"] == ["Bed Monday", ""]
    assert "relapsed" not in json.dumps(events)
    assert next(event for event in events if event["kind"] == "sent")["data"] == {}


def test_timeline_query_count_does_not_grow_with_events(
    cast, world, coordinator, django_assert_max_num_queries
):
    referral = sent(cast, world)
    actor = Actor(user=cast.coordinator, agency=cast.agency_a)
    get(url(referral, "/timeline"), coordinator)
    with CaptureQueriesContext(connection) as captured:
        get(url(referral, "/timeline"), coordinator)
    for number in range(10):
        referral_note_add(referral=referral, actor=actor, note=f"Note {number}")
    with django_assert_max_num_queries(len(captured)):
        body = get(url(referral, "/timeline"), coordinator).json()
    assert body["count"] >= 12


def test_dispositions_are_the_agencys_active_codes(cast, coordinator):
    from referloop.referrals.models import DispositionCode

    DispositionCode.objects.filter(agency=cast.agency_a, code="other").update(is_active=False)

    body = get("/api/v1/dispositions", coordinator).json()

    codes = [item["code"] for item in body]
    assert codes[:2] == ["service_started", "completed"]
    assert "other" not in codes
    assert {"code": "no_capacity", "label": "No capacity", "kind": "not_accepted"}.items() <= (
        next(item for item in body if item["code"] == "no_capacity").items()
    )


def _documented(path: str, method: str) -> set[int]:
    operation = HttpClient().get("/api/v1/openapi.json").json()["paths"][path][method]
    return {int(code) for code in operation["responses"]}


BODY_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=30),
    st.text(alphabet="\x00ab", max_size=5),
    st.sampled_from(["draft", "completed", "cancelled", "no_capacity", "sober-living", "me"]),
    st.lists(st.sampled_from(["identity", "detox", "\x00", ""]), max_size=3),
)


@pytest.mark.parametrize(
    ("tail", "fields"),
    [
        ("", ["client", "organization", "service", "needs", "urgency", "consent", "owner"]),
        ("/transitions", ["status", "disposition", "reason", "note", "version"]),
        ("/follow-ups", ["channel", "note", "version"]),
        ("/notes", ["note"]),
    ],
)
def test_any_body_gets_a_documented_answer(cast, world, coordinator, tail, fields):
    """What schemathesis checks: whatever is posted, the answer is one the OpenAPI document
    lists (never a 500)."""
    referral = sent(cast, world)
    path = url(referral, tail) if tail else REFERRALS
    documented = _documented(
        "/api/v1/referrals" + ("/{referral_id}" + tail if tail else ""), "post"
    )

    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(body=st.dictionaries(st.sampled_from(fields), BODY_VALUES, max_size=len(fields)))
    def check(body):
        response = post(path, coordinator, body)
        assert response.status_code in documented, (body, response.content)

    check()


def test_openapi_describes_the_referral_paths(db):
    paths = HttpClient().get("/api/v1/openapi.json").json()["paths"]

    for path in (
        "/api/v1/referrals",
        "/api/v1/referrals/{referral_id}",
        "/api/v1/referrals/{referral_id}/send",
        "/api/v1/referrals/{referral_id}/transitions",
        "/api/v1/referrals/{referral_id}/follow-ups",
        "/api/v1/referrals/{referral_id}/notes",
        "/api/v1/referrals/{referral_id}/contact-attempts",
        "/api/v1/referrals/{referral_id}/timeline",
        "/api/v1/dispositions",
    ):
        assert path in paths, path
    transition = paths["/api/v1/referrals/{referral_id}/transitions"]["post"]
    assert {"400", "401", "403", "404", "409", "422"} <= set(transition["responses"])
    assert "post" in paths["/api/v1/referrals"]


# --- the packet PDF and the reply links ----------------------------------------------------------


def test_the_sender_downloads_the_packet_pdf_and_the_ledger_has_it(cast, world, coordinator):
    referral = sent(cast, world)
    packet = referral.packets.get()

    response = get(url(referral, "/packet.pdf"), coordinator)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"] == (
        f'attachment; filename="referral-{referral.tracking_id}.pdf"'
    )
    row = Disclosure.objects.get(channel=Channel.PACKET_PDF)
    assert (row.object_id, row.by_id, row.recipient_name) == (
        str(packet.pk),
        cast.coordinator.pk,
        "Harbor House",
    )
    assert AuditEvent.objects.filter(
        action="download", object_id=str(packet.pk), detail={"format": "pdf"}
    ).exists()


def test_the_packet_pdf_is_refused_once_the_consent_is_revoked(cast, world, coordinator):
    referral = sent(cast, world)
    consent_revoke(consent=referral.consent, actor=cast.coordinator, method="By phone")
    before = Disclosure.objects.count()

    response = get(url(referral, "/packet.pdf"), coordinator)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "consent" and "revoked" in body["detail"]
    assert Disclosure.objects.count() == before
    refusal = AuditEvent.objects.get(action="disclosure_refused")
    assert refusal.outcome == AuditEvent.Outcome.DENIED
    assert refusal.object_id == str(referral.packets.get().pk)


def test_the_receiver_gets_the_packet_pdf_on_the_ledger_once_a_day(cast, world, bravo):
    referral = sent(cast, world, to="bravo")

    for _ in range(2):
        response = get(url(referral, "/packet.pdf"), bravo)
        assert response.status_code == 200 and response.content.startswith(b"%PDF")

    row = Disclosure.objects.get(channel=Channel.API)
    assert (row.recipient_name, row.by_id) == ("Bravo Treatment", cast.admin_b.pk)


def test_a_draft_has_no_packet_pdf(cast, world, coordinator):
    assert get(url(draft(cast, world), "/packet.pdf"), coordinator).status_code == 404


def test_the_reply_links_list_what_the_partner_answered(cast, world, coordinator, bravo):
    referral = sent(cast, world)
    (link,) = referral.reply_links.all()
    reply_answer_record(link=link, answer="accepted")

    body = get(url(referral, "/replies"), coordinator).json()

    assert body["count"] == 1 and body["next_cursor"] is None
    (item,) = body["items"]
    assert item["id"] == link.pk
    assert item["contact_email"] == "intake@partner.example.org"
    assert (item["answer"], item["answer_label"], item["answers"]) == ("accepted", "Accepted", 1)
    assert item["answered_at"] is not None
    assert AuditEvent.objects.filter(action="view", detail={"replies": True}).exists()
    inbox = sent(cast, world, to="bravo")  # to an agency on Referloop: no reply link
    assert get(url(inbox, "/replies"), bravo).json() == {
        "items": [],
        "count": 0,
        "next_cursor": None,
    }


def test_the_sender_gives_a_referral_to_another_member(cast, world, coordinator, bravo):
    referral = sent(cast, world, to="bravo")
    intake = cast.members_a[Role.INTAKE]

    moved = post(url(referral, "/owner"), coordinator, {"owner": intake.pk, "version": 2})
    stale = post(url(referral, "/owner"), coordinator, {"owner": intake.pk, "version": 1})
    outsider = post(url(referral, "/owner"), coordinator, {"owner": cast.admin_b.pk})
    receiver = post(url(referral, "/owner"), bravo, {"owner": cast.admin_b.pk})

    assert moved.status_code == 200, moved.json()
    assert moved.json()["owner"] == {"id": intake.pk, "name": str(intake)}
    assert (stale.status_code, stale.json()["code"]) == (409, "conflict")
    assert (outsider.status_code, outsider.json()["field"]) == (400, "owner")
    assert (receiver.status_code, receiver.json()["code"]) == (403, "forbidden")
    event = referral.events.get(kind=EventKind.OWNER)
    assert event.data == {"from": str(cast.coordinator), "to": str(intake)}


def test_a_referral_not_accepted_is_settled_without_a_new_one(cast, world, coordinator, bravo):
    referral = sent(cast, world, to="bravo")
    refused = post(
        url(referral, "/transitions"), bravo, {"status": "rejected", "disposition": "no_capacity"}
    )
    assert refused.status_code == 200, refused.json()

    by_receiver = post(url(referral, "/no-rereferral"), bravo, {"note": "Not ours to say"})
    settled = post(url(referral, "/no-rereferral"), coordinator, {"note": "Placed elsewhere."})
    again = post(url(referral, "/no-rereferral"), coordinator, {"note": "Placed elsewhere."})

    assert by_receiver.status_code == 403
    assert settled.status_code == 200
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    referral.refresh_from_db()
    assert referral.bounce_resolved_at is not None
    event = referral.events.get(kind=EventKind.BOUNCE_BACK, data={"resolved": True})
    assert event.note == "Placed elsewhere."


def test_an_administrator_renames_and_turns_off_a_code(cast, world):
    admin = token(cast.admin_a, cast.agency_a)
    path = "/api/v1/dispositions/no_capacity"

    renamed = patch(path, admin, {"label": "No bed free"})
    off = patch(path, admin, {"is_active": False})
    life_cycle = patch("/api/v1/dispositions/completed", admin, {"is_active": False})
    coordinator = patch(path, token(cast.coordinator, cast.agency_a), {"label": "Mine"})

    assert renamed.json() == {
        "code": "no_capacity",
        "label": "No bed free",
        "kind": "not_accepted",
        "is_success": False,
    }
    assert off.status_code == 200 and off.json()["label"] == "No bed free"
    listed = [code["code"] for code in get("/api/v1/dispositions", admin).json()]
    assert "no_capacity" not in listed
    assert (life_cycle.status_code, life_cycle.json()["field"]) == (400, "is_active")
    assert coordinator.status_code == 403
    bravo = DispositionCode.objects.get(agency=cast.agency_b, code="no_capacity")
    assert (bravo.label, bravo.is_active) == ("No capacity", True)
