"""Demo clients, consents and six months of closed-loop referral history (PRODUCT.md §4).

Each agency's history is simulated in time order. Clients come in episodes (one person referred
to two or three services in the same week, and again months later); partners answer quickly,
slowly or not at all; owners follow up when `next_due` says so -- mostly on time, sometimes days
late, which is where a Monday morning's overdue and escalated items come from; rejected referrals
bounce back and are re-referred. Milestones, timeline events and the stored due time all come
from the same steps, applied the way the services apply them, so they agree with each other.

Rows are plain tuples written a table at a time (COPY on PostgreSQL, one executemany on SQLite),
with primary keys reserved up front so children can name parents written in the same batch.
Building Django model instances costs ~40 µs each on a small machine, too slow for five million
events; each value is still converted the way its field would (encrypted by the field itself,
dates by the database adapter, JSON as text), so the rows are what the ORM would store.

The same seed at the same moment gives the same history; as it is laid out relative to now (so
the demo always looks current), another day shifts the dates and, with them, some details.
"""

import heapq
import json
import logging
import random
import secrets
import time as clock
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from itertools import accumulate
from types import SimpleNamespace
from typing import NamedTuple

from django.db import connection, models
from faker import Faker

from referloop.clients import matching
from referloop.clients.models import (
    Category,
    Channel,
    Client,
    Consent,
    Disclosure,
    RecipientClass,
    Signer,
)
from referloop.core.bulk import reserve_ids
from referloop.core.fields import EncryptedTextField
from referloop.core.models import IssuedTrackingId, Membership
from referloop.core.permissions import Role
from referloop.core.timeutils import agency_zone
from referloop.core.tracking_ids import tracking_id_generate
from referloop.demo.directory import PARTNER_ORGANIZATIONS, TOWNS
from referloop.directory.models import Organization, Service, ServiceAttribute
from referloop.directory.vocabulary import NEEDS
from referloop.referrals.due import NOT_DUE, next_due
from referloop.referrals.models import (
    CLOSED,
    OPEN,
    TRANSITIONS,
    DispositionCode,
    DueReason,
    EventKind,
    Packet,
    Referral,
    ReferralEvent,
    ReplyLink,
    Status,
    Urgency,
)
from referloop.referrals.packets import packet_content
from referloop.referrals.reply_links import reply_url, token_hash
from referloop.referrals.services import (
    OUTCOME_KNOWN_STATUSES,
    RECEIVER_MOVES,
    Answer,
    disposition_defaults_ensure,
)

log = logging.getLogger("referloop.demo")


@dataclass(frozen=True)
class Volume:
    clients: int  # per agency
    referrals: int  # planned per agency; re-referrals of bounce-backs come on top (~5%)


VOLUMES = {
    "small": Volume(clients=120, referrals=480),
    "medium": Volume(clients=600, referrals=2_400),
    "large": Volume(clients=1_500, referrals=9_150),
}
HISTORY_DAYS = 182
PACKET_AGENCIES = 5  # the core agencies
PACKETS_PER_AGENCY = 25  # packet snapshots (and ledger rows) for the newest open referrals
PACKET_RELATIONS = (
    "agency",
    "client",
    "owner",
    "organization",
    "service",
    "receiving_agency",
    "consent__recipient_organization",
)
SHARE_TO_DEMO_AGENCIES = 0.22  # of referrals go to partners on Referloop (their inboxes)
WORKDAY = (8, 18)  # local hours when staff and partners act
BACKLOG = timedelta(days=14)
# Whatever the day and hour the demo is built, each coordinator finds overdue referrals: the first
# few of theirs sent this long before now get no answer and no follow-up (some thus escalate).
NEGLECTED_PER_AGENCY = 3
NEGLECTED_SENT = (timedelta(days=5), timedelta(days=12))  # at least 3 business days: past due


# --- what happens to a referral ------------------------------------------------------------


class Step(NamedTuple):
    lo: float  # days after the previous step, at least
    hi: float  # and at most
    kind: str  # "move", "contact" (with the client), "reply" (partner note), "note" (owner note)
    who: str  # "partner" or "owner"
    status: str = ""  # for moves
    codes: tuple = ()  # disposition codes to choose from (weighted by repetition)
    texts: tuple = ()  # notes or reasons to choose from
    p: float = 1.0  # chance the step happens at all


class Fate(NamedTuple):
    name: str
    weight: int
    steps: tuple


RECEIVED_NOTES = (
    "Got it, we'll review today.",
    "Received. Intake will call the client this week.",
    "Thanks, this is with our intake team.",
    "",
)
ACCEPTED_NOTES = (
    "Accepted. Intake appointment scheduled.",
    "We have an opening Monday.",
    "Eligible; we will call the client to set a start date.",
    "",
)
CONTACT_NOTES = (
    "Left a message for the client.",
    "Spoke with the client; assessment set for Thursday.",
    "Client called us back.",
    "Reached the client on the safe number.",
)
STARTED_NOTES = (
    "Client moved in today.",
    "Client attended the first session.",
    "Admitted this morning.",
    "First appointment kept.",
    "",
)
COMPLETED_NOTES = (
    "Client completed the program.",
    "Finished the 28-day program; discharge plan sent.",
    "Services completed, case closed.",
    "",
)
PROGRESS_NOTES = (
    "Client is doing well and attending.",
    "Client is engaged; next review in two weeks.",
    "Still in services, no concerns.",
)
OWNER_NOTES = (
    "Client asked for help with transportation to intake.",
    "Confirmed the client's phone number.",
    "Client says the intake call went well.",
    "Client has a court date next week; partner informed.",
)
HOLD_REASONS = (
    "Waitlisted: next bed expected in two weeks.",
    "Waiting for insurance authorization.",
    "Client in the hospital; will resume after discharge.",
)
REJECT_NOTES = ("We are full until next month.", "Not a fit for our program.", "")
CANCEL_REASONS = (
    "Client moved out of the county.",
    "Client found housing on their own.",
    "Client no longer wants this service.",
)
RESOLVE_NOTES = (
    "Client chose to stay in their current program.",
    "Client found a bed through family.",
    "Client moved out of the county.",
)
FOLLOW_UP_NOTES = (
    "",
    "",
    "Left a voicemail for intake.",
    "E-mailed the intake coordinator.",
    "Partner says they will call the client today.",
)
FOLLOW_UP_CHANNELS = ("call", "call", "call", "email", "email", "text", "visit")

