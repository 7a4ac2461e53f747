"""The demo network's resource directory: the agencies' own programs, the partner organizations
around them (probation, hospitals, shelters, legal aid, employment, food), and — at large size —
tens of thousands of generated services, all written with bulk_create."""

import random
import uuid
from dataclasses import dataclass, field
from datetime import time, timedelta

from django.utils import timezone
from faker import Faker

from referloop.core.models import Agency, Network
from referloop.directory.models import (
    Address,
    CapacityReading,
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceAtLocation,
    ServiceAttribute,
    ServiceCapacity,
    TaxonomyTerm,
)
from referloop.directory.services import match_keys_compose, search_text_compose
from referloop.directory.vocabulary import NEEDS, PAYMENT, POPULATIONS

BATCH = 2000
# A fictional county laid over real ZIP areas around Springfield, Illinois, so ZIP-distance
# search works with the packaged centroids.
COUNTY_CENTER = (39.80, -89.65)
TOWNS = [
    ("Springfield", "62701"),
    ("Springfield", "62702"),
    ("Springfield", "62703"),
    ("Springfield", "62704"),
    ("Chatham", "62629"),
    ("Rochester", "62563"),
    ("Sherman", "62684"),
    ("Auburn", "62615"),
    ("Petersburg", "62675"),
    ("Taylorville", "62568"),
]


@dataclass
class ProgramSpec:
    name: str
    needs: list[str]
    populations: list[str] = field(default_factory=list)
    payment: list[str] = field(default_factory=list)
    unit: str | None = None
    maximum: int = 0
    min_age: int | None = None
    max_age: int | None = None
    genders: list[str] = field(default_factory=list)
    court_ordered: bool | None = None
    description: str = ""

    @property
    def around_the_clock(self) -> bool:
        """Residential programs (counted in beds) and crisis services never close."""
        return self.unit == "beds" or "crisis" in self.needs


# Programs of the five core agencies (slug -> programs).
AGENCY_PROGRAMS = {
    "harbor-house": [
        ProgramSpec(
            "Harbor House for Men",
            ["sober-living"],
            ["men", "justice-involved"],
            ["self-pay", "sliding-fee"],
            "beds",
            12,
            18,
            None,
            ["male"],
            True,
            "Peer-run recovery residence for men: house meetings, curfew, random testing, "
            "12-step or SMART participation.",
        ),
        ProgramSpec(
            "Harbor House for Women",
            ["sober-living"],
            ["women", "pregnant-parenting"],
            ["self-pay", "sliding-fee"],
            "beds",
            10,
            18,
            None,
            ["female"],
            True,
            "Recovery residence for women; children under 5 welcome after review.",
        ),
        ProgramSpec(
            "Harbor House Bridge",
            ["sober-living", "reentry"],
            ["justice-involved"],
            ["self-pay"],
            "beds",
            8,
            18,
            None,
            [],
            True,
            "Reentry recovery housing for people leaving jail or prison.",
        ),
    ],
    "riverbend-treatment": [
        ProgramSpec(
            "Medically Monitored Detox",
            ["detox", "addiction-treatment"],
            ["adults"],
            ["medicaid", "medicare", "private-insurance"],
            "beds",
            16,
            18,
            None,
            [],
            True,
            "24/7 withdrawal management with nursing staff; admissions every day.",
        ),
        ProgramSpec(
            "Residential Treatment (28-day)",
            ["addiction-treatment"],
            ["adults"],
            ["medicaid", "private-insurance"],
            "beds",
            40,
            18,
            None,
            [],
            True,
            "ASAM level 3.5 residential program with family sessions.",
        ),
        ProgramSpec(
            "Outpatient MAT Clinic",
            ["medication-for-addiction", "addiction-treatment"],
            ["adults"],
            ["medicaid", "medicare", "private-insurance", "sliding-fee"],
            "appointments",
            30,
            18,
            None,
            [],
            True,
            "Buprenorphine and naltrexone induction, counseling and peer support.",
        ),
    ],
    "clearwater-counseling": [
        ProgramSpec(
            "Individual Therapy",
            ["counseling", "mental-health"],
            ["adults"],
            ["medicaid", "private-insurance", "sliding-fee"],
            "appointments",
            25,
            16,
            None,
            [],
            False,
            "CBT, DBT skills and trauma-focused therapy.",
        ),
        ProgramSpec(
            "Adolescent Counseling",
            ["counseling", "mental-health"],
            ["youth"],
            ["medicaid", "private-insurance"],
            "appointments",
            10,
            12,
            17,
            [],
            False,
            "Counseling for teens with family involvement.",
        ),
        ProgramSpec(
            "Domestic Violence Survivor Group",
            ["domestic-violence", "counseling"],
            ["women"],
            ["free"],
            "slots",
            12,
            18,
            None,
            ["female"],
            None,
            "Weekly closed group for survivors; individual DV advocacy available.",
        ),
    ],
    "second-chance": [
        ProgramSpec(
            "Reentry Case Management",
            ["reentry", "case-management"],
            ["justice-involved"],
            ["free"],
            "slots",
            30,
            18,
            None,
            [],
            True,
            "Case management from 90 days before release through the first year home.",
        ),
        ProgramSpec(
            "Court Navigation",
            ["legal-aid", "reentry"],
            ["justice-involved"],
            ["free"],
            None,
            0,
            18,
            None,
            [],
            True,
            "Help with court dates, fines and record relief.",
        ),
    ],
    "county-hub": [
        ProgramSpec(
            "County Care Coordination",
            ["case-management", "benefits"],
            ["adults", "families"],
            ["free"],
            "slots",
            50,
            None,
            None,
            [],
            None,
            "One call to connect residents with treatment, housing and benefits.",
        ),
    ],
}

