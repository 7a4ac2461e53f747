"""Every transition rule of the referral life cycle (FHIR Task statuses), as the services apply
them for web, API, reply page, import and CLI alike."""

import pytest
from django.utils import timezone

from referloop.core.errors import DomainError
from referloop.referrals.models import (
    CLOSED,
    REASON_REQUIRED,
    TRANSITIONS,
    EventKind,
    Referral,
    ReferralEvent,
    Status,
)
from referloop.referrals.services import (
    Actor,
    Answer,
    referral_create,
    referral_partner_answer,
    referral_transition,
)
from tests.referrals import factories

pytestmark = pytest.mark.django_db

ALL_PAIRS = [(a, b) for a in Status.values for b in Status.values if a != b]
CODE_FOR = {Status.REJECTED: "no_capacity", Status.FAILED: "could_not_reach"}


@pytest.fixture
def referral(cast):
    return factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator)


def _force(referral, status):
    Referral.objects.filter(pk=referral.pk).update(status=status)
    referral.refresh_from_db()
    return referral


def test_transition_table(cast, referral):
    """Every ordered pair of statuses: the allowed moves happen and write their event; every
    other move is refused with a message naming both statuses, and changes nothing."""
    actor = Actor(user=cast.coordinator, agency=cast.agency_a)
    for from_status, to_status in ALL_PAIRS:
        _force(referral, from_status)
        events_before = ReferralEvent.objects.filter(referral=referral).count()
        kwargs = {
            "disposition": CODE_FOR.get(to_status),
            "reason": "Client moved" if to_status in REASON_REQUIRED else "",
        }
        if to_status in TRANSITIONS[from_status] and to_status != Status.REQUESTED:
            updated = referral_transition(
                referral=referral, actor=actor, to_status=to_status, **kwargs
            )
            assert updated.status == to_status
            assert (updated.closed_at is not None) == (to_status in CLOSED)
            event = ReferralEvent.objects.filter(referral=referral).latest("id")
            assert (event.from_status, event.to_status) == (from_status, to_status)
            continue
        with pytest.raises(DomainError) as refused:
            referral_transition(referral=referral, actor=actor, to_status=to_status, **kwargs)
        assert refused.value.code == "invalid_transition", (from_status, to_status)
        if to_status != Status.REQUESTED:  # only referral_send (or record_sent) sends
            assert f"cannot become {Status(to_status).label.lower()}" in refused.value.message
        referral.refresh_from_db()
        assert referral.status == from_status
        assert ReferralEvent.objects.filter(referral=referral).count() == events_before


@pytest.mark.parametrize("status", sorted(REASON_REQUIRED))
def test_a_reason_is_required_for_negative_statuses(cast, referral, status):
    _force(referral, Status.ACCEPTED if status != Status.REJECTED else Status.RECEIVED)
    with pytest.raises(DomainError) as refused:
        referral_transition(
            referral=referral,
            actor=Actor(user=cast.coordinator, agency=cast.agency_a),
            to_status=status,
        )
    assert refused.value.field in ("reason", "disposition")


def test_a_not_accepted_code_must_fit(cast, referral):
    with pytest.raises(DomainError) as refused:
        referral_transition(
            referral=referral,
            actor=Actor(user=cast.coordinator, agency=cast.agency_a),
            to_status=Status.REJECTED,
            disposition="service_started",
        )
    assert refused.value.field == "disposition"


def test_stale_version_is_a_conflict_and_changes_nothing(cast, referral):
    actor = Actor(user=cast.coordinator, agency=cast.agency_a)
    stale = referral.version
    referral_transition(referral=referral, actor=actor, to_status=Status.RECEIVED)
    with pytest.raises(DomainError) as refused:
        referral_transition(
            referral=referral, actor=actor, to_status=Status.CANCELLED, reason="x", version=stale
        )
    assert refused.value.code == "conflict"
    referral.refresh_from_db()
    assert referral.status == Status.RECEIVED