RECEIVE = Step(0.05, 2, "move", "partner", Status.RECEIVED, texts=RECEIVED_NOTES)
# Partners often answer "accepted" straight away (the life cycle allows requested -> accepted).
ACCEPT = Step(0.1, 2.5, "move", "partner", Status.ACCEPTED, texts=ACCEPTED_NOTES)
CONTACT = Step(0.3, 3, "contact", "partner", texts=CONTACT_NOTES, p=0.25)
START = Step(1, 6, "move", "partner", Status.IN_PROGRESS, ("service_started",), STARTED_NOTES)
COMPLETE = Step(10, 45, "move", "partner", Status.COMPLETED, ("completed",), COMPLETED_NOTES)
OWNER_NOTE = Step(1, 15, "note", "owner", texts=OWNER_NOTES, p=0.25)
PROGRESS = Step(10, 30, "reply", "partner", texts=PROGRESS_NOTES, p=0.3)
HOLD = Step(1, 5, "move", "partner", Status.ON_HOLD, texts=HOLD_REASONS)
# "could not reach" is also a reason not to accept; "other" comes with its own words.
NOT_ACCEPTED_CODES = (
    ("not_eligible",) * 5
    + ("no_capacity",) * 5
    + (
        "client_declined",
        "client_declined",
        "could_not_reach",
        "could_not_reach",
        "duplicate",
        "referred_elsewhere",
        "other",
    )
)
REJECT = Step(1, 8, "move", "partner", Status.REJECTED, NOT_ACCEPTED_CODES, REJECT_NOTES)
# Needs whose programs are full more often than not (beds): their refusals lean to no capacity.
ALWAYS_FULL = frozenset({"sober-living", "shelter", "detox", "housing"})
CAPACITY_INSTEAD = dict.fromkeys(
    ("not_eligible", "referred_elsewhere", "client_declined", "could_not_reach"), "no_capacity"
)
CANCEL_CODES = ("client_declined", "referred_elsewhere", "", "")
CANCEL = Step(1, 20, "move", "owner", Status.CANCELLED, CANCEL_CODES, CANCEL_REASONS)
NO_SHOW = Step(3, 15, "move", "partner", Status.FAILED, ("client_no_show",))
# A partner who never answers: after weeks of follow-ups the owner refers elsewhere.
GIVE_UP = Step(
    25,
    50,
    "move",
    "owner",
    Status.CANCELLED,
    ("referred_elsewhere", ""),
    ("No answer from the partner after several follow-ups.",),
)
UNREACHABLE = Step(5, 15, "move", "partner", Status.FAILED, ("could_not_reach",))

SILENT = Fate("silent", 3, (GIVE_UP,))
# The loop closes when the service starts; only some partners also report completion.
FATES = (
    Fate("started", 30, (ACCEPT, CONTACT, START, OWNER_NOTE)),
    Fate("completed", 17, (RECEIVE._replace(p=0.4), ACCEPT, CONTACT, START, COMPLETE)),
    Fate("long_service", 6, (ACCEPT, START, PROGRESS, COMPLETE._replace(lo=60, hi=150))),
    Fate("rejected", 13, (RECEIVE._replace(p=0.3), REJECT)),
    Fate("cancelled", 5, (RECEIVE._replace(p=0.3), CANCEL)),
    Fate("no_show", 5, (ACCEPT, NO_SHOW)),
    Fate(
        "unreachable", 3, (RECEIVE, CONTACT._replace(p=1.0, texts=CONTACT_NOTES[:1]), UNREACHABLE)
    ),
    Fate("on_hold", 5, (RECEIVE, HOLD, ACCEPT._replace(lo=10, hi=40), START)),
    Fate("silent_then_active", 7, (RECEIVE._replace(lo=5, hi=25), ACCEPT, START)),
    SILENT,
    Fate(
        "slow_accept",
        6,
        (
            RECEIVE._replace(hi=3),
            PROGRESS._replace(lo=2, hi=12, texts=HOLD_REASONS[:2]),
            ACCEPT._replace(lo=5, hi=25),
            START._replace(lo=5, hi=20),
        ),
    ),
)
FATE_WEIGHTS = [fate.weight for fate in FATES]
URGENCIES = tuple(Urgency.values)
# What a partner can say through the one-question reply link; other moves are made by the owner.
LINK_ANSWER = {
    Status.RECEIVED: Answer.RECEIVED,
    Status.ACCEPTED: Answer.ACCEPTED,
    Status.REJECTED: Answer.NOT_ACCEPTED,
    Status.IN_PROGRESS: Answer.SERVICE_STARTED,
    Status.COMPLETED: Answer.COMPLETED,
}

REASONS = {
    "sober-living": "Needs a sober-living bed after completing detox.",
    "addiction-treatment": "Asking for residential treatment; relapsed after 8 months sober.",
    "detox": "Needs medically monitored withdrawal; drinking daily.",
    "medication-for-addiction": "Wants to start buprenorphine; on a waitlist elsewhere.",
    "counseling": "Anxiety and trauma symptoms; wants weekly therapy.",
    "mental-health": "Depression screening positive; needs an assessment.",
    "reentry": "Released last week; needs reentry support and ID documents.",
    "case-management": "Needs help coordinating housing, benefits and treatment.",
    "legal-aid": "Facing eviction; court date in three weeks.",
    "employment": "Looking for second-chance employment; has forklift certificate.",
    "shelter": "Lost housing; sleeping in car.",
    "housing": "Needs stable housing after leaving treatment.",
    "food": "Family short on food until benefits start.",
    "crisis": "Recent crisis; needs follow-up from the mobile team.",
    "medical-care": "Needs primary care and a medication review.",
    "peer-support": "Veteran asking for peer support.",
    "domestic-violence": "Survivor of domestic violence; needs a safety plan and group.",
    "benefits": "Needs help applying for SNAP and Medicaid.",
    "transportation": "Needs rides to outpatient appointments.",
}
DEFAULT_REASON = "Needs services we don't provide; partner is the best fit."
# Agencies whose consents often cover substance-use records (42 CFR Part 2 programs).
PART2_AGENCIES = {"riverbend-treatment": 0.7, "harbor-house": 0.5}
SAFE_HOURS = ("Texts only after 6 pm", "Weekdays 9 am to 5 pm", "Mornings only", "")
SAFE_NOTES = (
    "Use first name only; don't say the program's name on the phone.",
    "Call the sister's number first.",
)
DNDL_NOTE = "Fleeing domestic violence: never confirm where the client lives."


# --- writing plain rows ------------------------------------------------------------------------


