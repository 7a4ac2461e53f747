"""Partner people: one directory record per person, checked addresses and E.164 numbers,
position history and moves, likely duplicates and merges, what is owed to a person, and the
refusal to record payments for referrals."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from referloop.core.errors import DomainError
from referloop.directory.models import Contact, Phone
from referloop.partners import selectors, services
from referloop.partners.models import Interaction, KeyContact, KeyContactDue, Position, Relationship
from referloop.worklist.selectors import due_items_for
from tests.directory import factories as directory
from tests.partners import factories


@pytest.fixture
def probation(cast):
    return factories.relationship(agency=cast.agency_a, actor=cast.coordinator)


def test_a_person_is_one_directory_contact_with_a_current_position(cast, probation):
    person = services.partner_contact_create(
        agency=cast.agency_a,
        actor=cast.coordinator,
        name="Jordan Ellis",
        organization=probation.organization,
        title="Probation officer",
        email="Jordan.Ellis@Probation.EXAMPLE.gov",
        other_emails=["jellis@county.example.gov", "jordan.ellis@probation.example.gov"],
        phones=["(217) 555-0134", "217.555.0134", "+1 312 555 0188"],
    )
    assert person.email == "Jordan.Ellis@probation.example.gov"
    assert person.other_emails == ["jellis@county.example.gov"]
    assert sorted(Phone.objects.filter(contact=person).values_list("number", flat=True)) == [
        "+12175550134",
        "+13125550188",
    ]
    position = Position.objects.get(contact=person)
    assert (position.organization_id, position.title, position.ended_on) == (
        probation.organization_id,
        "Probation officer",
        None,
    )
    assert KeyContact.objects.filter(relationship=probation, contact=person).exists()
    assert Contact.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"email": "jordan@"}, "email", "is not an e-mail address"),
        ({"phones": ["555-01"]}, "phones", "is not a valid phone number"),
        ({"phones": ["call me"]}, "phones", "is not a phone number"),
        ({"name": "  "}, "name", "Enter the person's name"),
        ({"other_emails": ["no-at-sign"]}, "other_emails", "is not an e-mail address"),
    ],
)
def test_bad_people_input_is_refused_and_changes_nothing(cast, probation, fields, field, message):
    data = {"name": "Jordan Ellis", **fields}
    with pytest.raises(DomainError) as refused:
        services.partner_contact_create(
            agency=cast.agency_a,
            actor=cast.coordinator,
            organization=probation.organization,
            **data,
        )
    assert refused.value.field == field
    assert message in refused.value.message
    assert not Contact.objects.exists() and not Position.objects.exists()


def test_moving_keeps_history_and_asks_to_reestablish_the_relationship(cast, probation):
    person = factories.person(relationship=probation, actor=cast.coordinator)
    services.interaction_log(
        relationship=probation, actor=cast.coordinator, kind="call", people=[person]
    )
    court = directory.organization(network=cast.network, name="County Drug Court")
    today = timezone.localdate()
    services.contact_move(
        agency=cast.agency_a,
        actor=cast.coordinator,
        contact=person,
        organization=court,
        title="Court coordinator",
        on=today + timedelta(days=1),
    )
    person.refresh_from_db()
    assert (person.organization_id, person.title) == (court.pk, "Court coordinator")
    history = list(Position.objects.filter(contact=person).order_by("started_on"))
    assert [(p.organization_id, p.ended_on) for p in history] == [
        (probation.organization_id, today + timedelta(days=1)),
        (court.pk, None),
    ]
    assert Interaction.objects.filter(people=person).count() == 1  # the history stays
    new = Relationship.objects.get(agency=cast.agency_a, organization=court)
    key = KeyContact.objects.get(relationship=new, contact=person)
    assert key.due_reason == KeyContactDue.REESTABLISH
    assert not KeyContact.objects.filter(relationship=probation, contact=person).exists()
    items = due_items_for(
        agency=cast.agency_a, member=None, until=timezone.now() + timedelta(minutes=1)
    )
    reestablish = [item for item in items if item.kind == KeyContactDue.REESTABLISH]
    assert len(reestablish) == 1
    assert "re-establish the relationship: Jordan Ellis moved from County Probation" in (
        reestablish[0].reason
    )


def test_a_move_must_not_overlap_and_must_name_a_directory_organization(cast, probation):
    person = factories.person(relationship=probation, actor=cast.coordinator)
    court = directory.organization(network=cast.network, name="County Drug Court")
    with pytest.raises(DomainError) as overlapping:
        services.contact_move(
            agency=cast.agency_a,
            actor=cast.coordinator,
            contact=person,
            organization=court,
            on=timezone.localdate() - timedelta(days=30),
        )
    assert overlapping.value.field == "on" and "overlap" in overlapping.value.message
    elsewhere = directory.organization(network=cast.other_network, name="Other network court")
    with pytest.raises(DomainError) as outside:
        services.contact_move(
            agency=cast.agency_a, actor=cast.coordinator, contact=person, organization=elsewhere
        )
    assert outside.value.field == "organization"
    assert "not in your network's directory" in outside.value.message
    assert Position.objects.filter(contact=person).count() == 1


def test_likely_duplicates_are_flagged_and_a_merge_keeps_every_interaction(cast, probation):
    first = factories.person(
        relationship=probation, actor=cast.coordinator, name="Jon Smith", email="jsmith@x.org"
    )
    second = factories.person(relationship=probation, actor=cast.coordinator, name="John Smith")
    third = factories.person(
        relationship=factories.relationship(agency=cast.agency_a, name="Shelter"),
        actor=cast.coordinator,
        name="J. Smith",
        email="JSmith@x.org",
    )
    unrelated = factories.person(relationship=probation, actor=cast.coordinator, name="Ana Ruiz")
    pairs = {
        (pair.keep.pk, pair.duplicate.pk): pair.reason
        for pair in selectors.contact_duplicates(agency=cast.agency_a)
    }
    assert pairs == {
        (first.pk, second.pk): "similar names at County Probation",
        (first.pk, third.pk): "same e-mail address (jsmith@x.org)",
    }
    for person in (first, second, third, unrelated):
        services.interaction_log(
            relationship=probation, actor=cast.coordinator, kind="call", people=[person]
        )
    services.contact_merge(
        agency=cast.agency_a, actor=cast.coordinator, keep=first, duplicate=second
    )
    services.contact_merge(
        agency=cast.agency_a, actor=cast.coordinator, keep=first, duplicate=third
    )
    assert not Contact.objects.filter(pk__in=[second.pk, third.pk]).exists()
    assert Interaction.objects.filter(people=first).count() == 3
    assert Interaction.objects.count() == 4
    first.refresh_from_db()
    assert first.email == "jsmith@x.org" and first.other_emails == []
    assert Position.objects.filter(contact=first, ended_on__isnull=True).count() == 1
    assert Position.objects.filter(contact=first).count() == 3
    assert selectors.contact_duplicates(agency=cast.agency_a) == []


def test_a_first_contact_owes_the_person_a_welcome_packet(cast, probation):
    person = factories.person(relationship=probation, actor=cast.coordinator)
    services.interaction_log(
        relationship=probation, actor=cast.coordinator, kind="call", people=[person]
    )
    key = KeyContact.objects.get(contact=person)
    assert key.due_reason == KeyContactDue.WELCOME_PACKET
    packet = services.material_save(
        agency=cast.agency_a,
        actor=cast.coordinator,
        name="Welcome folder",
        kind="folder_packet",
        on_hand=10,
        is_welcome_packet=True,
    )
    services.interaction_log(
        relationship=probation,
        actor=cast.coordinator,
        kind="print_media",
        people=[person],
        material=packet,
        quantity=1,
    )
    key.refresh_from_db()
    packet.refresh_from_db()
    assert (key.due_reason, key.next_due_at, packet.on_hand) == ("", None, 9)
    assert key.welcome_packet_sent_at is not None
    # A later call is no first contact: nothing more is owed.
    services.interaction_log(
        relationship=probation, actor=cast.coordinator, kind="call", people=[person]
    )
    key.refresh_from_db()
    assert key.due_reason == ""


@pytest.mark.parametrize(
    "summary",
    [
        "Promised a $50 gift card for each referral they send",
        "Referral bonus agreed with their case managers",
        "Free week of rent for every new resident they place",
        "They asked about a kickback",
    ],
)
def test_payments_or_rewards_for_referrals_are_refused_with_the_reason(cast, probation, summary):
    with pytest.raises(DomainError) as refused:
        services.interaction_log(
            relationship=probation, actor=cast.coordinator, kind="appreciation", summary=summary
        )
    assert refused.value.code == "remuneration"
    assert "EKRA" in refused.value.message and "Anti-Kickback Statute" in refused.value.message
    assert not Interaction.objects.exists()
    with pytest.raises(DomainError):
        services.relationship_update(
            relationship=probation, actor=cast.coordinator, mutual_benefits=summary
        )


def test_appreciation_is_recorded(cast, probation):
    interaction = services.interaction_log(
        relationship=probation,
        actor=cast.coordinator,
        kind="appreciation",
        summary="Sent a thank-you card to the whole team for their help this quarter",
    )
    assert interaction.get_kind_display() == "Thank-you / recognition"


def test_an_interaction_in_the_future_or_with_another_agencys_referral_is_refused(cast, probation):
    with pytest.raises(DomainError) as future:
        services.interaction_log(
            relationship=probation,
            actor=cast.coordinator,
            kind="call",
            occurred_at=timezone.now() + timedelta(days=1),
        )
    assert future.value.field == "occurred_at"
    from tests.referrals import factories as referral_factories

    theirs = referral_factories.sample_referral(agency=cast.agency_b, actor=cast.admin_b)
    with pytest.raises(DomainError) as foreign:
        services.interaction_log(
            relationship=probation, actor=cast.coordinator, kind="call", referral_id=theirs.pk
        )
    assert foreign.value.field == "referral"
    with pytest.raises(DomainError) as past_step:
        services.interaction_log(
            relationship=probation,
            actor=cast.coordinator,
            kind="call",
            next_step_on=date(2020, 1, 1),
        )
    assert past_step.value.field == "next_step_on"
    assert not Interaction.objects.exists()
