"""The deterministic demo network and the `demo` management command."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from referloop.core.models import Agency, Membership, Network, User
from referloop.core.permissions import Role
from referloop.demo.build import (
    CORE_AGENCIES,
    DEMO_NETWORK_SLUG,
    DEMO_PASSWORD,
    SIZES,
    UNREVIEWED_AGENCY,
    DemoSize,
    demo_build,
    demo_logins,
)
from referloop.demo.referrals import VOLUMES, Volume

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _little_referral_history(monkeypatch):
    # These tests are about the network, its agencies and its people; the referral history has
    # its own tests (tests/test_demo_referrals.py). A token history keeps rebuilds quick.
    for size in VOLUMES:
        monkeypatch.setitem(VOLUMES, size, Volume(clients=4, referrals=8))
    # Likewise the generated directory listings (the directory's demo has its own tests).
    monkeypatch.setitem(SIZES, "medium", DemoSize(agencies=20, services=40))


def demo(*args) -> str:
    out = StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


def demo_agencies():
    return Agency.objects.filter(network__is_demo=True)


def snapshot() -> dict:
    """What a person would recognise the demo by: agency names, user names, who is where."""
    return {
        "agencies": sorted(demo_agencies().values_list("slug", "name")),
        "users": sorted(
            Membership.objects.filter(agency__network__is_demo=True).values_list(
                "agency__slug", "role", "user__email", "user__full_name"
            )
        ),
    }


def test_small_builds_five_agencies_with_one_user_per_role():
    demo("--size", "small")
    network = Network.objects.get(slug=DEMO_NETWORK_SLUG)
    assert network.is_demo
    agencies = list(demo_agencies())
    assert len(agencies) == 5
    assert {agency.slug for agency in agencies} == {slug for _, slug, _ in CORE_AGENCIES}
    assert all(agency.network_id == network.pk for agency in agencies)
    for agency in agencies:
        roles = sorted(Membership.objects.filter(agency=agency).values_list("role", flat=True))
        assert roles == sorted(Role.values), agency.slug
    assert Membership.objects.filter(agency__network=network).count() == 5 * len(Role)
    assert User.objects.count() == 5 * len(Role)
    # One agency is left unreviewed so its administrator sees the set-up item.
    unreviewed = demo_agencies().filter(policy_reviewed_at__isnull=True)
    assert list(unreviewed.values_list("slug", flat=True)) == [UNREVIEWED_AGENCY]


def test_users_have_realistic_names_and_distinct_emails():
    demo_build(size="small", seed=1)
    users = User.objects.all()
    assert len({user.email for user in users}) == users.count()
    assert all(user.full_name.strip() for user in users)
    assert len({user.full_name for user in users}) > users.count() // 2


def test_medium_builds_twenty_agencies():
    logins = demo_build(size="medium", seed=3)
    assert demo_agencies().count() == 20
    assert User.objects.count() == 20 * len(Role)
    assert len(logins) == 20 * len(Role)
    slugs = list(demo_agencies().values_list("slug", flat=True))
    assert len(set(slugs)) == 20
    for slug in slugs:
        assert slug.replace("-", "").isalnum() and slug == slug.lower(), slug


def test_same_seed_gives_the_same_network_name_for_name():
    demo_build(size="medium", seed=7)
    first = snapshot()
    first_ids = set(User.objects.values_list("pk", flat=True))
    demo_build(size="medium", seed=7)
    assert snapshot() == first
    # It really was rebuilt (new rows), not left alone.
    assert not first_ids & set(User.objects.values_list("pk", flat=True))


def test_another_seed_gives_other_names():
    demo_build(size="medium", seed=1)
    first = snapshot()
    demo_build(size="medium", seed=2)
    second = snapshot()
    assert first["users"] != second["users"]
    assert first["agencies"] != second["agencies"]  # the extra agencies are named by the seed


def test_rebuild_does_not_duplicate_anything():
    demo("--size", "small")
    counts = (Network.objects.count(), Agency.objects.count(), User.objects.count())
    memberships = Membership.objects.count()
    demo("--size", "small")
    demo("--size", "small")
    assert (Network.objects.count(), Agency.objects.count(), User.objects.count()) == counts
    assert Membership.objects.count() == memberships
    assert Network.objects.filter(is_demo=True).count() == 1


def test_rebuild_at_another_size_replaces_the_old_demo():
    demo_build(size="medium", seed=1)
    demo_build(size="small", seed=1)
    assert demo_agencies().count() == 5
    assert User.objects.count() == 5 * len(Role)


def test_real_agencies_and_their_users_survive_a_rebuild(cast):
    real_agencies = set(Agency.objects.values_list("pk", flat=True))
    real_users = set(User.objects.values_list("pk", flat=True))
    real_networks = set(Network.objects.values_list("pk", flat=True))
    demo("--size", "small")
    demo("--size", "small")
    assert real_agencies <= set(Agency.objects.values_list("pk", flat=True))
    assert real_users <= set(User.objects.values_list("pk", flat=True))
    assert real_networks <= set(Network.objects.values_list("pk", flat=True))
    assert Membership.objects.filter(agency=cast.agency_a).count() == len(Role)
    assert Agency.objects.count() == len(real_agencies) + 5


def test_a_real_user_who_also_joined_a_demo_agency_survives(cast):
    demo_build(size="small", seed=1)
    hub = Agency.objects.get(slug="county-hub")
    Membership.objects.create(user=cast.coordinator, agency=hub, role=Role.COORDINATOR)
    demo_build(size="small", seed=1)
    cast.coordinator.refresh_from_db()
    assert Membership.objects.filter(user=cast.coordinator, agency=cast.agency_a).exists()
    assert not Membership.objects.filter(user=cast.coordinator, agency__network__is_demo=True)


def test_if_empty_builds_on_an_empty_database():
    out = demo("--if-empty")
    assert demo_agencies().count() == 5
    assert "Demo network ready" in out


def test_if_empty_leaves_a_real_agency_alone(cast):
    before = snapshot()
    out = demo("--if-empty")
    assert "left as it is" in out
    assert snapshot() == before == {"agencies": [], "users": []}
    assert Agency.objects.count() == 3
    assert "Demo logins" not in out, "there are no demo logins to print"


def test_if_empty_leaves_an_existing_demo_alone():
    demo("--seed", "1")
    user_ids = set(User.objects.values_list("pk", flat=True))
    out = demo("--if-empty", "--seed", "2")
    assert "left as it is" in out
    assert set(User.objects.values_list("pk", flat=True)) == user_ids
    assert "Demo logins" in out, "the logins are still printed, as `make run` expects"


def test_demo_users_can_sign_in_with_the_demo_password():
    logins = demo_build(size="small", seed=1)
    for login in logins:
        user = authenticate(username=login.email, password=DEMO_PASSWORD)
        assert user is not None, login.email
        assert user.email == login.email
    assert authenticate(username=logins[0].email, password="wrong") is None


def test_printed_output_lists_every_core_login_and_the_password():
    out = demo("--size", "small")
    assert f"password for all: {DEMO_PASSWORD}" in out
    for login in demo_logins():
        assert login.email in out
    for name, slug, _ in CORE_AGENCIES:
        assert name in out
        for role in Role:
            assert f"{role.value.replace('_', '-')}@{slug}.example.org" in out
    # Agencies appear in the documented order.
    positions = [out.index(name) for name, _, _ in CORE_AGENCIES]
    assert positions == sorted(positions)


def test_demo_logins_lists_core_agencies_in_order_with_every_role():
    demo_build(size="medium", seed=1)
    logins = demo_logins()
    assert len(logins) == len(CORE_AGENCIES) * len(Role)
    assert [login.agency for login in logins[:: len(Role)]] == [n for n, _, _ in CORE_AGENCIES]
    assert [login.role for login in logins[: len(Role)]] == list(Role.labels)


def test_unknown_size_is_refused():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("demo", "--size", "huge", stdout=StringIO())
    assert not demo_agencies().exists()