PARTNER_ORGANIZATIONS = [
    (
        "Sangamon Probation Services",
        [
            ProgramSpec(
                "Probation Referral Desk",
                ["reentry", "case-management"],
                ["justice-involved"],
                ["free"],
                None,
                0,
                18,
                None,
                [],
                True,
            )
        ],
    ),
    (
        "St. Luke's Regional Hospital",
        [
            ProgramSpec(
                "Emergency Department Bridge Clinic",
                ["medical-care", "medication-for-addiction"],
                ["adults"],
                ["medicaid", "medicare", "private-insurance", "uninsured"],
                "appointments",
                8,
                18,
                None,
                [],
                None,
            )
        ],
    ),
    (
        "Hope Street Shelter",
        [
            ProgramSpec(
                "Emergency Shelter",
                ["shelter", "housing"],
                ["adults", "families"],
                ["free"],
                "beds",
                60,
                18,
                None,
                [],
                None,
            ),
            ProgramSpec(
                "Family Shelter",
                ["shelter"],
                ["families", "pregnant-parenting"],
                ["free"],
                "beds",
                20,
                None,
                None,
                [],
                None,
            ),
        ],
    ),
    (
        "Prairie Legal Aid",
        [
            ProgramSpec(
                "Civil Legal Aid", ["legal-aid"], ["adults"], ["free"], None, 0, 18, None, [], None
            )
        ],
    ),
    (
        "WorkBridge Employment Center",
        [
            ProgramSpec(
                "Second-Chance Hiring Program",
                ["employment", "reentry"],
                ["justice-involved"],
                ["free"],
                "slots",
                25,
                18,
                None,
                [],
                True,
            )
        ],
    ),
    (
        "Capital Area Food Bank",
        [
            ProgramSpec(
                "Food Pantry",
                ["food"],
                ["families", "seniors"],
                ["free"],
                None,
                0,
                None,
                None,
                [],
                None,
            )
        ],
    ),
    (
        "Veterans Recovery Alliance",
        [
            ProgramSpec(
                "Veterans Peer Support",
                ["peer-support", "mental-health"],
                ["veterans"],
                ["free"],
                "slots",
                15,
                18,
                None,
                [],
                None,
            )
        ],
    ),
    (
        "988 Crisis Line of Central Illinois",
        [
            ProgramSpec(
                "Mobile Crisis Response",
                ["crisis", "mental-health"],
                [],
                ["free"],
                None,
                0,
                None,
                None,
                [],
                None,
            )
        ],
    ),
    (
        "Lincoln Land Transit",
        [
            ProgramSpec(
                "Medical Rides",
                ["transportation"],
                ["seniors", "adults"],
                ["medicaid", "free"],
                None,
                0,
                None,
                None,
                [],
                None,
            )
        ],
    ),
    (
        "New Dawn Recovery Homes",
        [
            ProgramSpec(
                "New Dawn Sober Living",
                ["sober-living"],
                ["adults"],
                ["self-pay"],
                "beds",
                14,
                18,
                None,
                [],
                False,
            )
        ],
    ),
    (
        "Safe Passage Domestic Violence Services",
        [
            ProgramSpec(
                "Individual DV Counseling and Advocacy",
                ["domestic-violence", "counseling"],
                ["adults"],
                ["free"],
                "appointments",
                10,
                18,
                description="Individual counseling for survivors, safety planning, protective "
                "orders and court accompaniment. Confidential.",
            ),
            ProgramSpec(
                "Safe Passage Emergency Shelter",
                ["domestic-violence", "shelter"],
                ["adults", "families"],
                ["free"],
                "beds",
                16,
                description="Confidential-location shelter for people fleeing domestic violence, "
                "with their children.",
            ),
        ],
    ),
    (
        "Turning Point Partner Accountability",
        [
            ProgramSpec(
                "Partner Abuse Intervention Program",
                ["domestic-violence", "counseling"],
                ["adults", "justice-involved"],
                ["sliding-fee", "self-pay"],
                "slots",
                20,
                18,
                court_ordered=True,
                description="State-certified individual and group intervention for people who "
                "have used violence; takes court orders.",
            )
        ],
    ),
    (
        "Little Oaks Child and Family Center",
        [
            ProgramSpec(
                "Play Therapy for Children",
                ["counseling", "mental-health"],
                ["youth", "families"],
                ["medicaid", "private-insurance"],
                "appointments",
                6,
                3,
                12,
                description="Play therapy for children 3 to 12, with parent sessions.",
            )
        ],
    ),
]
# Listings past the default 180-day verification limit, so those agencies' worklists show
# "verify this listing" on a Monday morning.
STALE_LISTING_DAYS = {"harbor-house": 190, "second-chance": 240}
GENERATED_KINDS = [
    ProgramSpec("Recovery Residence", ["sober-living"], ["adults"], ["self-pay"], "beds", 12, 18),
    ProgramSpec(
        "Outpatient Treatment",
        ["addiction-treatment"],
        ["adults"],
        ["medicaid", "private-insurance"],
        "appointments",
        20,
        18,
    ),
    ProgramSpec(
        "Counseling Center",
        ["counseling", "mental-health"],
        ["adults"],
        ["sliding-fee"],
        "appointments",
        15,
        12,
    ),
    ProgramSpec("Emergency Shelter", ["shelter"], ["adults"], ["free"], "beds", 30),
    ProgramSpec("Legal Clinic", ["legal-aid"], ["adults"], ["free"]),
    ProgramSpec("Job Center", ["employment"], ["adults"], ["free"], "slots", 20, 18),
    ProgramSpec("Food Pantry", ["food"], ["families"], ["free"]),
    ProgramSpec("Detox Unit", ["detox"], ["adults"], ["medicaid", "medicare"], "beds", 10, 18),
]


