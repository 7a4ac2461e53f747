"""Inbound referrals, stays and the updates owed to referral sources, with frozen time: the
check-ins after move-in and the milestones on their days, denial and termination at once, the
consent gate before anything is sent, and the sent update counting toward the relationship."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from referloop.clients.models import Category, Disclosure
from referloop.core.errors import DomainError
from referloop.core.models import AuditEvent, OutboundEmail
from referloop.core.services import agency_policy_update
from referloop.partners.models import Interaction, InteractionKind, Relationship
from referloop.partners.selectors import partner_page
from referloop.referrals.services import Actor, referral_accept
from referloop.stays import selectors, services
from referloop.stays.models import (
    Application,
    DischargeReason,
    InboundReferral,
    Origin,
    UpdateKind,
    UpdateOwed,
    UpdateState,
)
from tests.directory import factories as directory
from tests.partners import factories as partner_factories
from tests.referrals import factories as referral_factories

pytestmark = pytest.mark.django_db

# Monday March 2, 2026, 9:00 in Chicago (agency A's zone).
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SOURCE_EMAIL = "jordan.ellis@probation.example.gov"
HOUSING = [Category.IDENTITY, Category.HOUSING]
CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture
def frozen():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def inbound(cast, frozen):
    """Dana, referred to agency A today by Jordan Ellis of County Probation."""
    relationship = partner_factories.relationship(agency=cast.agency_a, actor=cast.coordinator)
    person = partner_factories.person(
        relationship=relationship, actor=cast.coordinator, email=SOURCE_EMAIL
    )
    client = referral_factories.client(agency=cast.agency_a, actor=cast.coordinator)
    return services.inbound_create(
        agency=cast.agency_a,
        actor=cast.coordinator,
        data=services.InboundData(
            client=client,
            source_organization=relationship.organization,
            source_contact=person,
            note="Leaving county jail on the 2nd",
        ),
    )


def _owed(inbound, **filters):
    return list(
        UpdateOwed.objects.filter(inbound=inbound, **filters)
        .order_by("due_at", "pk")
        .values_list("kind", "days", "due_at", "is_urgent")
    )


def _chicago_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHICAGO).astimezone(UTC)


def _move_in(cast, inbound, **fields):
    return services.stay_move_in(
        agency=cast.agency_a,
        actor=cast.coordinator,
        inbound=inbound,
        move_in_on=fields.pop("move_in_on", date(2026, 3, 2)),
        **fields,
    )


def _consent(inbound, categories=HOUSING, part2=False):
    return referral_factories.consent(
        client=inbound.client,
        organization=inbound.source_organization,
        categories=categories,
        part2=part2,
    )


def test_a_move_in_owes_exactly_the_three_check_ins_on_their_days(cast, inbound):
    stay = _move_in(cast, inbound)
    assert _owed(inbound) == [
        (UpdateKind.CHECK_IN, 7, _chicago_midnight(date(2026, 3, 9)), False),
        (UpdateKind.CHECK_IN, 14, _chicago_midnight(date(2026, 3, 16)), False),
        (UpdateKind.CHECK_IN, 30, _chicago_midnight(date(2026, 4, 1)), False),
    ]
    inbound.refresh_from_db()
    assert inbound.status == Application.APPROVED and inbound.admitted_at is not None
    assert stay.next_milestone_on is None  # no sobriety date, no milestones


def test_milestones_fall_on_their_days_from_the_sobriety_date(cast, inbound):
    # Sober since 100 days before move-in: 30, 60 and 90 days are old news to the source.
    stay = _move_in(cast, inbound, sobriety_on=date(2026, 3, 2) - timedelta(days=100))
    milestones = _owed(inbound, kind=UpdateKind.MILESTONE)
    sober = date(2026, 3, 2) - timedelta(days=100)
    assert milestones == [
        (UpdateKind.MILESTONE, 182, _chicago_midnight(sober + timedelta(days=182)), False),
        (UpdateKind.MILESTONE, 365, _chicago_midnight(sober + timedelta(days=365)), False),
    ]
    assert stay.next_milestone_on == sober + timedelta(days=182)


def test_the_worklist_shows_an_update_on_its_day_and_not_before(cast, inbound, frozen):
    _move_in(cast, inbound, sobriety_on=date(2026, 2, 20))
    member = cast.coordinator.memberships.get(agency=cast.agency_a)

    def due_now():
        (rows,) = selectors.due_rows(agency=cast.agency_a, member=member, until=timezone.now())
        return [rows.item(row).reason for row in rows.rows]

    assert due_now() == []
    frozen.move_to(datetime(2026, 3, 9, 4, 30, tzinfo=UTC))  # 23:30 on March 8 in Chicago
    assert due_now() == []
    frozen.move_to(datetime(2026, 3, 9, 5, 30, tzinfo=UTC))  # 00:30 on March 9
    assert due_now() == ["Tell the referral source: 7 days since move-in"]
    frozen.move_to(datetime(2026, 3, 22, 12, tzinfo=UTC))  # 30 days sober on March 22
    assert due_now() == [
        "Tell the referral source: 7 days since move-in",
        "Tell the referral source: 14 days since move-in",
        "Tell the referral source: 30 days sober",
    ]


def test_a_denial_is_owed_at_once_and_flagged_urgent(cast, inbound):
    with pytest.raises(DomainError) as refused:
        services.application_record(inbound=inbound, actor=cast.coordinator, status="denied")
    assert refused.value.field == "reason"
    services.application_record(
        inbound=inbound, actor=cast.coordinator, status="applied", version=inbound.version
    )
    services.application_record(
        inbound=inbound, actor=cast.coordinator, status="denied", reason="No female beds"
    )
    assert _owed(inbound) == [(UpdateKind.DENIAL, 0, START, True)]
    member = cast.coordinator.memberships.get(agency=cast.agency_a)
    (rows,) = selectors.due_rows(agency=cast.agency_a, member=member, until=START)
    (item,) = [rows.item(row) for row in rows.rows]
    assert item.kind_label == "Urgent update owed"
    with pytest.raises(DomainError) as late:
        _move_in(cast, inbound)
    assert late.value.field == "status"


def test_a_wait_list_then_an_approval_each_owe_an_update(cast, inbound):
    services.application_record(inbound=inbound, actor=cast.coordinator, status="waitlisted")
    services.application_record(inbound=inbound, actor=cast.coordinator, status="approved")
    due = START + timedelta(days=cast.agency_a.policies.partner_update_within_days)
    assert _owed(inbound) == [
        (UpdateKind.DECISION, 0, due, False),
        (UpdateKind.WAITLIST, 0, due, False),
    ] or _owed(inbound) == [
        (UpdateKind.WAITLIST, 0, due, False),
        (UpdateKind.DECISION, 0, due, False),
    ]
    with pytest.raises(DomainError) as stale:
        services.application_record(
            inbound=inbound, actor=cast.coordinator, status="withdrawn", version=1
        )
    assert stale.value.code == "conflict"


def test_a_termination_is_owed_at_once_and_what_was_ahead_is_no_longer_owed(cast, inbound, frozen):
    stay = _move_in(cast, inbound, sobriety_on=date(2026, 3, 1))
    frozen.move_to(START + timedelta(days=10))
    stay = services.stay_discharge(
        stay=stay,
        actor=cast.coordinator,
        discharge_on=date(2026, 3, 12),
        reason=DischargeReason.TERMINATED,
        note="Used on site",
    )
    assert stay.next_milestone_on is None
    states = dict(
        UpdateOwed.objects.filter(inbound=inbound).values_list("kind", "state").order_by("due_at")
    )
    check_ins = UpdateOwed.objects.filter(inbound=inbound, kind=UpdateKind.CHECK_IN)
    assert sorted(check_ins.values_list("days", "state")) == [
        (7, UpdateState.OWED),  # was due already: still owed
        (14, UpdateState.CANCELLED),
        (30, UpdateState.CANCELLED),
    ]
    assert states[UpdateKind.TERMINATION] == UpdateState.OWED
    termination = UpdateOwed.objects.get(inbound=inbound, kind=UpdateKind.TERMINATION)
    assert termination.is_urgent and termination.due_at == START + timedelta(days=10)
    subject, body = selectors.update_draft(termination, sender=cast.coordinator)
    assert subject == "Dana R.: stay ended"
    assert "terminated: Used on site" in body and "Rivers" not in body  # minimum necessary


def test_a_discharge_is_owed_only_if_the_agency_tells_this_source(cast, inbound, frozen):
    stay = _move_in(cast, inbound)
    services.stay_update(
        stay=stay,
        actor=cast.coordinator,
        sobriety_on=None,
        house="Elm House",
        tell_source_of_discharge=False,
        version=stay.version,
    )
    frozen.move_to(START + timedelta(days=40))
    services.stay_discharge(
        stay=stay,
        actor=cast.coordinator,
        discharge_on=date(2026, 4, 10),
        reason=DischargeReason.INDEPENDENT,
    )
    assert not UpdateOwed.objects.filter(inbound=inbound, kind=UpdateKind.INDEPENDENT).exists()


def test_a_new_sobriety_date_moves_the_milestones_not_yet_settled(cast, inbound, frozen):
    stay = _move_in(cast, inbound, sobriety_on=date(2026, 2, 1))
    stay = services.stay_update(
        stay=stay,
        actor=cast.coordinator,
        sobriety_on=date(2026, 3, 1),  # a relapse: the count starts again
        house="",
        tell_source_of_discharge=True,
        version=stay.version,
    )
    first = UpdateOwed.objects.filter(inbound=inbound, kind=UpdateKind.MILESTONE).first()
    assert first.days == 30 and first.due_at == _chicago_midnight(date(2026, 3, 31))
    assert stay.next_milestone_on == date(2026, 3, 31)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"move_in_on": date(2026, 3, 1)}, "move_in_on"),  # before the referral
        ({"move_in_on": date(2026, 3, 3)}, "move_in_on"),  # in the future
        ({"sobriety_on": date(2026, 3, 5)}, "sobriety_on"),  # sober in the future
        ({"house": "x" * 201}, "house"),
    ],
)
def test_bad_move_ins_are_refused_and_change_nothing(cast, inbound, fields, field):
    with pytest.raises(DomainError) as refused:
        _move_in(cast, inbound, **fields)
    assert refused.value.field == field
    assert not UpdateOwed.objects.exists()
    inbound.refresh_from_db()
    assert inbound.admitted_at is None


def test_a_discharge_before_the_move_in_or_in_the_future_is_refused(cast, inbound, frozen):
    stay = _move_in(cast, inbound)
    for day in (date(2026, 3, 1), date(2026, 3, 3)):
        with pytest.raises(DomainError) as refused:
            services.stay_discharge(
                stay=stay, actor=cast.coordinator, discharge_on=day, reason="completed"
            )
        assert refused.value.field == "discharge_on"
    with pytest.raises(DomainError):
        services.stay_discharge(
            stay=stay, actor=cast.coordinator, discharge_on=date(2026, 3, 2), reason="fired"
        )
    stay.refresh_from_db()
    assert stay.is_current


def test_a_second_stay_for_a_current_resident_is_refused(cast, inbound):
    _move_in(cast, inbound)
    with pytest.raises(DomainError) as refused:
        services.stay_move_in(
            agency=cast.agency_a,
            actor=cast.coordinator,
            client=inbound.client,
            move_in_on=date(2026, 3, 2),
        )
    assert refused.value.field == "client"


# --- sending, within consent -------------------------------------------------------------------


def _first_check_in(cast, inbound, frozen):
    _move_in(cast, inbound)
    frozen.move_to(START + timedelta(days=7, hours=2))
    return UpdateOwed.objects.get(inbound=inbound, kind=UpdateKind.CHECK_IN, days=7)


def _send(update, cast, **fields):
    subject, body = selectors.update_draft(update, sender=cast.coordinator)
    return services.update_send(
        update=update,
        actor=cast.coordinator,
        subject=fields.get("subject", subject),
        body=fields.get("body", body),
    )


def test_without_consent_nothing_is_sent_and_the_item_says_so(cast, inbound, frozen):
    update = _first_check_in(cast, inbound, frozen)
    with pytest.raises(DomainError) as refused:
        _send(update, cast)
    assert refused.value.code == "consent"
    assert refused.value.message.startswith("Consent needed: No consent is recorded")
    assert not OutboundEmail.objects.filter(kind="stay_update").exists()
    assert not Disclosure.objects.exists() and not Interaction.objects.exists()
    update.refresh_from_db()
    assert update.state == UpdateState.OWED
    assert AuditEvent.objects.filter(action="send_refused", object_type="stays.updateowed").exists()


def test_a_consent_to_another_organization_does_not_cover_the_source(cast, inbound, frozen):
    update = _first_check_in(cast, inbound, frozen)
    other = directory.organization(network=cast.network, name="Someone Else")
    referral_factories.consent(client=inbound.client, organization=other, categories=HOUSING)
    assert "does not name County Probation" in selectors.update_consent(update).reason
    with pytest.raises(DomainError):
        _send(update, cast)


def test_a_milestone_needs_a_part_2_consent(cast, inbound, frozen):
    _consent(inbound)
    _move_in(cast, inbound, sobriety_on=date(2026, 2, 20))
    frozen.move_to(datetime(2026, 3, 23, 14, tzinfo=UTC))
    milestone = UpdateOwed.objects.get(inbound=inbound, kind=UpdateKind.MILESTONE, days=30)
    assert "does not cover: Substance use" in selectors.update_consent(milestone).reason
    _consent(inbound, categories=[*HOUSING, Category.SUBSTANCE_USE], part2=True)
    assert _send(milestone, cast).state == UpdateState.SENT


def test_a_sent_update_is_disclosed_logged_with_the_person_and_moves_the_cadence(
    cast, inbound, frozen
):
    consent = _consent(inbound)
    update = _first_check_in(cast, inbound, frozen)
    relationship = Relationship.objects.get(agency=cast.agency_a)
    due_before = relationship.next_due_at
    sent = _send(update, cast, body="Dana is settling in well.")
    assert (sent.state, sent.sent_to) == (UpdateState.SENT, SOURCE_EMAIL)
    message = OutboundEmail.objects.get(kind="stay_update")
    assert (message.to, message.reply_to) == (SOURCE_EMAIL, cast.coordinator.email)
    assert message.subject == "Update on Dana R.: 7 days at Alpha Recovery"
    assert message.body_text == "Dana is settling in well."
    disclosure = Disclosure.objects.get()
    assert (disclosure.consent_id, disclosure.channel) == (consent.pk, "status_update")
    assert disclosure.categories == HOUSING
    interaction = Interaction.objects.get()
    assert interaction.kind == InteractionKind.STATUS_UPDATE and sent.interaction == interaction
    assert [p.email for p in interaction.people.all()] == [SOURCE_EMAIL]
    relationship.refresh_from_db()
    assert relationship.last_contact_at == START + timedelta(days=7, hours=2)
    assert relationship.next_due_at > due_before
    timeline = partner_page(relationship=relationship).timeline
    assert any(e.kind == "interaction" and e.item.pk == interaction.pk for e in timeline)
    with pytest.raises(DomainError) as twice:
        _send(update, cast)
    assert twice.value.field == "state"
    assert OutboundEmail.objects.filter(kind="stay_update").count() == 1


def test_a_payment_for_the_referral_is_refused_in_the_message(cast, inbound, frozen):
    _consent(inbound)
    update = _first_check_in(cast, inbound, frozen)
    with pytest.raises(DomainError) as refused:
        _send(update, cast, body="Thanks! Your $100 for each referral is in the mail.")
    assert refused.value.code == "remuneration"


def test_skipping_needs_a_reason_and_settles_the_item(cast, inbound, frozen):
    update = _first_check_in(cast, inbound, frozen)
    with pytest.raises(DomainError) as refused:
        services.update_skip(update=update, actor=cast.coordinator, reason=" ")
    assert refused.value.field == "reason"
    skipped = services.update_skip(
        update=update, actor=cast.coordinator, reason="Talked on the phone instead"
    )
    assert skipped.state == UpdateState.SKIPPED
    member = cast.coordinator.memberships.get(agency=cast.agency_a)
    (rows,) = selectors.due_rows(
        agency=cast.agency_a, member=member, until=START + timedelta(days=8)
    )
    assert update.pk not in [row.pk for row in rows.rows]


def test_templates_are_the_agencys_own_and_unknown_placeholders_are_refused(cast, inbound):
    with pytest.raises(DomainError) as refused:
        services.template_save(
            agency=cast.agency_a,
            actor=cast.admin_a,
            kind=UpdateKind.CHECK_IN,
            subject="{client}",
            body="Hi {caseworker}",
        )
    assert refused.value.field == "body" and "{caseworker}" in refused.value.message
    services.template_save(
        agency=cast.agency_a,
        actor=cast.admin_a,
        kind=UpdateKind.CHECK_IN,
        subject="{client} — day {days}",
        body="{source}: {client} is at {house}. {sender}",
    )
    stay = _move_in(cast, inbound, house="Elm House")
    update = UpdateOwed.objects.get(stay=stay, days=7)
    assert selectors.update_draft(update, sender=cast.coordinator) == (
        "Dana R. — day 7",
        "Jordan Ellis: Dana R. is at Elm House. Alpha Referral coordinator",
    )


def test_the_agency_sets_the_days_and_may_turn_stays_off(cast, inbound):
    def policy(**changes):
        data = {**cast.agency_a.policies.model_dump(), **changes}
        agency_policy_update(
            agency=cast.agency_a, actor=cast.admin_a, data=data, time_zone="America/Chicago"
        )
        cast.agency_a.refresh_from_db()

    policy(stay_check_in_days=[10, 3, 3])
    inbound.agency.refresh_from_db()
    _move_in(cast, inbound)
    assert [d for _, d, _, _ in _owed(inbound)] == [3, 10]
    policy(stays_enabled=False)
    with pytest.raises(DomainError):
        services.stay_move_in(
            agency=cast.agency_a,
            actor=cast.coordinator,
            client=inbound.client,
            move_in_on=date(2026, 3, 2),
        )


# --- metrics hooks -----------------------------------------------------------------------------


def test_metrics_count_conversion_and_on_time_updates_per_source(cast, inbound, frozen):
    _consent(inbound)
    other_client = referral_factories.client(
        agency=cast.agency_a, actor=cast.coordinator, first_name="Lee"
    )
    second = services.inbound_create(
        agency=cast.agency_a,
        actor=cast.coordinator,
        data=services.InboundData(
            client=other_client, source_organization=inbound.source_organization
        ),
    )
    services.application_record(inbound=second, actor=cast.coordinator, status="applied")
    update = _first_check_in(cast, inbound, frozen)
    _send(update, cast)  # sent on its day: on time
    frozen.move_to(START + timedelta(days=16, hours=3))  # the +14 is two days late
    late = UpdateOwed.objects.get(inbound=inbound, days=14)
    _send(late, cast)
    (row,) = selectors.source_metrics(
        agency=cast.agency_a, since=START - timedelta(days=1), until=START + timedelta(days=20)
    )
    assert (row.name, row.referred, row.applied, row.admitted) == ("County Probation", 2, 2, 1)
    assert (row.updates_due, row.updates_on_time, row.on_time_rate) == (2, 1, 0.5)


# --- referrals received through Referloop --------------------------------------------------------


def test_a_network_referral_taken_in_becomes_the_receivers_inbound_record(
    cast, frozen, django_capture_on_commit_callbacks
):
    bravo = directory.organization(network=cast.network, agency=cast.agency_b, name="Bravo")
    referral = referral_factories.sample_referral(
        agency=cast.agency_b, actor=cast.admin_b, partner_agency=cast.agency_a, name="Alpha Home"
    )
    with django_capture_on_commit_callbacks(execute=True):
        referral_accept(referral=referral, actor=Actor(user=cast.coordinator, agency=cast.agency_a))
    inbound = InboundReferral.objects.get(network_referral=referral)
    assert (inbound.agency, inbound.origin, inbound.status) == (
        cast.agency_a,
        Origin.NETWORK,
        Application.NEW,
    )
    assert inbound.source_organization == bravo and inbound.client is None
    # Nothing of the sender's client is copied: staff take it in with a client of their own.
    assert not InboundReferral.objects.filter(agency=cast.agency_b).exists()
    assert services.inbound_from_network(referral=referral) == inbound  # once
