"""The demo network's partner relationships: people at the partner organizations (some of whom
changed jobs), each agency's relationships across stages and tiers, a year of interactions
(some partners overdue, a few silent long enough to be at risk), print materials, and what is
owed to people (welcome packets, relationships to re-establish). Written with bulk_create; the
due times come from the same pure cadence function the services use."""

import random
from datetime import timedelta

from faker import Faker

from referloop.core.models import Membership
from referloop.core.permissions import Role
from referloop.directory.models import Contact, Organization, Phone
from referloop.partners.cadence import relationship_next_due
from referloop.partners.models import (
    ACTIVE_STAGES,
    FACE_TO_FACE_KINDS,
    Interaction,
    InteractionKind,
    KeyContact,
    KeyContactDue,
    Material,
    MaterialKind,
    Meeting,
    MeetingAttendee,
    Position,
    Relationship,
    Stage,
    StageChange,
    Tier,
)
from referloop.partners.services import relationship_tiers_refresh

BATCH = 5000
# (people, interactions) per demo size: `large` is the benchmark's 20,000 and 2,000,000.
VOLUME = {"small": (160, 4_000), "medium": (2_000, 100_000), "large": (20_000, 2_000_000)}
TITLES = [
    "Probation officer",
    "Case manager",
    "Discharge planner",
    "Placement coordinator",
    "Therapist",
    "Intake coordinator",
    "Social worker",
    "Reentry specialist",
    "Peer recovery coach",
    "Program director",
]
STAGE_WEIGHTS = [
    (Stage.REACH_OUT, 14),
    (Stage.RAPPORT, 18),
    (Stage.MUTUAL_BENEFITS, 16),
    (Stage.TRUST, 18),
    (Stage.LASTING, 20),
    (Stage.DORMANT, 8),
    (Stage.NOT_A_FIT, 6),
]
NOT_A_FIT_REASONS = [
    "Serves adolescents only",
    "Requires insurance we do not take",
    "Outside our service area",
]
KIND_WEIGHTS = [
    (InteractionKind.CALL, 34),
    (InteractionKind.EMAIL, 26),
    (InteractionKind.IN_PERSON, 10),
    (InteractionKind.VIDEO, 8),
    (InteractionKind.VISIT, 6),
    (InteractionKind.TEXT, 8),
    (InteractionKind.STATUS_UPDATE, 6),
    (InteractionKind.APPRECIATION, 2),
]
SUMMARIES = {
    InteractionKind.CALL: ["Checked in on open referrals", "Talked through bed availability"],
    InteractionKind.EMAIL: ["Sent the updated intake criteria", "Shared this month's openings"],
    InteractionKind.IN_PERSON: ["Lunch with the team", "Met at their office"],
    InteractionKind.VIDEO: ["Video call about a shared client", "Quarterly check-in"],
    InteractionKind.VISIT: ["Toured the houses with them", "Dropped off brochures"],
    InteractionKind.TEXT: ["Quick question about a referral"],
    InteractionKind.STATUS_UPDATE: ["Resident moved in; doing well", "One-month update sent"],
    InteractionKind.APPRECIATION: ["Thank-you card to the whole team"],
}
MATERIALS = [
    ("Rack card", MaterialKind.RACK_CARD, 300, False),
    ("Brochure", MaterialKind.BROCHURE, 150, False),
    ("Business cards", MaterialKind.BUSINESS_CARD, 500, False),
    ("Welcome folder packet", MaterialKind.FOLDER_PACKET, 40, True),
]


def _pick(rng: random.Random, weighted):
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


def partners_clear(*, agencies) -> None:
    """Deletes what `partners_build` wrote for these agencies (and their networks' people),
    children first, without the ORM's collector (millions of rows at large)."""
    ids = list(agencies.values_list("pk", flat=True))
    networks = list(agencies.values_list("network_id", flat=True).distinct())
    interactions = Interaction.objects.filter(agency_id__in=ids)
    _delete(Interaction.people.through.objects.filter(interaction__in=interactions))
    for model in (Interaction, StageChange, KeyContact, MeetingAttendee, Meeting, Material):
        _delete(model.objects.filter(agency_id__in=ids))
    _delete(Relationship.objects.filter(agency_id__in=ids))
    _delete(Position.objects.filter(network_id__in=networks))
    _delete(Phone.objects.filter(network_id__in=networks, contact__isnull=False))
    _delete(Contact.objects.filter(network_id__in=networks))


def _delete(queryset) -> None:
    queryset._raw_delete(queryset.db)


def partners_build(*, network, agencies, size: str, fake: Faker, rng: random.Random, now) -> None:
    people_target, interactions_target = VOLUME[size]
    organizations = list(Organization.objects.filter(network=network).order_by("pk"))
    if not organizations:
        return
    people, moved = _people(network, organizations, people_target, fake, rng, now)
    relationships = _relationships(agencies, organizations, rng, now)
    keys = _key_contacts(relationships, people, moved, rng, now)
    materials = _materials(agencies)
    _interactions(relationships, keys, materials, interactions_target, fake, rng, now)
    for agency in agencies:
        relationship_tiers_refresh(agency=agency, now=now)