def test_partner_answers_imply_skipped_steps_and_may_be_corrected(referral):
    partner = Actor(label="Pat (reply link)")
    started = referral_partner_answer(
        referral=referral, actor=partner, answer=Answer.SERVICE_STARTED
    )
    assert started.status == Status.IN_PROGRESS and started.disposition.code == "service_started"
    moves = list(
        referral.events.filter(kind=EventKind.PARTNER_REPLY)
        .order_by("id")
        .values_list("from_status", "to_status")
    )
    assert moves == [
        (Status.REQUESTED, Status.ACCEPTED),  # accepting implies receipt
        (Status.ACCEPTED, Status.IN_PROGRESS),
    ]
    rejected = referral_partner_answer(
        referral=referral,
        actor=partner,
        answer=Answer.NOT_ACCEPTED,
        disposition="no_capacity",
        may_correct=True,
    )
    assert rejected.status == Status.REJECTED and rejected.outcome_at is not None
    corrected = referral_partner_answer(
        referral=referral, actor=partner, answer=Answer.ACCEPTED, may_correct=True
    )
    assert corrected.status == Status.ACCEPTED and corrected.closed_at is None
    assert corrected.next_due_at is not None  # the loop is open again


def test_client_contacted_records_the_first_contact(referral):
    updated = referral_partner_answer(
        referral=referral, actor=Actor(label="Pat"), answer=Answer.CLIENT_CONTACTED
    )
    assert updated.first_contact_at is not None and updated.status == Status.RECEIVED


def test_the_receiving_agency_owns_the_receiving_moves(cast):
    referral = factories.sample_referral(
        agency=cast.agency_a, actor=cast.coordinator, partner_agency=cast.agency_b
    )
    with pytest.raises(DomainError) as refused:
        referral_transition(
            referral=referral,
            actor=Actor(user=cast.coordinator, agency=cast.agency_a),
            to_status=Status.ACCEPTED,
        )
    assert refused.value.code == "forbidden"
    accepted = referral_transition(
        referral=referral,
        actor=Actor(user=cast.admin_b, agency=cast.agency_b),
        to_status=Status.ACCEPTED,
    )
    assert accepted.status == Status.ACCEPTED
    cancelled = referral_transition(
        referral=referral,
        actor=Actor(user=cast.coordinator, agency=cast.agency_a),
        to_status=Status.CANCELLED,
        reason="Client moved away",
    )
    assert cancelled.status == Status.CANCELLED


def test_a_new_referral_after_a_bounce_links_to_it_and_clears_the_rerefer_item(cast, referral):
    rejected = referral_transition(
        referral=referral,
        actor=Actor(label="Partner"),
        to_status=Status.REJECTED,
        disposition="not_eligible",
    )
    assert rejected.due_reason == "rerefer" and rejected.next_due_at is not None
    org, service = factories.partner(network=cast.network, name="Second Chance")
    again = referral_create(
        agency=cast.agency_a,
        actor=Actor(user=cast.coordinator, agency=cast.agency_a),
        data=factories.ReferralData(client=referral.client, organization=org, service=service),
    )
    assert again.bounce_back_of_id == referral.pk
    referral.refresh_from_db()
    assert referral.bounce_resolved_at is not None and referral.next_due_at is None


def test_a_referral_within_the_window_of_a_closed_one_is_a_bounce_back(cast, referral):
    completed = referral_transition(
        referral=_force(referral, Status.IN_PROGRESS),
        actor=Actor(label="Partner"),
        to_status=Status.COMPLETED,
    )
    assert completed.closed_at <= timezone.now()
    org, _ = factories.partner(network=cast.network, name="Elsewhere")
    again = referral_create(
        agency=cast.agency_a,
        actor=Actor(user=cast.coordinator, agency=cast.agency_a),
        data=factories.ReferralData(client=referral.client, organization=org),
    )
    assert again.bounce_back_of_id == referral.pk
