"""The deterministic demo network: `referloop demo [--size small|medium|large] [--seed N]`.

A believable county network (UX.md, "Demo network"): the five kinds of agency PRODUCT.md names,
one user per role in each. Rows are built in memory and written with bulk_create, one statement
per table per batch, so later capabilities can add their generators here and `--size large` can
reach millions of rows in minutes. The same seed gives the same network, name for name.
"""

import random
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone
from faker import Faker

from referloop.core.errors import DomainError
from referloop.core.models import Agency, Membership, Network, User
from referloop.core.permissions import Role
from referloop.demo.directory import directory_build
from referloop.demo.intake import intake_build, intake_clear
from referloop.demo.partners import partners_build, partners_clear
from referloop.demo.referrals import referrals_build, referrals_clear
from referloop.demo.stays import stays_build, stays_clear

DEMO_PASSWORD = "demo-referloop-2026"  # noqa: S105 - demo data only, printed for the user
DEMO_NETWORK_SLUG = "riverbend"
DEMO_TIME_ZONE = "America/Chicago"
BATCH = 5000


@dataclass(frozen=True)
class DemoSize:
    agencies: int
    services: int  # directory services (the named programs come first)


SIZES = {
    "small": DemoSize(agencies=5, services=0),
    "medium": DemoSize(agencies=20, services=2_000),
    "large": DemoSize(agencies=100, services=50_000),
}

# The five agencies every demo has, in the order UX.md describes them.
CORE_AGENCIES = [
    ("Harbor House Recovery Residences", "harbor-house", "sober-living operator with three houses"),
    ("Riverbend Treatment Center", "riverbend-treatment", "residential treatment with detox"),
    ("Clearwater Counseling", "clearwater-counseling", "therapy practice"),
    ("Second Chance Justice Partners", "second-chance", "justice-support team"),
    ("Riverbend County Coordination Hub", "county-hub", "county coordination hub"),
]
EXTRA_KINDS = [
    "Recovery Residence",
    "Treatment Services",
    "Counseling",
    "Reentry Services",
    "Community Services",
]
# The agency left with unreviewed policies, so its administrator's worklist shows the set-up item.
UNREVIEWED_AGENCY = "harbor-house"


@dataclass(frozen=True)
class DemoLogin:
    agency: str
    role: str
    email: str


def _agency_specs(size: DemoSize, fake: Faker) -> list[tuple[str, str]]:
    specs = [(name, slug) for name, slug, _ in CORE_AGENCIES]
    taken = {slug for _, slug in specs}
    while len(specs) < size.agencies:
        kind = EXTRA_KINDS[len(specs) % len(EXTRA_KINDS)]
        name = f"{fake.last_name()} {kind}"
        slug = name.lower().replace(" ", "-")
        if slug not in taken:
            taken.add(slug)
            specs.append((name, slug))
    return specs


def _statistics_refresh() -> None:
    """PostgreSQL plans by its table statistics, which autovacuum refreshes only after a load
    commits: inside the transaction that bulk-loaded the demo they still say "empty", and the
    clear's deletes by subquery become nested loops over every row (minutes, not seconds)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def demo_clear() -> None:
    """Removes every demo network with its agencies and the users who belong only to them."""
    _statistics_refresh()
    demo_agencies = Agency.objects.filter(network__is_demo=True)
    demo_user_ids = set(
        Membership.objects.filter(agency__in=demo_agencies).values_list("user_id", flat=True)
    )
    other_user_ids = set(
        Membership.objects.filter(user_id__in=demo_user_ids)
        .exclude(agency__in=demo_agencies)
        .values_list("user_id", flat=True)
    )
    intake_clear(agencies=demo_agencies)
    stays_clear(agencies=demo_agencies)
    partners_clear(agencies=demo_agencies)
    referrals_clear(agencies=demo_agencies)
    demo_agencies.delete()
    User.objects.filter(pk__in=demo_user_ids - other_user_ids).delete()
    Network.objects.filter(is_demo=True).delete()


def _refuse_slug_clashes() -> None:
    core_slugs = [slug for _, slug, _ in CORE_AGENCIES]
    if Network.objects.filter(slug=DEMO_NETWORK_SLUG).exists():
        raise DomainError(f"A real network already uses the demo slug '{DEMO_NETWORK_SLUG}'.")
    taken = list(Agency.objects.filter(slug__in=core_slugs).values_list("slug", flat=True))
    if taken:
        raise DomainError(f"Real agencies already use demo slugs: {', '.join(taken)}.")


@transaction.atomic
def demo_build(*, size: str = "small", seed: int = 1) -> list[DemoLogin]:
    """(Re)builds the demo network; returns the logins (all with DEMO_PASSWORD)."""
    demo_size = SIZES[size]
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not security
    demo_clear()
    _refuse_slug_clashes()
    now = timezone.now()
    # Its community scorecard is published, so the public directory shows one.
    network = Network.objects.create(
        name="Riverbend County Recovery Network",
        slug=DEMO_NETWORK_SLUG,
        is_demo=True,
        community_published_at=now,
    )
    agencies = Agency.objects.bulk_create(
        [
            Agency(
                network=network,
                name=name,
                slug=slug,
                time_zone=DEMO_TIME_ZONE,
                policy_reviewed_at=None if slug == UNREVIEWED_AGENCY else now,
                created_at=now - timezone.timedelta(days=rng.randint(120, 400)),
            )
            for name, slug in _agency_specs(demo_size, fake)
        ],
        batch_size=BATCH,
    )
    # One argon2 hash shared by every demo user: hashing is deliberately slow.
    password_hash = make_password(DEMO_PASSWORD)
    users, memberships, logins = [], [], []
    for agency in agencies:
        for role in Role:
            email = f"{role.value.replace('_', '-')}@{agency.slug}.example.org"
            user = User(
                email=email,
                full_name=fake.name(),
                password=password_hash,
                date_joined=agency.created_at,
            )
            users.append(user)
            memberships.append((user, agency, role))
            logins.append(DemoLogin(agency=agency.name, role=role.label, email=email))
    User.objects.bulk_create(users, batch_size=BATCH)
    Membership.objects.bulk_create(
        [
            Membership(user=user, agency=agency, role=role, created_at=agency.created_at)
            for user, agency, role in memberships
        ],
        batch_size=BATCH,
    )
    directory_build(
        network=network, agencies=agencies, services_target=demo_size.services, fake=fake, rng=rng
    )
    referrals_build(network=network, agencies=agencies, size=size, fake=fake, rng=rng, now=now)
    partners_build(network=network, agencies=agencies, size=size, fake=fake, rng=rng, now=now)
    stays_build(agencies=agencies, rng=rng, now=now)
    intake_build(agencies=agencies[: len(CORE_AGENCIES)], fake=fake, rng=rng, now=now)
    _statistics_refresh()
    return logins


def demo_logins() -> list[DemoLogin]:
    """The logins of the demo network's core agencies, as `make run` prints them."""
    core_slugs = [slug for _, slug, _ in CORE_AGENCIES]
    rows = Membership.objects.filter(
        agency__network__is_demo=True, agency__slug__in=core_slugs
    ).select_related("user", "agency")
    order = {slug: index for index, slug in enumerate(core_slugs)}
    roles = list(Role.values)
    rows = sorted(rows, key=lambda m: (order[m.agency.slug], roles.index(m.role)))
    return [
        DemoLogin(agency=m.agency.name, role=m.get_role_display(), email=m.user.email) for m in rows
    ]