class DirectoryBuilder:
    """Collects rows in memory and writes each table in a few bulk statements."""

    def __init__(self, *, network: Network, fake: Faker, rng: random.Random):
        self.network, self.fake, self.rng = network, fake, rng
        self.now = timezone.now()
        terms = TaxonomyTerm.objects.filter(taxonomy__name__in=[NEEDS, POPULATIONS, PAYMENT])
        self.terms = {term.code: term for term in terms}
        self.rows: dict[type, list] = {}
        self.term_names: dict[int, list[str]] = {}

    def _add(self, row):
        if hasattr(row, "hsds_id"):
            row.hsds_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)  # same seed, same ids
        self.rows.setdefault(type(row), []).append(row)
        return row

    def _place(self):
        town, postal_code = self.rng.choice(TOWNS)
        lat = COUNTY_CENTER[0] + self.rng.uniform(-0.25, 0.25)
        lon = COUNTY_CENTER[1] + self.rng.uniform(-0.3, 0.3)
        return town, postal_code, round(lat, 5), round(lon, 5)

    def organization(
        self, name: str, agency: Agency | None, programs: list[ProgramSpec], verified_days_ago=None
    ):
        if verified_days_ago is None:
            verified_days_ago = self.rng.choice([5, 20, 60, 120, 200, 400])
        org = self._add(
            Organization(
                network=self.network,
                agency=agency,
                name=name,
                description=f"{name} serves Riverbend County.",
                email=f"info@{name.lower().replace(' ', '').replace("'", '')[:30]}.example.org",
                last_verified_at=self.now - timedelta(days=verified_days_ago),
            )
        )
        town, postal_code, lat, lon = self._place()
        location = self._add(
            Location(
                network=self.network,
                organization=org,
                name=f"{name} – {town}",
                latitude=lat,
                longitude=lon,
            )
        )
        self._add(
            Address(
                network=self.network,
                location=location,
                address_1=self.fake.street_address(),
                city=town,
                state_province="IL",
                postal_code=postal_code,
            )
        )
        self._add(
            Phone(
                network=self.network,
                organization=org,
                number=self.fake.numerify("(217) 555-####"),
                type="voice",
            )
        )
        for spec in programs:
            self.service(org, location, agency, spec, verified_days_ago)
        return org

    def service(self, org, location, agency, spec: ProgramSpec, verified_days_ago: int):
        service = self._add(
            Service(
                network=self.network,
                organization=org,
                agency=agency,
                name=spec.name,
                description=spec.description or f"{spec.name} offered by {org.name}.",
                minimum_age=spec.min_age,
                maximum_age=spec.max_age,
                genders_served=spec.genders,
                court_ordered_accepted=spec.court_ordered,
                eligibility_description="Call to check eligibility."
                if spec.min_age is None
                else f"Ages {spec.min_age}+.",
                last_verified_at=self.now
                - timedelta(days=verified_days_ago + self.rng.randint(0, 10)),
            )
        )
        self._add(ServiceAtLocation(network=self.network, service=service, location=location))
        self._add(
            Schedule(
                network=self.network,
                service=service,
                freq="WEEKLY",
                # HSDS writes round-the-clock hours as 00:00–23:59.
                byday="MO,TU,WE,TH,FR,SA,SU" if spec.around_the_clock else "MO,TU,WE,TH,FR",
                opens_at=time(0, 0) if spec.around_the_clock else time(8, 30),
                closes_at=time(23, 59) if spec.around_the_clock else time(17, 0),
            )
        )
        spoken = ["es"] if self.rng.random() < 0.3 else []
        for code in spoken:
            self._add(Language(network=self.network, service=service, name="Spanish", code=code))
        codes = [*spec.needs, *spec.populations, *spec.payment]
        for code in codes:
            self._add(ServiceAttribute(service=service, term=self.terms[code]))
        if spec.unit:
            maximum = spec.maximum
            available = self.rng.choice([0, 0, 1, 2, 3, max(0, maximum // 4)])
            updated = self.now - timedelta(hours=self.rng.choice([2, 20, 50, 100, 300]))
            capacity = self._add(
                ServiceCapacity(
                    network=self.network,
                    service=service,
                    unit=spec.unit,
                    available=min(available, maximum),
                    maximum=maximum,
                    waitlist=available == 0,
                    updated_at=updated,
                )
            )
            service.has_capacity = capacity.available > 0
            service.capacity_updated_at = updated
            # Weekly counts for two months, ending with the count shown now.
            history = [
                (self.rng.randint(0, maximum), updated - timedelta(weeks=weeks_ago))
                for weeks_ago in range(8, 0, -1)
            ]
            history.append((capacity.available, updated))
            # And monthly before that, back past the last whole quarter (the community
            # scorecard's capacity over time), repeating those counts: no further random draws,
            # so the rest of the demo comes out as before.
            history[:0] = [
                (history[weeks_ago // 4 % 8][0], updated - timedelta(weeks=weeks_ago))
                for weeks_ago in range(28, 8, -4)
            ]
            for free, recorded_at in history:
                self._add(
                    CapacityReading(
                        capacity=capacity,
                        available=free,
                        maximum=maximum,
                        waitlist=free == 0,
                        recorded_at=recorded_at,
                    )
                )
        service.search_text = search_text_compose(
            service=service,
            organization_name=org.name,
            term_names=[self.terms[c].name for c in codes],
        )
        service.match_keys = match_keys_compose(
            term_ids=[self.terms[c].pk for c in [*spec.populations, *spec.payment]],
            language_codes=spoken,
        )
        return service

    def save(self):
        # Parents before children: bulk_create sets the parents' primary keys (SQLite 3.35+,
        # PostgreSQL), and children pick them up from the related objects they hold.
        for model in (
            Organization,
            Location,
            Address,
            Phone,
            Service,
            ServiceAtLocation,
            Schedule,
            Language,
            ServiceAttribute,
            ServiceCapacity,
            CapacityReading,
        ):
            model.objects.bulk_create(self.rows.get(model, []), batch_size=BATCH)
        self.rows.clear()


def directory_build(
    *,
    network: Network,
    agencies: list[Agency],
    services_target: int,
    fake: Faker,
    rng: random.Random,
) -> int:
    """Writes the demo directory; returns how many services it holds."""
    builder = DirectoryBuilder(network=network, fake=fake, rng=rng)
    by_slug = {agency.slug: agency for agency in agencies}
    count = 0
    for slug, programs in AGENCY_PROGRAMS.items():
        if slug in by_slug:
            builder.organization(
                by_slug[slug].name,
                by_slug[slug],
                programs,
                verified_days_ago=STALE_LISTING_DAYS.get(slug),
            )
            count += len(programs)
    for name, programs in PARTNER_ORGANIZATIONS:
        builder.organization(name, None, programs)
        count += len(programs)
    builder.save()
    extra_agencies = [agency for agency in agencies if agency.slug not in AGENCY_PROGRAMS]
    while count < services_target:
        spec = rng.choice(GENERATED_KINDS)
        owner = rng.choice(extra_agencies) if extra_agencies and rng.random() < 0.2 else None
        name = f"{fake.last_name()} {spec.name}"
        builder.organization(name, owner, [spec])
        count += 1
        if len(builder.rows.get(Service, [])) >= BATCH:
            builder.save()
    builder.save()
    return count
