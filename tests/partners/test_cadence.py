"""The cadence rules with frozen time: touches, face-to-face with primary sources, silence and
the at-risk state, status updates owed after referral events, next steps, top referrers."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from referloop.core.services import agency_policy_update
from referloop.directory.models import Organization
from referloop.partners import selectors, services
from referloop.partners.cadence import is_at_risk
from referloop.partners.models import DueReason, Relationship, Stage, Tier
from referloop.referrals.services import Actor, referral_accept
from tests.directory import factories as directory
from tests.partners import factories
from tests.referrals import factories as referral_factories

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 9:00 in Chicago


@pytest.fixture
def frozen():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def _reload(relationship) -> Relationship:
    return Relationship.objects.select_related("agency", "organization").get(pk=relationship.pk)


def test_a_new_partner_is_due_a_touch_within_14_days(cast, frozen):
    relationship = factories.relationship(agency=cast.agency_a, actor=cast.coordinator)
    assert relationship.next_due_at == START + timedelta(days=14)
    assert relationship.due_reason == DueReason.TOUCH


def test_logging_a_call_moves_the_next_due_time_on(cast, frozen):
    relationship = factories.relationship(agency=cast.agency_a, actor=cast.coordinator)
    frozen.shift(timedelta(days=10))
    services.interaction_log(relationship=relationship, actor=cast.coordinator, kind="call")
    relationship = _reload(relationship)
    assert relationship.last_contact_at == START + timedelta(days=10)
    assert relationship.next_due_at == START + timedelta(days=24)


def test_the_touch_days_are_set_per_tier(cast, frozen):
    agency_policy_update(
        agency=cast.agency_a,
        actor=cast.admin_a,
        data={**cast.agency_a.policies.model_dump(mode="json"), "partner_prospect_touch_days": 30},
        time_zone=cast.agency_a.time_zone,
    )
    cast.agency_a.refresh_from_db()
    prospect = factories.relationship(agency=cast.agency_a, name="Prospect Org")
    regular = factories.relationship(agency=cast.agency_a, name="Regular Org")
    services.relationship_update(relationship=regular, actor=cast.coordinator, tier=Tier.REGULAR)
    assert _reload(prospect).next_due_at == START + timedelta(days=30)
    assert _reload(regular).next_due_at == START + timedelta(days=14)


def test_primary_sources_are_due_face_to_face_about_monthly(cast, frozen):
    relationship = factories.relationship(agency=cast.agency_a, actor=cast.coordinator)
    services.relationship_update(relationship=relationship, actor=cast.coordinator, tier="primary")
    for day in (7, 14, 21, 28):  # a call every week keeps the touch cadence, not face-to-face
        frozen.move_to(START + timedelta(days=day))
        services.interaction_log(relationship=relationship, actor=cast.coordinator, kind="call")
    relationship = _reload(relationship)
    assert relationship.due_reason == DueReason.FACE_TO_FACE
    assert relationship.next_due_at == START + timedelta(days=30)
    frozen.move_to(START + timedelta(days=29))
    services.interaction_log(relationship=relationship, actor=cast.coordinator, kind="visit")
    relationship = _reload(relationship)
    assert relationship.last_face_to_face_at == START + timedelta(days=29)
    assert (relationship.next_due_at, relationship.due_reason) == (
        START + timedelta(days=29 + 14),
        DueReason.TOUCH,
    )


def test_silence_past_90_days_marks_the_relationship_at_risk(cast, frozen):
    relationship = factories.relationship(agency=cast.agency_a, actor=cast.coordinator)
    services.interaction_log(relationship=relationship, actor=cast.coordinator, kind="email")
    policy = cast.agency_a.policies
    frozen.move_to(START + timedelta(days=90))
    relationship = _reload(relationship)
    assert not is_at_risk(relationship, policy, START + timedelta(days=90))
    assert selectors.health_line(relationship, policy, START + timedelta(days=90)) == (
        "90 days since last contact"
    )
    frozen.move_to(START + timedelta(days=95))
    now = START + timedelta(days=95)
    assert is_at_risk(relationship, policy, now)
    assert selectors.health_line(relationship, policy, now) == "at risk: 95 days silent"
    at_risk = selectors.relationship_list(agency=cast.agency_a, at_risk=True)
    assert [row.relationship.pk for row in at_risk] == [relationship.pk]
    services.interaction_log(relationship=relationship, actor=cast.coordinator, kind="call")
    assert selectors.relationship_list(agency=cast.agency_a, at_risk=True) == []


def test_dormant_and_not_a_fit_relationships_are_not_due(cast, frozen):
    relationship = factories.relationship(agency=cast.agency_a, actor=cast.coordinator)
    with pytest.raises(services.DomainError) as refused:
        services.relationship_stage_move(
            relationship=relationship, actor=cast.coordinator, stage=Stage.NOT_A_FIT
        )
    assert refused.value.field == "reason"
    services.relationship_stage_move(
        relationship=relationship,
        actor=cast.coordinator,
        stage=Stage.NOT_A_FIT,
        reason="Only serves under-18s",
    )
    relationship = _reload(relationship)
    assert relationship.next_due_at is None and relationship.stage_reason == "Only serves under-18s"
    assert relationship.stage_changes.get().to_stage == Stage.NOT_A_FIT
    frozen.move_to(START + timedelta(days=200))
    assert not is_at_risk(relationship, cast.agency_a.policies, START + timedelta(days=200))


def test_a_next_step_date_is_due_on_its_day(cast, frozen):
    relationship = factories.relationship(agency=cast.agency_a, actor=cast.coordinator)
    services.interaction_log(
        relationship=relationship,
        actor=cast.coordinator,
        kind="call",
        next_step="Send the intake criteria",
        next_step_on=date(2026, 3, 5),
    )
    relationship = _reload(relationship)
    # Midnight in Chicago (UTC-6 in early March).
    assert relationship.next_due_at == datetime(2026, 3, 5, 6, 0, tzinfo=UTC)
    assert relationship.due_reason == DueReason.NEXT_STEP


def test_a_referral_event_owes_the_source_a_status_update(
    cast, frozen, django_capture_on_commit_callbacks
):
    # Agency B runs an organization in the directory and refers a client to agency A.
    directory.organization(network=cast.network, agency=cast.agency_b, name="Bravo Treatment")
    with django_capture_on_commit_callbacks(execute=True):
        referral = referral_factories.sample_referral(
            agency=cast.agency_b, actor=cast.admin_b, partner_agency=cast.agency_a, name="Alpha"
        )
        frozen.shift(timedelta(hours=2))
        referral_accept(referral=referral, actor=Actor(user=cast.coordinator, agency=cast.agency_a))
    source = Organization.objects.get(name="Bravo Treatment")
    relationship = Relationship.objects.select_related("agency").get(
        agency=cast.agency_a, organization=source
    )
    owed_at = START + timedelta(hours=2)
    assert relationship.update_owed_since == owed_at
    assert relationship.due_reason == DueReason.STATUS_UPDATE
    assert relationship.next_due_at == owed_at + timedelta(days=2)
    assert referral.tracking_id in relationship.update_owed_about
    frozen.shift(timedelta(hours=1))
    services.interaction_log(
        relationship=relationship,
        actor=cast.coordinator,
        kind="status_update",
        referral_id=referral.pk,
    )
    relationship = _reload(relationship)
    assert relationship.update_owed_since is None
    assert relationship.due_reason == DueReason.TOUCH


def test_top_referrers_are_computed_from_referrals_received(cast, frozen):
    directory.organization(network=cast.network, agency=cast.agency_b, name="Bravo Treatment")
    for index in range(3):
        referral_factories.sample_referral(
            agency=cast.agency_b, actor=cast.admin_b, partner_agency=cast.agency_a, name=f"A{index}"
        )
    relationship = factories.relationship(agency=cast.agency_a, name="Bravo Treatment")
    assert services.relationship_tiers_refresh(agency=cast.agency_a) == 1
    relationship = _reload(relationship)
    assert relationship.is_top_referrer and relationship.referrals_received_recent == 3
    assert relationship.tier == Tier.PROSPECT  # the hand-set tier is kept, and shown beside
    assert relationship.effective_tier == Tier.PRIMARY
    assert relationship.due_reason in (DueReason.TOUCH, DueReason.FACE_TO_FACE)
    primary = selectors.relationship_list(agency=cast.agency_a, tier=Tier.PRIMARY)
    assert [row.relationship.pk for row in primary] == [relationship.pk]
    # Seven months on, the window has moved past them.
    frozen.move_to(START + timedelta(days=215))
    assert services.relationship_tiers_refresh(agency=cast.agency_a) == 1
    assert not _reload(relationship).is_top_referrer


def test_reciprocity_counts_match_the_referrals(cast, frozen):
    bravo = directory.organization(
        network=cast.network, agency=cast.agency_b, name="Bravo Treatment"
    )
    for index in range(2):  # B refers two clients to A
        referral_factories.sample_referral(
            agency=cast.agency_b, actor=cast.admin_b, partner_agency=cast.agency_a, name=f"A{index}"
        )
    # A refers three to Bravo, and one draft that does not count.
    service = directory.service(organization=bravo, name="Bravo detox")
    for sent in (True, True, True, False):
        person = referral_factories.client(agency=cast.agency_a, actor=cast.coordinator)
        consent = referral_factories.consent(client=person, organization=bravo)
        made = referral_factories.referral(
            client=person,
            organization=bravo,
            service=service,
            consent=consent,
            actor=cast.coordinator,
        )
        if sent:
            referral_factories.send(made, actor=cast.coordinator)
    relationship = factories.relationship(agency=cast.agency_a, name="Bravo Treatment")
    (row,) = selectors.relationship_list(agency=cast.agency_a)
    assert (row.received, row.sent, row.balance) == (2, 3, -1)
    page = selectors.partner_page(relationship=_reload(relationship))
    assert (page.received, page.sent) == (2, 3)
    assert page.months[-1] == ("2026-03", 2, 3)
    assert sum(1 for entry in page.timeline if entry.kind == "referral") == 5
    # Agency B sees the mirror image of the same referrals.
    mirror = factories.relationship(agency=cast.agency_b, name="Alpha Recovery")
    Organization.objects.filter(pk=mirror.organization_id).update(agency=cast.agency_a)
    counts = {
        r.relationship.organization.name: (r.received, r.sent)
        for r in selectors.relationship_list(agency=cast.agency_b)
    }
    assert counts["Alpha Recovery"] == (3, 0)