def _converter(model_field, phrases: bool):
    """How a Python value becomes what the ORM would send for this column (None: as it is)."""
    ops = connection.ops
    if isinstance(model_field, EncryptedTextField):
        # Demo notes come from a short list of phrases: each is encrypted once (equal phrases
        # then share a ciphertext, which only invented data may do).
        return cache(model_field.get_prep_value) if phrases else model_field.get_prep_value
    if isinstance(model_field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(model_field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(model_field, models.JSONField):  # the document as text, on both databases
        return _json_text
    return None  # integers, text and booleans go to the driver unchanged


def _json_text(value) -> str:
    # The documents here come in a few small shapes (flat dicts, lists of codes): encode each once.
    items = value.items() if isinstance(value, dict) else value
    return _json_cached(tuple(items), isinstance(value, dict))


@lru_cache(maxsize=4096)
def _json_cached(items: tuple, is_dict: bool) -> str:
    return json.dumps(dict(items) if is_dict else list(items))


class _Table:
    """Rows of one model as tuples in `columns` order (field names separated by spaces), written
    in one bulk statement per flush. `phrases` names encrypted columns holding stock phrases."""

    def __init__(self, model, columns: str, phrases: str = ""):
        fields = [model._meta.get_field(name) for name in columns.split()]
        self.model = model
        self.columns = [model_field.column for model_field in fields]
        converters = [_converter(f, f.name in phrases.split()) for f in fields]
        self.converters = [(i, convert) for i, convert in enumerate(converters) if convert]
        self.rows: list[tuple] = []
        self.written = 0

    def add(self, *values) -> None:
        self.rows.append(values)

    def flush(self) -> None:
        rows, self.rows = self.rows, []
        if not rows:
            return
        if self.converters:
            rows = [self._converted(row) for row in rows]
        quote = connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        names = ", ".join(quote(column) for column in self.columns)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - our names
                cursor.executemany(insert, rows)
        self.written += len(rows)

    def _converted(self, row: tuple) -> list:
        row = list(row)
        for i, convert in self.converters:
            if row[i] is not None:
                row[i] = convert(row[i])
        return row


def _delete_rows(queryset) -> None:
    # Without Django's collector: to cascade it would load every row first (millions at large).
    queryset._raw_delete(queryset.db)


def referrals_clear(*, agencies) -> None:
    """Deletes what `referrals_build` wrote for these agencies, children first. Call before the
    agencies themselves are deleted; a new generator whose rows point at demo clients or
    referrals must delete its rows before this runs."""
    ids = list(agencies.values_list("pk", flat=True))
    referrals = Referral.objects.filter(agency_id__in=ids)
    _delete_rows(Referral.needs.through.objects.filter(referral__in=referrals))
    for model in (ReferralEvent, ReplyLink, Packet, Disclosure):
        _delete_rows(model.objects.filter(agency_id__in=ids))
    _delete_rows(referrals)
    _delete_rows(Consent.objects.filter(agency_id__in=ids))
    _delete_rows(Client.objects.filter(agency_id__in=ids))


# --- the simulation --------------------------------------------------------------------------


class Actor(NamedTuple):
    user_id: int | None
    label: str
    agency_id: int | None


@dataclass(eq=False)
class Person:
    id: int
    first_name: str
    last_name: str
    date_of_birth: str
    language: str
    do_not_contact: bool
    referrals: list = field(default_factory=list)
    consents: dict = field(default_factory=dict)  # organization id or class -> consent


@dataclass(eq=False)
class ConsentRow:
    id: int
    person: Person
    organization_id: int | None
    categories: list
    part2: bool
    signed_at: datetime
    expires_on: date | None
    expiry_event: str
    recorded_by: int
    purpose: str
    last_used_at: datetime
    revoked_at: datetime | None = None
    revoked_by: int | None = None


class Partner(NamedTuple):
    organization_id: int
    name: str
    agency_id: int | None  # the Referloop agency that runs it, if any
    services: list  # [(service id, [need term id], need code)]
    contacts: list  # [(name, email, phone)]


@dataclass(slots=True, eq=False)
class Sim:
    """A referral being lived through: the attributes `next_due` reads, plus its events."""

    tracking_id: str
    person: Person
    owner: Actor
    partner: Partner
    service_id: int
    needs: list
    contact: tuple
    reason: str
    urgency: str
    consent: ConsentRow
    categories: list
    created_at: datetime
    status: str = Status.DRAFT
    disposition_id: int | None = None
    status_reason: str = ""
    sent_at: datetime | None = None
    received_at: datetime | None = None
    first_contact_at: datetime | None = None
    outcome_at: datetime | None = None
    closed_at: datetime | None = None
    last_follow_up_at: datetime | None = None
    last_partner_update_at: datetime | None = None
    bounce_back_of: "Sim | None" = None
    bounce_resolved_at: datetime | None = None
    version: int = 1
    id: int = 0
    neglected: bool = False  # the owner never follows it up (see NEGLECTED_PER_AGENCY)
    need_code: str = ""  # the service's first need
    events: list = field(default_factory=list)
    link_answers: list = field(default_factory=list)  # (answer, at) given through the link

    @property
    def receiving_agency_id(self):
        return self.partner.agency_id if self.sent_at else None


class AgencyHistory:
    """One agency's clients, consents and referrals, simulated from six months ago to now."""

    def __init__(self, builder: "Builder", agency, partners: list[Partner], weights: list[float]):
        self.b, self.agency = builder, agency
        self.rng, self.now = builder.rng, builder.now
        self.zone = agency_zone(agency)
        # `next_due` reads the policy twice per call: parse the JSON document once.
        self.policy_view = SimpleNamespace(time_zone=agency.time_zone, policies=agency.policies)
        self.window = timedelta(days=agency.policies.bounce_back_days)
        self.partners, self.cum_weights = partners, list(accumulate(weights))
        self.codes = builder.codes[agency.pk]
        staff = builder.staff[agency.pk]
        self.owners = [staff[Role.COORDINATOR]] * 3 + [staff[Role.INTAKE]] * 2
        self.coordinator, self.neglect_left = staff[Role.COORDINATOR], NEGLECTED_PER_AGENCY
        self.people: list[Person] = []
        self.consents: list[ConsentRow] = []
        self.sims: list[Sim] = []
        self.heap: list = []
        self.pushes = 0

    # time -----------------------------------------------------------------------------------

    def working(self, at: datetime) -> datetime:
        """`at`, or the next working morning if `at` falls outside working hours."""
        local = at.astimezone(self.zone)
        if local.isoweekday() <= 5 and WORKDAY[0] <= local.hour < WORKDAY[1]:
            return at
        day = local.date() + timedelta(days=0 if local.hour < WORKDAY[0] else 1)
        while day.isoweekday() > 5:
            day += timedelta(days=1)
        morning = datetime.combine(day, time(WORKDAY[0]), tzinfo=self.zone).astimezone(UTC)
        return morning + timedelta(minutes=self.rng.uniform(0, 150))

    def after(self, at: datetime, lo_days: float, hi_days: float) -> datetime:
        return self.working(at + timedelta(days=self.rng.uniform(lo_days, hi_days)))

    # people ---------------------------------------------------------------------------------

    def add_people(self, count: int) -> None:
        b, rng = self.b, self.rng
        ids = reserve_ids(Client, count + count // 40)
        for index in range(count):
            spanish = rng.random() < 0.18
            first_pool, last_pool = (b.es_first, b.es_last) if spanish else (b.first, b.last)
            language = "Spanish" if spanish and rng.random() < 0.8 else "English"
            if rng.random() < 0.03:
                language = rng.choice(("Vietnamese", "Arabic", "Polish"))
            age_days = int(365.25 * rng.triangular(18, 72, 34))
            dob = (self.now.date() - timedelta(days=age_days)).isoformat()
            person = Person(
                ids[index],
                rng.choice(first_pool),
                rng.choice(last_pool),
                dob,
                language,
                # A rare rule, yet one person per agency at least: the demo always shows it.
                do_not_contact=rng.random() < 0.006 or index == count // 2,
            )
            self.people.append(person)
        # A few people recorded twice under a variant spelling: duplicate detection finds them.
        for index in range(count // 40):
            original = rng.choice(self.people[:count])
            name = original.first_name
            variant = name[0] + name[1:].replace("h", "", 1) if "h" in name[1:] else name + "e"
            self.people.append(
                Person(
                    ids[count + index],
                    variant,
                    original.last_name,
                    original.date_of_birth,
                    original.language,
                    do_not_contact=False,
                )
            )

    # the referral life cycle ----------------------------------------------------------------

    def push(self, at: datetime, action: str, *payload) -> None:
        self.pushes += 1
        heapq.heappush(self.heap, (at, self.pushes, action, payload))

    def plan_episodes(self, referrals: int) -> None:
        """Each pass over the (shuffled) clients gives everyone one more episode: one to four
        referrals in the same week, to different partners, with one owner."""
        referable = [p for p in self.people[: self.b.volume.clients] if not p.do_not_contact]
        rng = self.rng
        planned = 0
        starts: dict[int, list[datetime]] = {}
        while planned < referrals:
            rng.shuffle(referable)
            for person in referable:
                start = self.episode_start(starts.setdefault(person.id, []))
                owner = rng.choice(self.owners)
                size = rng.choices((1, 2, 3, 4), weights=(45, 30, 17, 8))[0]
                for index in range(min(size, referrals - planned)):
                    at = start if index == 0 else self.working(start + timedelta(days=index))
                    if at < self.now:
                        self.push(at, "create", person, owner)
                        planned += 1
                if planned >= referrals:
                    break

    def episode_start(self, earlier: list[datetime]) -> datetime:
        """Mostly months apart from the person's other episodes (a few come back sooner)."""
        for _ in range(4):
            start = self.history_instant()
            if all(abs(start - other) > timedelta(days=60) for other in earlier):
                break
        earlier.append(start)
        return start

    def history_instant(self) -> datetime:
        """A working-hours instant in the last HISTORY_DAYS, more of them recent (growth)."""
        days = HISTORY_DAYS * self.rng.random() ** 1.15
        at = self.working(self.now - timedelta(days=days))
        if at >= self.now:
            at = self.now - timedelta(minutes=self.rng.uniform(5, 240))
        return at

    def run(self) -> None:
        while self.heap:
            at, _, action, payload = heapq.heappop(self.heap)
            if at >= self.now:
                break
            if action == "create":
                self.create(at, *payload)
            elif action == "rerefer":
                old = payload[0]
                if old.bounce_resolved_at is None:
                    self.create(at, old.person, old.owner)  # links to `old`
            elif action == "resolve":
                old = payload[0]
                if old.bounce_resolved_at is None:
                    self.bounce_resolve(old, at, self.rng.choice(RESOLVE_NOTES))

    def bounced_from(self, person: Person, at: datetime) -> Sim | None:
        """Mirrors referrals.services._recent_closed_referral at instant `at`."""
        closed = [r for r in person.referrals if r.closed_at is not None and r.closed_at <= at]
        unresolved = [
            r for r in closed if r.status == Status.REJECTED and r.bounce_resolved_at is None
        ]
        if unresolved:
            return max(unresolved, key=lambda r: r.closed_at)
        recent = [r for r in closed if r.closed_at >= at - self.window]
        return max(recent, key=lambda r: r.closed_at) if recent else None

    def pick_partner(self, avoid: set[int]) -> Partner:
        for _ in range(20):
            partner = self.rng.choices(self.partners, cum_weights=self.cum_weights)[0]
            if partner.organization_id not in avoid:
                return partner
        return partner

    def create(self, at: datetime, person: Person, owner: Actor) -> None:
        rng = self.rng
        recent_orgs = {r.partner.organization_id for r in person.referrals[-4:]}
        partner = self.pick_partner(recent_orgs)
        service_id, needs, need_code = rng.choice(partner.services)
        consent = self.consent_for(person, partner, at, owner)
        categories = [
            c for c in consent.categories if c != Category.SUBSTANCE_USE or rng.random() < 0.8
        ]
        sim = Sim(
            tracking_id=self.b.tracking_id(),
            person=person,
            owner=owner,
            partner=partner,
            service_id=service_id,
            needs=needs,
            contact=rng.choice(partner.contacts),
            reason=REASONS.get(need_code, DEFAULT_REASON),
            urgency=rng.choices(URGENCIES, weights=(80, 17, 3))[0],
            consent=consent,
            categories=categories,
            created_at=at,
            need_code=need_code,
        )
        person.referrals.append(sim)
        self.sims.append(sim)
        sim.events.append(self.event(at, EventKind.CREATED, owner))
        bounced = self.bounced_from(person, at)
        if bounced is not None:
            sim.bounce_back_of = bounced
            data = {"bounce_back_of": bounced.tracking_id}
            sim.events.append(self.event(at, EventKind.BOUNCE_BACK, owner, data=data))
            if bounced.bounce_resolved_at is None:
                self.bounce_resolve(bounced, at, f"Re-referred as {sim.tracking_id}")
        sent_at = at + timedelta(minutes=rng.uniform(5, 90))
        recent = self.now - at < timedelta(days=4)
        if (rng.random() < 0.12 and recent) or sent_at >= self.now:
            return  # still a draft: written up, not sent yet
        self.send(sim, sent_at)
        fate = rng.choices(FATES, weights=FATE_WEIGHTS)[0]
        self.live(sim, SILENT if self.neglect(sim) else fate)
        consent.last_used_at = max(consent.last_used_at, sim.sent_at)
        if sim.status == Status.REJECTED:
            self.plan_bounce_back(sim)

    def neglect(self, sim: Sim) -> bool:
        low, high = NEGLECTED_SENT
        if (
            self.neglect_left
            and sim.owner is self.coordinator
            and low <= self.now - sim.sent_at <= high
        ):
            self.neglect_left -= 1
            sim.neglected = True
        return sim.neglected

    def bounce_resolve(self, sim: Sim, at: datetime, note: str) -> None:
        sim.bounce_resolved_at = at
        sim.version += 1
        sim.events.append(
            self.event(at, EventKind.BOUNCE_BACK, sim.owner, note=note, data={"resolved": True})
        )

    def plan_bounce_back(self, sim: Sim) -> None:
        """Most rejected referrals are re-referred within days; some need none (the owner says
        why); the newest may still be waiting on the worklist."""
        roll = self.rng.random()
        if roll < 0.8:
            self.push(self.after(sim.closed_at, 0.1, 6), "rerefer", sim)
        elif roll < 0.92 or self.now - sim.closed_at > timedelta(days=10):
            self.push(self.after(sim.closed_at, 1, 5), "resolve", sim)

    def send(self, sim: Sim, at: datetime) -> None:
        """The "sent" event. (No "e-mail queued" event: the demo puts nothing in the outbox.)"""
        sim.status, sim.sent_at, sim.version = Status.REQUESTED, at, sim.version + 1
        on_referloop = sim.partner.agency_id is not None
        channel = Channel.AGENCY_INBOX if on_referloop else Channel.PACKET_EMAIL
        recipient = self.b.agency_names[sim.partner.agency_id] if on_referloop else sim.partner.name
        sim.events.append(
            self.event(
                at,
                EventKind.SENT,
                sim.owner,
                from_status=Status.DRAFT,
                to_status=Status.REQUESTED,
                data={"to": recipient, "channel": channel},
            )
        )

    def live(self, sim: Sim, fate: Fate) -> None:
        """Applies the fate's steps in time order, with the owner's follow-ups in between (when
        `next_due` asks for one, give or take the owner's lateness), up to now."""
        rng, now = self.rng, self.now
        at = sim.sent_at
        steps = []
        for step in fate.steps:
            if step.p < 1 and rng.random() >= step.p:
                continue
            at = self.after(at, step.lo, step.hi)
            steps.append((at, step))
        last = sim.sent_at
        index = 0
        while True:
            step_at = steps[index][0] if index < len(steps) else None
            # Only an open loop (outcome not known yet) asks for follow-ups.
            due = next_due(sim, self.policy_view) if sim.outcome_at is None else NOT_DUE
            if due.at is not None and due.reason != DueReason.REREFER and not sim.neglected:
                # Strictly after the last event, so every follow-up moves the clock on.
                earliest = last + timedelta(hours=2)
                follow_up_at = self.working(max(due.at + self.lateness(due.at), earliest))
                if follow_up_at < now and (step_at is None or follow_up_at < step_at):
                    self.follow_up(sim, follow_up_at)
                    last = follow_up_at
                    continue
            if step_at is None or step_at >= now:
                return
            self.apply(sim, step_at, steps[index][1])
            last = step_at
            index += 1

    def lateness(self, due_at: datetime) -> timedelta:
        """How long after the due time the owner gets to it: usually that day, sometimes not
        for a week or more. The last fortnight is the backlog a Monday morning finds: more of
        it still waiting (those are today's overdue and escalated items)."""
        on_time, soon, late = (
            (0.45, 0.75, 0.9) if self.now - due_at < BACKLOG else (0.6, 0.85, 0.95)
        )
        roll = self.rng.random()
        if roll < on_time:
            days = self.rng.uniform(-0.5, 0.6)
        elif roll < soon:
            days = self.rng.uniform(1, 5)
        elif roll < late:
            days = self.rng.uniform(5, 12)
        else:
            days = self.rng.uniform(12, 30)
        return timedelta(days=days)

    def follow_up(self, sim: Sim, at: datetime) -> None:
        sim.last_follow_up_at, sim.version = at, sim.version + 1
        note = self.rng.choice(FOLLOW_UP_NOTES)
        data = {"channel": self.rng.choice(FOLLOW_UP_CHANNELS)}
        sim.events.append(self.event(at, EventKind.FOLLOW_UP, sim.owner, note=note, data=data))

    def partner_actor(self, sim: Sim) -> tuple[Actor, str]:
        """Who answers for the partner: their staff in Referloop, or the contact's reply link."""
        if sim.partner.agency_id is not None:
            staff = self.b.staff[sim.partner.agency_id]
            return self.rng.choice((staff[Role.COORDINATOR], staff[Role.INTAKE])), EventKind.STATUS
        return Actor(None, f"{sim.contact[0]} (reply link)", None), EventKind.PARTNER_REPLY

    def apply(self, sim: Sim, at: datetime, step: Step) -> None:
        rng = self.rng
        text = rng.choice(step.texts) if step.texts else ""
        actor, kind = self.partner_actor(sim) if step.who == "partner" else (sim.owner, "")
        by_link = actor.agency_id is None
        if step.kind == "move":
            code = rng.choice(step.codes) if step.codes else ""
            if by_link and step.status not in LINK_ANSWER and code != "client_no_show":
                actor, kind = sim.owner, ""  # the link can't say this: the owner records it
                by_link = False
            if step.status == Status.REJECTED and sim.need_code in ALWAYS_FULL:
                # Beds run out: what else would turn the person away is mostly "no capacity"
                # (the community scorecard's gaps), with no further random draw.
                code = CAPACITY_INSTEAD.get(code, code)
            if step.status == Status.REJECTED and code == "other":
                text = "Program closed to new admissions this month."
            self.move(sim, at, step.status, actor, kind or EventKind.STATUS, code, text)
            if by_link:
                sim.link_answers.append((LINK_ANSWER.get(step.status, Answer.NO_SHOW), at))
        elif step.kind == "contact":
            if sim.first_contact_at is None:
                sim.first_contact_at = at
            if sim.received_at is None:
                sim.received_at = at
            partner_side = step.who == "partner"
            if partner_side:
                sim.last_partner_update_at = at
                if by_link:
                    sim.link_answers.append((Answer.CLIENT_CONTACTED, at))
            kind = EventKind.PARTNER_REPLY if partner_side else EventKind.CONTACT_ATTEMPT
            sim.version += 1
            data = {"answer": Answer.CLIENT_CONTACTED}
            sim.events.append(self.event(at, kind, actor, note=text, data=data))
        else:  # a note from the partner (no status change) or from the owner
            kind = EventKind.PARTNER_REPLY if step.who == "partner" else EventKind.NOTE
            if step.who == "partner":
                sim.last_partner_update_at = at
                if by_link:
                    sim.link_answers.append((LINK_ANSWER.get(sim.status, Answer.RECEIVED), at))
            sim.version += 1
            sim.events.append(self.event(at, kind, actor, note=text))

    def move(self, sim: Sim, at, to_status, actor: Actor, kind, code: str, text: str) -> None:
        """What referrals.services.referral_transition does to the fields, in memory."""
        from_status = sim.status
        if to_status not in TRANSITIONS[from_status]:
            raise AssertionError(f"demo fate moves {from_status} -> {to_status}")
        code_id = self.codes[code] if code else None
        reason = text if to_status in (Status.ON_HOLD, Status.CANCELLED) else ""
        sim.status, sim.status_reason, sim.disposition_id = to_status, reason, code_id
        if to_status in RECEIVER_MOVES and sim.received_at is None:
            sim.received_at = at
        if to_status in OUTCOME_KNOWN_STATUSES:
            sim.outcome_at = sim.outcome_at or at
        else:
            sim.outcome_at = None
        sim.closed_at = at if to_status in CLOSED else None
        if actor.agency_id != self.agency.pk:
            sim.last_partner_update_at = at
        sim.version += 1
        sim.events.append(
            self.event(
                at,
                kind,
                actor,
                from_status=from_status,
                to_status=to_status,
                disposition_id=code_id,
                note=text,
            )
        )

    def event(self, at, kind, actor: Actor, *, from_status="", to_status="", disposition_id=None,
              note="", data=None) -> tuple:  # fmt: skip
        return (at, kind, actor, from_status, to_status, disposition_id, note, data or {})

    # consents --------------------------------------------------------------------------------

    def consent_for(self, person: Person, partner: Partner, at: datetime, owner: Actor):
        """The client's consent naming this partner (or, for partners on Referloop, the network
        class), signed when first needed and used again while in force."""
        key = RecipientClass.NETWORK_AGENCIES if partner.agency_id else partner.organization_id
        consent = person.consents.get(key)
        if consent is not None and (consent.expires_on is None or consent.expires_on >= at.date()):
            return consent
        rng = self.rng
        categories = [Category.IDENTITY, Category.CONTACT, Category.REASON]
        part2 = rng.random() < PART2_AGENCIES.get(self.agency.slug, 0.1)
        if part2:
            categories.append(Category.SUBSTANCE_USE)
        if rng.random() < 0.25:
            categories.append(
                rng.choice((Category.MENTAL_HEALTH, Category.LEGAL, Category.HOUSING))
            )
        roll = rng.random()
        if roll < 0.7:
            expires_on, expiry_event = (at + timedelta(days=365)).date(), ""
        elif roll < 0.93:
            expires_on, expiry_event = None, "End of services with the recipient"
        else:
            expires_on, expiry_event = (at + timedelta(days=90)).date(), ""
        signed_at = at - timedelta(minutes=rng.uniform(10, 180))
        purpose = (
            "Care coordination with agencies of the Riverbend network"
            if partner.agency_id
            else f"Referral to {partner.name}"
        )
        consent = ConsentRow(
            id=0,
            person=person,
            organization_id=None if partner.agency_id else partner.organization_id,
            categories=categories,
            part2=part2,
            signed_at=signed_at,
            expires_on=expires_on,
            expiry_event=expiry_event,
            recorded_by=owner.user_id,
            purpose=purpose,
            last_used_at=signed_at,
        )
        person.consents[key] = consent
        self.consents.append(consent)
        return consent

    def revoke_some(self) -> None:
        """A few clients took their consent back after the referrals it covered were sent."""
        rng = self.rng
        for consent in self.consents:
            start = consent.last_used_at + timedelta(days=1)
            if rng.random() < 0.015 and start < self.now:
                consent.revoked_at = start + (self.now - start) * rng.random()
                consent.revoked_by = self.owners[0].user_id


class Builder:
    """Loads what the demo directory and users look like, then builds and writes each agency's
    history in turn (one batch per agency: ~10,000 referrals at large)."""

    def __init__(self, *, network, agencies, volume: Volume, fake: Faker, rng, now):
        self.network, self.agencies, self.volume = network, agencies, volume
        self.rng, self.now = rng, now
        self.agency_names = {agency.pk: agency.name for agency in agencies}
        self.issued: set[str] = set()
        spanish = Faker("es_MX")
        spanish.seed_instance(rng.getrandbits(32))
        self.first = [fake.first_name() for _ in range(600)]
        self.last = [fake.last_name() for _ in range(800)]
        self.es_first = [spanish.first_name() for _ in range(300)]
        self.es_last = [spanish.last_name() for _ in range(300)]
        self.streets = [fake.street_name() for _ in range(200)]
        self.contact_first = [fake.first_name() for _ in range(300)]
        self.tables = self._tables()
        # One live reply link of the first agency to print: (sent at, raw token, tracking ID).
        self.token: tuple[datetime, str, str] | None = None

    def _tables(self) -> dict[str, _Table]:
        return {
            "client": _Table(
                Client,
                "id agency first_name last_name preferred_name date_of_birth phone email "
                "address preferred_language name_dob_hash dob_hash last_name_sound_hash "
                "do_not_contact voicemail_ok text_ok email_ok safe_phone safe_email safe_hours "
                "do_not_disclose_location safe_contact_note created_by created_at updated_at "
                "version",
            ),
            "consent": _Table(
                Consent,
                "id agency client recipient_organization recipient_class categories purpose "
                "part2 signed_at signed_by_name signer representative_authority expires_on "
                "expiry_event revoked_at revocation_method revoked_by recorded_by created_at",
            ),
            "referral": _Table(
                Referral,
                "id agency tracking_id client owner created_by organization service "
                "receiving_agency contact_name contact_email contact_phone reason urgency "
                "consent categories status disposition status_reason created_at sent_at "
                "received_at first_contact_at outcome_at closed_at last_follow_up_at "
                "last_partner_update_at bounce_back_of bounce_resolved_at next_due_at "
                "due_reason version updated_at",
                phrases="reason",
            ),
            "needs": _Table(Referral.needs.through, "referral taxonomyterm"),
            "event": _Table(
                ReferralEvent,
                "agency referral at kind actor actor_label actor_agency from_status to_status "
                "disposition note data",
                phrases="note",
            ),
            "link": _Table(
                ReplyLink,
                "agency referral token_hash contact_email created_at expires_at last_viewed_at "
                "last_answer last_answered_at answer_count",
            ),
            "tracking": _Table(IssuedTrackingId, "network code issued_at"),
        }

    # set-up ----------------------------------------------------------------------------------

    def load(self) -> None:
        agency_ids = [agency.pk for agency in self.agencies]
        for agency in self.agencies:
            disposition_defaults_ensure(agency=agency)
        self.codes: dict[int, dict[str, int]] = {pk: {} for pk in agency_ids}
        rows = DispositionCode.objects.filter(agency_id__in=agency_ids)
        for agency_id, code, pk in rows.values_list("agency_id", "code", "pk"):
            self.codes[agency_id][code] = pk
        self.staff: dict[int, dict[str, Actor]] = {pk: {} for pk in agency_ids}
        self.people_names: dict[int, tuple[str, str]] = {}
        memberships = Membership.objects.filter(
            agency_id__in=agency_ids, role__in=(Role.COORDINATOR, Role.INTAKE)
        ).values_list("agency_id", "role", "user_id", "user__full_name", "user__email")
        for agency_id, role, user_id, name, email in memberships.order_by("pk"):
            self.staff[agency_id][role] = Actor(user_id, "", agency_id)
            self.people_names[user_id] = (name, email)
        self.organizations = list(
            Organization.objects.filter(network=self.network)
            .order_by("pk")
            .values_list("pk", "name", "email", "agency_id")
        )

    def partners_for(self, agency) -> tuple[list[Partner], list[float]]:
        """A sending agency's usual partners: the county's well-known organizations, a couple
        of dozen others from the directory, and the programs of other agencies on Referloop,
        with uneven weights so some become top partners."""
        rng = self.rng
        named = {name for name, _ in PARTNER_ORGANIZATIONS}
        well_known = [o for o in self.organizations if o[1] in named and o[3] is None]
        on_referloop = [o for o in self.organizations if o[3] not in (None, agency.pk)]
        others = [o for o in self.organizations if o[1] not in named and o[3] is None]
        on_referloop = rng.sample(on_referloop, min(len(on_referloop), 6))
        others = rng.sample(others, min(len(others), 20))
        chosen = [(o, rng.uniform(1, 6)) for o in well_known]
        chosen += [(o, rng.uniform(0.3, 2)) for o in others]
        outside = sum(weight for _, weight in chosen)
        if on_referloop:
            raw = [rng.uniform(1, 3) for _ in on_referloop]
            scale = outside * SHARE_TO_DEMO_AGENCIES / (1 - SHARE_TO_DEMO_AGENCIES) / sum(raw)
            chosen += [(o, w * scale) for o, w in zip(on_referloop, raw, strict=True)]
        services = self.services_of([o[0] for o, _ in chosen])
        partners, weights = [], []
        for (org_id, name, email, org_agency_id), weight in chosen:
            if not services.get(org_id):
                continue
            partners.append(
                Partner(
                    org_id,
                    name,
                    org_agency_id,
                    services[org_id],
                    self.contacts(email, org_agency_id),
                )
            )
            weights.append(weight)
        return partners, weights

    def services_of(self, organization_ids: list[int]) -> dict[int, list]:
        needs: dict[int, list[tuple[int, str]]] = {}
        attributes = ServiceAttribute.objects.filter(
            service__organization_id__in=organization_ids, term__taxonomy__name=NEEDS
        ).order_by("pk")
        for service_id, term_id, code in attributes.values_list(
            "service_id", "term_id", "term__code"
        ):
            needs.setdefault(service_id, []).append((term_id, code))
        services: dict[int, list] = {}
        rows = Service.objects.filter(organization_id__in=organization_ids).order_by("pk")
        for service_id, org_id in rows.values_list("pk", "organization_id"):
            terms = needs.get(service_id, [])
            code = terms[0][1] if terms else ""
            services.setdefault(org_id, []).append((service_id, [t for t, _ in terms], code))
        return services

    def contacts(self, email: str, org_agency_id: int | None) -> list[tuple[str, str, str]]:
        if org_agency_id is not None:  # on Referloop: their intake person is the contact
            user = self.staff[org_agency_id][Role.INTAKE]
            name, address = self.people_names[user.user_id]
            return [(name, address, "")]
        domain = email.split("@")[-1] if email else "example.org"
        found = []
        for _ in range(self.rng.randint(1, 3)):
            first, last = self.rng.choice(self.contact_first), self.rng.choice(self.last)
            address = f"{first}.{last}@{domain}".lower().replace(" ", "").replace("'", "")
            phone = f"(217) 555-{self.rng.randint(0, 9999):04d}"
            found.append((f"{first} {last}", address, phone))
        return found

    def tracking_id(self) -> str:
        """A tracking ID drawn from the seeded generator (the same seed gives the same IDs),
        unique in the network like `core.services.tracking_id_issue` makes them."""
        while True:
            code = tracking_id_generate(self.rng)
            if code not in self.issued:
                self.issued.add(code)
                return code

    # writing ---------------------------------------------------------------------------------

    def write(self, history: AgencyHistory) -> None:
        for consent, consent_id in zip(
            history.consents, reserve_ids(Consent, len(history.consents)), strict=True
        ):
            consent.id = consent_id
        for sim, referral_id in zip(
            history.sims, reserve_ids(Referral, len(history.sims)), strict=True
        ):
            sim.id = referral_id
        self.write_people(history)
        self.write_consents(history)
        self.write_referrals(history)
        for table in self.tables.values():
            table.flush()

    def write_people(self, history: AgencyHistory) -> None:
        rng, now, table = self.rng, self.now, self.tables["client"]
        agency_id = history.agency.pk
        creator = history.owners[0].user_id
        for person in history.people:
            if person.referrals:  # recorded before the first consent was signed
                created_at = person.referrals[0].created_at - timedelta(hours=rng.uniform(4, 480))
            else:
                created_at = history.history_instant()
            phone = f"(217) 555-{rng.randint(0, 9999):04d}" if rng.random() < 0.92 else ""
            email = (
                f"{person.first_name}.{person.last_name}{rng.randint(1, 99)}@example.net".lower()
                if rng.random() < 0.35
                else ""
            )
            town, postal_code = rng.choice(TOWNS)
            address = (
                f"{rng.randint(100, 9899)} {rng.choice(self.streets)}, {town}, IL {postal_code}"
                if rng.random() < 0.45
                else ""
            )
            hiding = rng.random() < 0.03
            safe_hours = rng.choice(SAFE_HOURS) if rng.random() < 0.2 else ""
            text_ok = safe_hours == SAFE_HOURS[0] or rng.random() < 0.6
            safe_phone = f"(217) 555-{rng.randint(0, 9999):04d}" if rng.random() < 0.08 else ""
            note = DNDL_NOTE if hiding else rng.choice(SAFE_NOTES) if rng.random() < 0.06 else ""
            table.add(
                person.id,
                agency_id,
                person.first_name,
                person.last_name,
                "",
                person.date_of_birth,
                phone,
                email,
                address,
                person.language,
                matching.name_dob_hash(person.first_name, person.last_name, person.date_of_birth),
                matching.dob_hash(person.date_of_birth),
                matching.last_name_sound_hash(person.last_name),
                person.do_not_contact,
                not hiding and rng.random() < 0.7,
                text_ok,
                bool(email) and rng.random() < 0.7,
                safe_phone,
                "",
                safe_hours,
                hiding,
                note,
                creator,
                created_at,
                min(created_at + timedelta(days=rng.uniform(0, 30)), now),
                1,
            )

    def write_consents(self, history: AgencyHistory) -> None:
        table, agency_id = self.tables["consent"], history.agency.pk
        for c in history.consents:
            person = c.person
            table.add(
                c.id,
                agency_id,
                person.id,
                c.organization_id,
                "" if c.organization_id else RecipientClass.NETWORK_AGENCIES,
                c.categories,
                c.purpose,
                c.part2,
                c.signed_at,
                f"{person.first_name} {person.last_name}",
                Signer.CLIENT,
                "",
                c.expires_on,
                c.expiry_event,
                c.revoked_at,
                "In writing, handed to the coordinator" if c.revoked_at else "",
                c.revoked_by,
                c.recorded_by,
                c.signed_at,
            )

    def write_referrals(self, history: AgencyHistory) -> None:
        t = self.tables
        agency_id = history.agency.pk
        link_days = timedelta(days=history.agency.policies.reply_link_days)
        for sim in history.sims:
            due = next_due(sim, history.policy_view)
            name, email, phone = sim.contact
            t["referral"].add(
                sim.id,
                agency_id,
                sim.tracking_id,
                sim.person.id,
                sim.owner.user_id,
                sim.owner.user_id,
                sim.partner.organization_id,
                sim.service_id,
                sim.receiving_agency_id,
                name,
                email,
                phone,
                sim.reason,
                sim.urgency,
                sim.consent.id,
                sim.categories,
                sim.status,
                sim.disposition_id,
                sim.status_reason or "",
                sim.created_at,
                sim.sent_at,
                sim.received_at,
                sim.first_contact_at,
                sim.outcome_at,
                sim.closed_at,
                sim.last_follow_up_at,
                sim.last_partner_update_at,
                sim.bounce_back_of.id if sim.bounce_back_of else None,
                sim.bounce_resolved_at,
                due.at,
                due.reason,
                sim.version,
                max((event[0] for event in sim.events), default=sim.created_at),  # last change
            )
            for term_id in sim.needs:
                t["needs"].add(sim.id, term_id)
            for at, kind, actor, from_status, to_status, code_id, note, data in sim.events:
                t["event"].add(
                    agency_id,
                    sim.id,
                    at,
                    kind,
                    actor.user_id,
                    actor.label,
                    actor.agency_id,
                    from_status,
                    to_status,
                    code_id,
                    note,
                    data,
                )
            t["tracking"].add(self.network.pk, sim.tracking_id, sim.created_at)
            if sim.sent_at and sim.partner.agency_id is None:
                self.add_reply_link(sim, history, link_days)

    def add_reply_link(self, sim: Sim, history: AgencyHistory, link_days: timedelta) -> None:
        raw = secrets.token_urlsafe(32)
        answer, answered_at = sim.link_answers[-1] if sim.link_answers else ("", None)
        self.tables["link"].add(
            history.agency.pk,
            sim.id,
            token_hash(raw),
            sim.contact[1],
            sim.sent_at,
            sim.sent_at + link_days,
            answered_at,
            answer,
            answered_at,
            len(sim.link_answers),
        )
        # Keep one link to print: the first agency's newest referral still waiting for an answer.
        newest = self.token is None or sim.sent_at > self.token[0]
        if history.agency == self.agencies[0] and sim.status == Status.REQUESTED and newest:
            self.token = (sim.sent_at, raw, sim.tracking_id)

    def packets(self, agencies) -> int:
        """Packet snapshots and disclosure-ledger rows for each agency's newest open referrals,
        made by the same `packet_content` the send service uses."""
        packets, disclosures = [], []
        for agency in agencies:
            referrals = (
                Referral.objects.filter(agency=agency, status__in=OPEN)
                .select_related(*PACKET_RELATIONS)
                .prefetch_related("needs")
                .order_by("-created_at")[:PACKETS_PER_AGENCY]
            )
            for referral in referrals:
                packets.append(
                    Packet(
                        agency=agency,
                        referral=referral,
                        consent_id=referral.consent_id,
                        categories=referral.categories,
                        content=json.dumps(packet_content(referral=referral)),
                        created_at=referral.sent_at,
                        created_by_id=referral.owner_id,
                    )
                )
        Packet.objects.bulk_create(packets)
        for packet in packets:
            referral = packet.referral
            inbox = referral.receiving_agency
            disclosures.append(
                Disclosure(
                    agency_id=referral.agency_id,
                    client_id=referral.client_id,
                    consent_id=referral.consent_id,
                    channel=Channel.AGENCY_INBOX if inbox else Channel.PACKET_EMAIL,
                    recipient_name=inbox.name if inbox else referral.organization.name,
                    recipient_address="" if inbox else referral.contact_email,
                    categories=referral.categories,
                    description=f"Referral packet {referral.tracking_id}",
                    object_type=Packet._meta.label_lower,
                    object_id=str(packet.pk),
                    at=referral.sent_at,
                    by_id=referral.owner_id,
                )
            )
        Disclosure.objects.bulk_create(disclosures)
        return len(packets)


def referrals_build(*, network, agencies, size: str, fake: Faker, rng: random.Random, now):
    """Writes the demo network's clients, consents and referral history; returns row counts."""
    started = clock.monotonic()
    builder = Builder(
        network=network, agencies=agencies, volume=VOLUMES[size], fake=fake, rng=rng, now=now
    )
    builder.load()
    with _constraints_checked_per_statement():
        _histories_write(builder, agencies, started)
    counts = {name: table.written for name, table in builder.tables.items()}
    counts["packet"] = builder.packets(agencies[:PACKET_AGENCIES])
    if builder.token:
        _, raw, tracking_id = builder.token
        log.info(
            "Try the partner reply page of referral %s (%s): %s",
            tracking_id,
            agencies[0].name,
            reply_url(raw),
        )
    return counts


def _histories_write(builder: Builder, agencies, started: float) -> None:
    for number, agency in enumerate(agencies, start=1):
        history = AgencyHistory(builder, agency, *builder.partners_for(agency))
        history.add_people(builder.volume.clients)
        history.plan_episodes(builder.volume.referrals)
        history.run()
        history.revoke_some()
        builder.write(history)
        if number % max(1, len(agencies) // 10) == 0 or number == len(agencies):
            log.info(
                "demo referrals: %d/%d agencies, %d referrals, %d events (%.0f s)",
                number,
                len(agencies),
                builder.tables["referral"].written,
                builder.tables["event"].written,
                clock.monotonic() - started,
            )


@contextmanager
def _constraints_checked_per_statement():
    """On PostgreSQL, foreign keys (deferrable) are checked at the end of each bulk statement
    instead of at commit: the same work, without queueing tens of millions of pending checks
    in memory for one large transaction."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    yield  # (after an error the transaction rolls back: nothing to restore)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
