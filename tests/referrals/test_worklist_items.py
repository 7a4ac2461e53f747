"""Referral items on the worklist: owners' follow-ups and overdue targets, re-refer items after a
bounce-back, escalations for program leads, and the receiving agency's inbox -- all read from the
stored due time, cleared by the services that change a referral."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from referloop.core.due import due_items_of
from referloop.core.models import Membership
from referloop.core.permissions import Role
from referloop.referrals.models import Referral
from referloop.referrals.selectors import due_rows
from referloop.referrals.services import (
    Actor,
    Answer,
    referral_follow_up_log,
    referral_partner_answer,
    referral_receive,
)
from referloop.worklist.selectors import overdue_count_for, worklist_for
from tests.conftest import client_for
from tests.referrals import factories
from tests.worklist.sources import source_items

# Tuesday 12 May 2026, 09:00 in Chicago (agency A's time zone).
T0 = datetime(2026, 5, 12, 14, 0, tzinfo=UTC)
RECEIPT_DUE = T0 + timedelta(days=2)  # two business days: Thursday, same time
PARTNER = Actor(label="Pat Intake (reply link)")


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def member(user, agency):
    return Membership.objects.get(user=user, agency=agency)


def due_items(**kwargs):
    return source_items(due_rows, **kwargs)


def keys(items) -> set[str]:
    return {item.key for item in items}


def send(cast, *, owner, name="Harbor House", partner_agency=None) -> Referral:
    return factories.sample_referral(
        agency=cast.agency_a, actor=owner, name=name, partner_agency=partner_agency
    )


def actor(user, agency) -> Actor:
    return Actor(user=user, agency=agency)


# --- the owner's items -----------------------------------------------------------------------


def test_owner_gets_an_item_once_receipt_is_overdue(cast, clock):
    ref = send(cast, owner=cast.coordinator)
    coordinator = member(cast.coordinator, cast.agency_a)
    assert due_items(agency=cast.agency_a, member=coordinator, until=T0) == []

    clock.move_to(RECEIPT_DUE + timedelta(days=1, hours=2), tick=False)  # Friday
    worklist = worklist_for(agency=cast.agency_a, member=coordinator)
    [item] = worklist.overdue
    assert item.key == f"referral:{ref.pk}"
    assert item.kind == "referral_receipt"
    assert item.due_at == RECEIPT_DUE
    assert item.owner_id == cast.coordinator.pk
    assert item.subject == f"Dana Rivers · {ref.tracking_id}"
    assert item.reason == (
        f"No receipt confirmation from Harbor House for {ref.tracking_id} yet "
        "(target: 2 business days). 1 day overdue."
    )
    assert item.action_label == "Log follow-up"
    assert item.action_url == reverse("referrals:detail", kwargs={"pk": ref.pk}) + "#next-action"


def test_coming_up_before_due_and_on_track_without_an_item(cast, clock):
    ref = send(cast, owner=cast.coordinator)
    coordinator = member(cast.coordinator, cast.agency_a)
    worklist = worklist_for(agency=cast.agency_a, member=coordinator)
    assert keys(worklist.coming_up) == {f"referral:{ref.pk}"}
    assert worklist.overdue == [] and worklist.due_today == []
    clock.move_to(RECEIPT_DUE - timedelta(hours=1), tick=False)  # Thursday morning
    assert keys(worklist_for(agency=cast.agency_a, member=coordinator).due_today) == {
        f"referral:{ref.pk}"
    }


def test_mine_shows_only_my_referrals_and_whole_agency_shows_all(cast, clock):
    mine = send(cast, owner=cast.coordinator)
    theirs = send(cast, owner=cast.members_a[Role.INTAKE], name="Bridge Shelter")
    clock.move_to(RECEIPT_DUE + timedelta(hours=1), tick=False)

    coordinator = member(cast.coordinator, cast.agency_a)
    assert keys(due_items(agency=cast.agency_a, member=coordinator, until=RECEIPT_DUE)) == {
        f"referral:{mine.pk}"
    }
    assert keys(due_items(agency=cast.agency_a, member=None, until=RECEIPT_DUE)) == {
        f"referral:{mine.pk}",
        f"referral:{theirs.pk}",
    }
    # Another agency's member asking about agency A gets nothing.
    outsider = member(cast.admin_b, cast.agency_b)
    assert due_items(agency=cast.agency_a, member=outsider, until=RECEIPT_DUE) == []

    page = client_for(cast.coordinator).get(reverse("worklist:index")).content.decode()
    assert mine.tracking_id in page and theirs.tracking_id not in page
    lead = client_for(cast.members_a[Role.PROGRAM_LEAD])
    mine_page = lead.get(reverse("worklist:index") + "?scope=mine").content.decode()
    assert mine.tracking_id not in mine_page and theirs.tracking_id not in mine_page
    agency_page = lead.get(reverse("worklist:index") + "?scope=agency").content.decode()
    assert mine.tracking_id in agency_page and theirs.tracking_id in agency_page


def test_logging_a_follow_up_clears_the_item(cast, clock):
    ref = send(cast, owner=cast.coordinator)
    coordinator = member(cast.coordinator, cast.agency_a)
    clock.move_to(RECEIPT_DUE + timedelta(days=1), tick=False)
    assert keys(worklist_for(agency=cast.agency_a, member=coordinator).overdue) == {
        f"referral:{ref.pk}"
    }
    referral_follow_up_log(referral=ref, actor=actor(cast.coordinator, cast.agency_a))
    worklist = worklist_for(agency=cast.agency_a, member=coordinator)
    assert worklist.overdue == [] and worklist.due_today == []
    # What comes next is the first-contact target, still ahead.
    [upcoming] = worklist.coming_up
    assert upcoming.kind == "referral_first_contact" and upcoming.due_at == T0 + timedelta(days=7)


def test_first_contact_item_once_received_but_nobody_reached_the_client(cast, clock):
    ref = send(cast, owner=cast.coordinator)
    referral_partner_answer(referral=ref, actor=PARTNER, answer=Answer.RECEIVED)
    clock.move_to(T0 + timedelta(days=7, hours=1), tick=False)
    [item] = due_items(agency=cast.agency_a, member=None, until=T0 + timedelta(days=7, hours=1))
    assert item.kind == "referral_first_contact" and item.action_label == "Log follow-up"
    assert item.reason == (
        f"No contact attempt with the client yet for {ref.tracking_id} to Harbor House "
        "(target: 7 days). Overdue since today."
    )


def test_a_follow_up_item_names_the_partner_and_asks_to_log_it(cast, clock):
    ref = send(cast, owner=cast.coordinator)
    referral_partner_answer(referral=ref, actor=PARTNER, answer=Answer.ACCEPTED)
    referral_partner_answer(referral=ref, actor=PARTNER, answer=Answer.CLIENT_CONTACTED)
    clock.move_to(T0 + timedelta(days=8), tick=False)
    coordinator = member(cast.coordinator, cast.agency_a)
    [item] = worklist_for(agency=cast.agency_a, member=coordinator).overdue
    assert item.kind == "referral_follow_up"
    assert item.reason == (
        f"Follow up with Harbor House about {ref.tracking_id}: last contact 8 days ago. "
        "1 day overdue."
    )
    assert item.action_label == "Log follow-up"


def test_the_outcome_target_asks_to_record_the_outcome(cast, clock):
    ref = send(cast, owner=cast.coordinator)
    referral_partner_answer(referral=ref, actor=PARTNER, answer=Answer.CLIENT_CONTACTED)
    # Chase every week as the cadence asks; at 30 days the outcome is what is missing.
    for week in range(1, 5):
        clock.move_to(T0 + timedelta(days=7 * week), tick=False)
        referral_follow_up_log(referral=ref, actor=actor(cast.coordinator, cast.agency_a))
    clock.move_to(T0 + timedelta(days=30, hours=1), tick=False)
    [item] = due_items(agency=cast.agency_a, member=None, until=T0 + timedelta(days=31))
    assert item.kind == "referral_outcome" and item.action_label == "Record outcome"
    assert item.reason == (
        f"Outcome of {ref.tracking_id} at Harbor House not known yet (target: 30 days). "
        "Overdue since today."
    )


def test_service_started_closes_the_loop_and_clears_the_item(cast, clock):
    ref = send(cast, owner=cast.coordinator)
    clock.move_to(RECEIPT_DUE + timedelta(days=3), tick=False)
    assert keys(due_items(agency=cast.agency_a, member=None, until=RECEIPT_DUE)) == {
        f"referral:{ref.pk}"
    }
    referral_partner_answer(referral=ref, actor=PARTNER, answer=Answer.SERVICE_STARTED)
    far_future = T0 + timedelta(days=365)
    assert due_items(agency=cast.agency_a, member=None, until=far_future) == []


# --- bounce-back ------------------------------------------------------------------------------


def test_not_accepted_gives_a_rerefer_item_until_a_new_referral_links_to_it(cast, clock):
    ref = send(cast, owner=cast.coordinator)
    clock.move_to(T0 + timedelta(days=1), tick=False)
    referral_partner_answer(
        referral=ref, actor=PARTNER, answer=Answer.NOT_ACCEPTED, disposition="no_capacity"
    )
    coordinator = member(cast.coordinator, cast.agency_a)
    clock.move_to(T0 + timedelta(days=1, hours=1), tick=False)
    [item] = worklist_for(agency=cast.agency_a, member=coordinator).overdue
    assert item.key == f"referral:{ref.pk}" and item.kind == "referral_rerefer"
    assert item.reason == (
        f"{ref.tracking_id} not accepted by Harbor House (No capacity): re-refer the client. "
        "Overdue since today."
    )
    assert item.action_label == "Re-refer"

    other_org, other_service = factories.partner(network=cast.network, name="Bridge Shelter")
    again = factories.referral(
        client=ref.client,
        organization=other_org,
        service=other_service,
        consent=factories.consent(client=ref.client, organization=other_org),
        actor=cast.coordinator,
    )
    assert again.bounce_back_of_id == ref.pk
    assert worklist_for(agency=cast.agency_a, member=coordinator).overdue == []


# --- escalation -------------------------------------------------------------------------------


def test_program_lead_gets_an_escalation_once_seven_days_overdue(cast, clock):
    ref = send(cast, owner=cast.coordinator)
    lead = member(cast.members_a[Role.PROGRAM_LEAD], cast.agency_a)
    coordinator = member(cast.coordinator, cast.agency_a)
    escalation = f"referral-escalation:{ref.pk}"

    clock.move_to(RECEIPT_DUE + timedelta(days=7) - timedelta(minutes=1), tick=False)
    assert due_items(agency=cast.agency_a, member=lead, until=T0 + timedelta(days=30)) == []

    clock.move_to(RECEIPT_DUE + timedelta(days=7), tick=False)
    [item] = worklist_for(agency=cast.agency_a, member=lead).overdue
    assert item.key == escalation and item.kind == "escalation"
    assert item.due_at == RECEIPT_DUE + timedelta(days=7)
    assert item.action_label == "Review"
    assert item.owner_id is None
    assert item.reason == (
        f"7 days overdue, owned by {cast.coordinator}. No receipt confirmation from Harbor House "
        f"for {ref.tracking_id} yet (target: 2 business days)."
    )
    # The owner keeps their own item and gets no escalation; the whole agency sees both.
    assert keys(worklist_for(agency=cast.agency_a, member=coordinator).overdue) == {
        f"referral:{ref.pk}"
    }
    assert keys(worklist_for(agency=cast.agency_a, member=None).overdue) == {
        f"referral:{ref.pk}",
        escalation,
    }


def test_escalations_are_never_forecast(cast, clock):
    send(cast, owner=cast.coordinator)
    lead = member(cast.members_a[Role.PROGRAM_LEAD], cast.agency_a)
    clock.move_to(RECEIPT_DUE + timedelta(days=1), tick=False)
    # Asking a week ahead shows nothing for the lead: a referral escalates only once it is late.
    assert due_items(agency=cast.agency_a, member=lead, until=T0 + timedelta(days=30)) == []


# --- the receiving agency's inbox ------------------------------------------------------------


def test_receiving_agency_sees_the_new_referral_until_it_acknowledges(cast, clock):
    ref = send(cast, owner=cast.coordinator, name="Bravo Detox", partner_agency=cast.agency_b)
    assert ref.receiving_agency_id == cast.agency_b.pk
    member_b = member(cast.admin_b, cast.agency_b)
    [item] = worklist_for(agency=cast.agency_b, member=member_b).overdue
    assert item.key == f"referral-inbox:{ref.pk}" and item.kind == "referral_inbox"
    assert item.due_at == ref.sent_at
    assert item.subject == f"{ref.tracking_id} from Alpha Recovery"
    assert item.reason == (
        f"New referral {ref.tracking_id} from Alpha Recovery for Bravo Detox intake, sent today: "
        "acknowledge it so they know it arrived."
    )
    assert item.action_label == "Acknowledge"
    # The receiver sees only the packet: no client name anywhere in the item.
    assert not any("Dana" in text or "Rivers" in text for text in (item.subject, item.reason))
    # The sending agency has no inbox item for it.
    assert f"referral-inbox:{ref.pk}" not in keys(
        due_items(agency=cast.agency_a, member=None, until=T0)
    )

    referral_receive(referral=ref, actor=actor(cast.admin_b, cast.agency_b))
    assert due_items(agency=cast.agency_b, member=member_b, until=T0 + timedelta(days=30)) == []


def test_inbox_items_go_to_members_who_can_acknowledge(cast, clock):
    ref = factories.sample_referral(
        agency=cast.agency_b, actor=cast.admin_b, name="Alpha House", partner_agency=cast.agency_a
    )
    inbox_key = f"referral-inbox:{ref.pk}"
    coordinator = member(cast.coordinator, cast.agency_a)
    auditor = member(cast.auditor, cast.agency_a)
    assert keys(due_items(agency=cast.agency_a, member=coordinator, until=T0)) == {inbox_key}
    assert due_items(agency=cast.agency_a, member=auditor, until=T0) == []
    assert keys(due_items(agency=cast.agency_a, member=None, until=T0)) == {inbox_key}


# --- speed ------------------------------------------------------------------------------------


def _many(cast, count: int) -> None:
    org, service = factories.partner(network=cast.network, agency=cast.agency_b, name="Bravo")
    person = factories.client(agency=cast.agency_a)
    covering = factories.consent(client=person, organization=org)
    for _ in range(count):
        made = factories.referral(
            client=person,
            organization=org,
            service=service,
            consent=covering,
            actor=cast.coordinator,
        )
        factories.send(made, actor=cast.coordinator)


@pytest.mark.parametrize("count", [1, 30])
def test_queries_stay_bounded_however_many_items(cast, clock, count, django_assert_max_num_queries):
    _many(cast, count)
    clock.move_to(T0 + timedelta(days=20), tick=False)  # all overdue and escalated
    until = T0 + timedelta(days=21)
    with django_assert_max_num_queries(3):  # own items, escalations, inbox
        agency_items = due_items_of(due_rows(agency=cast.agency_a, member=None, until=until))
    with django_assert_max_num_queries(3):
        inbox_items = due_items_of(due_rows(agency=cast.agency_b, member=None, until=until))
    assert len(agency_items) == 2 * count  # the owner's item and the escalation of each
    assert len(inbox_items) == count
    coordinator = member(cast.coordinator, cast.agency_a)
    with django_assert_max_num_queries(2):  # not a lead: own items and the inbox
        assert len(
            due_items_of(due_rows(agency=cast.agency_a, member=coordinator, until=until))
        ) == (count)


@pytest.mark.parametrize("count", [1, 30])
def test_the_navigation_badge_counts_in_sql(cast, clock, count, django_assert_max_num_queries):
    _many(cast, count)
    clock.move_to(T0 + timedelta(days=20), tick=False)
    coordinator = member(cast.coordinator, cast.agency_a)
    # One COUNT per query of each source (listings, own referrals, inbox, consents, partners,
    # the people owed something, the updates owed to referral sources, the inquiries at
    # imminent risk), no item built.
    with django_assert_max_num_queries(8):
        assert overdue_count_for(agency=cast.agency_a, member=coordinator) == count
    # Pages load it after they show, from its own URL.
    page = client_for(cast.coordinator).get(reverse("clients:list")).content.decode()
    assert f'hx-get="{reverse("worklist:badge")}"' in page and "badge-overdue" not in page
    badge = client_for(cast.coordinator).get(reverse("worklist:badge")).content.decode()
    assert f'title="{count} overdue"' in badge