def _people(network, organizations, target, fake, rng, now):
    """People at the partner organizations; one in twelve changed jobs during the year."""
    contacts, positions, moved = [], [], {}
    for index in range(target):
        organization = organizations[index % len(organizations)]
        first, last = fake.first_name(), fake.last_name()
        contacts.append(
            Contact(
                network=network,
                organization=organization,
                name=f"{first} {last}",
                title=rng.choice(TITLES),
                email=f"{first}.{last}{index}@{_domain(organization)}".lower(),
                created_at=now - timedelta(days=rng.randint(200, 900)),
            )
        )
    Contact.objects.bulk_create(contacts, batch_size=BATCH)
    phones = []
    for index, contact in enumerate(contacts):
        started = (now - timedelta(days=rng.randint(400, 2000))).date()
        if rng.random() < 1 / 12 and len(organizations) > 1:
            before = organizations[(index + 7) % len(organizations)]
            if before.pk == contact.organization_id:
                before = organizations[(index + 8) % len(organizations)]
            # The first few moved lately: their new relationship is still to re-establish.
            recent = len(moved) < 3
            switched = (
                now - timedelta(days=rng.randint(2, 20) if recent else rng.randint(30, 300))
            ).date()
            positions.append(
                Position(
                    network=network,
                    contact=contact,
                    organization=before,
                    title=rng.choice(TITLES),
                    started_on=started,
                    ended_on=switched,
                )
            )
            moved[contact.pk] = (before, switched)
            started = switched
        positions.append(
            Position(
                network=network,
                contact=contact,
                organization_id=contact.organization_id,
                title=contact.title,
                started_on=started,
            )
        )
        phones.append(
            Phone(network=network, contact=contact, number=f"+1217555{1000 + index % 9000:04d}")
        )
    Position.objects.bulk_create(positions, batch_size=BATCH)
    Phone.objects.bulk_create(phones, batch_size=BATCH)
    return contacts, moved


def _domain(organization) -> str:
    words = "".join(ch for ch in organization.name.lower() if ch.isalnum() or ch == " ").split()
    return f"{''.join(words[:2]) or 'partner'}.example.org"


def _relationships(agencies, organizations, rng, now):
    """Each agency's partners: every named partner organization for the core agencies, a share
    of the directory for the others; never the agency's own organizations."""
    rows = []
    share = min(1.0, 40 / len(organizations))
    # The named partner organizations come first in the directory, after the agencies' own.
    named = {o.pk for o in organizations if o.agency_id is None}
    named = set(sorted(named)[:30])
    for agency in agencies:
        for organization in organizations:
            if organization.agency_id == agency.pk:
                continue
            another_agency = organization.agency_id is not None
            if not (another_agency or organization.pk in named) and rng.random() > share:
                continue
            stage = _pick(rng, STAGE_WEIGHTS)
            tier = rng.choices([Tier.PROSPECT, Tier.REGULAR, Tier.PRIMARY], [3, 5, 2])[0]
            if stage == Stage.REACH_OUT:
                tier = Tier.PROSPECT
            rows.append(
                Relationship(
                    agency=agency,
                    organization=organization,
                    stage=stage,
                    stage_reason=rng.choice(NOT_A_FIT_REASONS) if stage == Stage.NOT_A_FIT else "",
                    tier=tier,
                    owner_id=None,
                    considers=rng.choice(
                        [
                            "A bed within 48 hours and a warm hand-off",
                            "That we take Medicaid and court-ordered clients",
                            "Hearing back after every referral",
                            "",
                        ]
                    ),
                    created_at=now - timedelta(days=rng.randint(380, 700)),
                    stage_changed_at=now - timedelta(days=rng.randint(5, 300)),
                )
            )
    owners = _owners(agencies)
    for relationship in rows:
        choices = owners.get(relationship.agency_id) or [None]
        relationship.owner_id = rng.choice(choices)
    Relationship.objects.bulk_create(rows, batch_size=BATCH)
    return rows


def _owners(agencies) -> dict[int, list[int]]:
    owners: dict[int, list[int]] = {}
    rows = Membership.objects.filter(
        agency__in=agencies, role__in=[Role.COORDINATOR, Role.PROGRAM_LEAD, Role.INTAKE]
    ).values_list("agency_id", "user_id")
    for agency_id, user_id in rows:
        owners.setdefault(agency_id, []).append(user_id)
    return owners


