"""The demo network's residents: referrals made to each agency by its partners (from the
public form, decided, denied), current residents at different points of their stay, a few who
left, and the updates their referral sources are owed: most sent on time, some overdue. The
owed rows come from the same scheduling function the services use."""

import random
from datetime import timedelta

from django.utils import timezone

from referloop.clients.models import Category, Client
from referloop.clients.services import ConsentData, consent_record
from referloop.core.timeutils import agency_today, local_midnight_utc
from referloop.core.tracking_ids import tracking_id_generate
from referloop.partners.models import KeyContact
from referloop.stays.models import (
    Application,
    DischargeReason,
    InboundReferral,
    Origin,
    Stay,
    UpdateOwed,
    UpdateState,
)
from referloop.stays.services import next_milestone, stay_updates_schedule

HOUSES = ["Elm House", "Oak House", "Cedar House", "Maple House (women)", "Birch House"]
RESIDENTS_PER_AGENCY = 10
DAYS_HERE = [2, 5, 9, 16, 23, 33, 48, 75, 110, 160, 250]
DENIAL_REASONS = ["No bed for the level of care needed", "Needs medical detox first"]


def stays_clear(*, agencies) -> None:
    """Deletes what `stays_build` wrote (before the clients and partners it points at)."""
    ids = list(agencies.values_list("pk", flat=True))
    for model in (UpdateOwed, Stay, InboundReferral):
        queryset = model.objects.filter(agency_id__in=ids)
        queryset._raw_delete(queryset.db)


def _consent(client, organization, now, *, part2: bool):
    categories = [Category.IDENTITY, Category.HOUSING]
    if part2:
        categories.append(Category.SUBSTANCE_USE)
    consent_record(
        client=client,
        actor=None,
        data=ConsentData(
            categories=categories,
            purpose="Updates to the person who referred me",
            signed_at=now - timedelta(days=30),
            signed_by_name=client.display_name,
            recipient_organization=organization,
            part2=part2,
            no_expiry=True,
        ),
    )


def _agency_build(agency, *, rng: random.Random, now) -> None:
    sources = list(
        KeyContact.objects.filter(agency=agency, contact__email__gt="")
        .select_related("contact", "relationship__organization", "relationship__owner")
        .order_by("pk")[:8]
    )
    if not sources:
        return
    clients = list(Client.objects.filter(agency=agency).order_by("pk")[: RESIDENTS_PER_AGENCY + 3])
    today = agency_today(agency)
    used = set()
    for index, client in enumerate(clients):
        key = rng.choice(sources)
        relationship = key.relationship
        days_here = rng.choice(DAYS_HERE)
        resident = index < RESIDENTS_PER_AGENCY
        referred_at = now - timedelta(days=days_here + rng.randint(2, 12), hours=rng.randint(0, 8))
        inbound = InboundReferral.objects.create(
            agency=agency,
            tracking_id=_tracking_id(agency, used, rng),
            origin=rng.choice([Origin.STAFF, Origin.STAFF, Origin.FORM]),
            client=client,
            source_organization=relationship.organization,
            source_contact=key.contact,
            owner=relationship.owner,
            status=Application.APPROVED if resident else Application.APPLIED,
            referred_at=referred_at,
            applied_at=referred_at + timedelta(days=1),
            decided_at=referred_at + timedelta(days=2) if resident else None,
            admitted_at=local_midnight_utc(agency, today - timedelta(days=days_here))
            if resident
            else None,
        )
        if index % 3 != 2:  # most residents agreed their source may hear how they are doing
            _consent(client, relationship.organization, now, part2=index % 2 == 0)
        if not resident:
            if index == len(clients) - 1:
                inbound.status, inbound.status_reason = (
                    Application.DENIED,
                    rng.choice(DENIAL_REASONS),
                )
                inbound.decided_at = now - timedelta(hours=3)
                inbound.save()
                UpdateOwed.objects.create(
                    agency=agency,
                    inbound=inbound,
                    kind="denial",
                    due_at=inbound.decided_at,
                    is_urgent=True,
                )
            continue
        move_in_on = today - timedelta(days=days_here)
        stay = Stay(
            agency=agency,
            client=client,
            inbound=inbound,
            house=rng.choice(HOUSES),
            move_in_on=move_in_on,
            sobriety_on=move_in_on - timedelta(days=rng.randint(3, 60)),
        )
        left = index == RESIDENTS_PER_AGENCY - 1 and days_here > 30
        stay.next_milestone_on = next_milestone(stay, today)
        stay.save()
        stay_updates_schedule(stay)
        _settle_past(stay, rng=rng, now=now)
        if left:
            stay.discharge_on = today - timedelta(days=2)
            stay.discharge_reason = DischargeReason.INDEPENDENT
            stay.next_milestone_on = None
            stay.save()
            UpdateOwed.objects.filter(stay=stay, state=UpdateState.OWED, due_at__gt=now).update(
                state=UpdateState.CANCELLED, settled_at=now, skip_reason="The stay ended."
            )
            UpdateOwed.objects.create(
                agency=agency,
                inbound=inbound,
                stay=stay,
                kind="independent_living",
                due_at=now - timedelta(days=1),
            )
    # A partner used the public form this morning: staff have not taken it in yet.
    key = sources[0]
    InboundReferral.objects.create(
        agency=agency,
        tracking_id=_tracking_id(agency, used, rng),
        origin=Origin.FORM,
        status=Application.NEW,
        person_name="Sam Alvarez",
        person_contact="Mornings, on the cell the probation office has",
        note="Released Friday; needs a bed and a meeting schedule.",
        source_name=f"{key.contact.name}, {key.relationship.organization.name}",
        source_email=key.contact.email,
        source_organization=key.relationship.organization,
        source_contact=key.contact,
        referred_at=now - timedelta(hours=2),
    )


def _settle_past(stay, *, rng: random.Random, now) -> None:
    """Updates already due: most were sent on their day, some skipped, a few still overdue."""
    for update in UpdateOwed.objects.filter(stay=stay, due_at__lte=now):
        roll = rng.random()
        if roll < 0.7:
            update.state = UpdateState.SENT
            update.settled_at = min(now, update.due_at + timedelta(hours=rng.randint(9, 30)))
            update.sent_to = stay.inbound.source_contact.email
            update.message = "Update sent from the demo data."
        elif roll < 0.8:
            update.state = UpdateState.SKIPPED
            update.settled_at = update.due_at + timedelta(hours=10)
            update.skip_reason = "Told them by phone."
        else:
            continue  # overdue: on the worklist
        update.save()


def _tracking_id(agency, used: set, rng: random.Random) -> str:
    while True:
        tracking_id = tracking_id_generate(rng)
        if tracking_id not in used:
            used.add(tracking_id)
            return tracking_id


def stays_build(*, agencies, rng: random.Random, now=None) -> None:
    now = now or timezone.now()
    for agency in agencies:
        if agency.policies.stays_enabled:
            _agency_build(agency, rng=rng, now=now)