def _key_contacts(relationships, people, moved, rng, now):
    by_organization: dict[int, list[Contact]] = {}
    for person in people:
        by_organization.setdefault(person.organization_id, []).append(person)
    keys, owed = {}, []
    for relationship in relationships:
        staff = by_organization.get(relationship.organization_id, [])
        chosen = rng.sample(staff, min(len(staff), rng.randint(1, 3))) if staff else []
        keys[relationship.pk] = chosen
        for person in chosen:
            key = KeyContact(
                agency_id=relationship.agency_id,
                relationship=relationship,
                contact=person,
                availability_opt_in=relationship.stage in (Stage.TRUST, Stage.LASTING)
                and rng.random() < 0.6,
                welcome_packet_sent_at=now - timedelta(days=rng.randint(30, 400)),
            )
            if key.availability_opt_in:
                key.opted_in_at = now - timedelta(days=rng.randint(30, 300))
            switch = moved.get(person.pk)
            if switch is not None and (now.date() - switch[1]).days < 30:
                key.next_due_at = now - timedelta(days=rng.randint(0, 3))
                key.due_reason = KeyContactDue.REESTABLISH
                key.due_note = f"moved from {switch[0].name} on {switch[1]:%Y-%m-%d}"
            elif rng.random() < 0.04:
                key.welcome_packet_sent_at = None
                key.next_due_at = now + timedelta(days=rng.randint(-3, 2))
                key.due_reason = KeyContactDue.WELCOME_PACKET
                key.due_note = "first contact"
            owed.append(key)
    KeyContact.objects.bulk_create(owed, batch_size=BATCH)
    return keys


def _materials(agencies) -> dict[int, list[Material]]:
    rows = [
        Material(agency=agency, name=name, kind=kind, on_hand=count, is_welcome_packet=welcome)
        for agency in agencies
        for name, kind, count, welcome in MATERIALS
    ]
    Material.objects.bulk_create(rows, batch_size=BATCH)
    made: dict[int, list[Material]] = {}
    for material in rows:
        made.setdefault(material.agency_id, []).append(material)
    return made


def _interactions(relationships, keys, materials, target, fake, rng, now):
    """A year of touches per relationship, its diligence drawn per partner: most are kept on
    cadence, some slip (overdue), a few went silent (at risk). Stored fields follow."""
    worked = [r for r in relationships if r.stage in ACTIVE_STAGES] or relationships
    per_relationship = max(1, target // len(worked))
    pending = []
    for relationship in worked:
        silence = rng.choices([0, 20, 120], [70, 22, 8])[0]  # days since the last touch
        count = max(1, int(per_relationship * rng.uniform(0.5, 1.5)))
        span = 365 - silence
        persons = keys.get(relationship.pk, [])
        for step in range(count):
            at = now - timedelta(
                days=silence + span * (count - step - 1) / count, hours=rng.random() * 8
            )
            kind = _pick(rng, KIND_WEIGHTS)
            interaction = Interaction(
                agency_id=relationship.agency_id,
                relationship=relationship,
                kind=kind,
                occurred_at=at,
                owner_id=relationship.owner_id,
                summary=rng.choice(SUMMARIES[kind]),
                created_at=at,
            )
            pending.append((interaction, persons[step % len(persons)] if persons else None))
            _remember(relationship, interaction)
        if len(pending) >= BATCH:
            _write(pending)
    if relationships and materials:
        for relationship in rng.sample(worked, min(len(worked), 20)):
            persons = keys.get(relationship.pk, [])
            material = materials[relationship.agency_id][0]
            pending.append(
                (
                    Interaction(
                        agency_id=relationship.agency_id,
                        relationship=relationship,
                        kind=InteractionKind.PRINT_MEDIA,
                        occurred_at=now - timedelta(days=rng.randint(2, 60)),
                        owner_id=relationship.owner_id,
                        material=material,
                        quantity=rng.randint(10, 40),
                        summary="Left a stack at the front desk",
                    ),
                    persons[0] if persons else None,
                )
            )
    _write(pending)
    for relationship in relationships:
        due = relationship_next_due(relationship, relationship.agency)
        relationship.next_due_at, relationship.due_reason = due.at, due.reason
    Relationship.objects.bulk_update(
        relationships,
        ["last_contact_at", "last_face_to_face_at", "next_due_at", "due_reason"],
        batch_size=BATCH,
    )


def _remember(relationship, interaction) -> None:
    if (
        relationship.last_contact_at is None
        or interaction.occurred_at > relationship.last_contact_at
    ):
        relationship.last_contact_at = interaction.occurred_at
    if interaction.kind in FACE_TO_FACE_KINDS and (
        relationship.last_face_to_face_at is None
        or interaction.occurred_at > relationship.last_face_to_face_at
    ):
        relationship.last_face_to_face_at = interaction.occurred_at


def _write(pending) -> None:
    through = Interaction.people.through
    Interaction.objects.bulk_create([interaction for interaction, _ in pending], batch_size=BATCH)
    through.objects.bulk_create(
        [
            through(interaction_id=interaction.pk, contact_id=person.pk)
            for interaction, person in pending
            if person is not None
        ],
        batch_size=BATCH,
    )
    pending.clear()
