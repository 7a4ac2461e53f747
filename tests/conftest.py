"""The test base: a fixed cast, in the spirit of healthchecks' alice/bob/charlie.

Network "north" holds agency A (Alpha Recovery) and agency B (Bravo Treatment); agency C (Charlie
Services) is in another network. In A: one member per role (the coordinator and the auditor are
the ones most tests use); in B: an administrator. Everyone's password is PASSWORD.
"""

import os
from dataclasses import dataclass

import pytest
from django.test import Client

from referloop.core.models import Agency, Membership, Network, User
from referloop.core.permissions import Role

PASSWORD = "correct horse battery staple"


def pytest_configure(config):
    # Playwright's sync API keeps an event loop running in the test thread once a browser test
    # has started; the ORM calls the tests make there (and in fixtures' teardown) stay synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


def child_env(**overrides: str) -> dict[str, str]:
    """The environment for a real `referloop` subprocess: none of this run's Referloop settings,
    database or test-only switches leak into it."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("REFERLOOP_")
        and name not in {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return {**env, **overrides}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is deliberately slow; tests that check hashing itself ask for it explicitly.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Cast:
    network: Network
    other_network: Network
    agency_a: Agency
    agency_b: Agency
    agency_c: Agency
    members_a: dict[str, User]  # role -> user in agency A
    admin_b: User
    admin_c: User

    @property
    def coordinator(self) -> User:
        return self.members_a[Role.COORDINATOR]

    @property
    def auditor(self) -> User:
        return self.members_a[Role.AUDITOR]

    @property
    def admin_a(self) -> User:
        return self.members_a[Role.ADMINISTRATOR]


def make_member(agency: Agency, role: str, email: str, name: str = "") -> User:
    user = User.objects.create_user(email, PASSWORD, full_name=name or email.split("@")[0].title())
    Membership.objects.create(user=user, agency=agency, role=role)
    return user


@pytest.fixture
def cast(db) -> Cast:
    network = Network.objects.create(name="North County", slug="north")
    other = Network.objects.create(name="South County", slug="south")
    agency_a = Agency.objects.create(
        network=network, name="Alpha Recovery", slug="alpha", time_zone="America/Chicago"
    )
    agency_b = Agency.objects.create(
        network=network, name="Bravo Treatment", slug="bravo", time_zone="America/New_York"
    )
    agency_c = Agency.objects.create(
        network=other, name="Charlie Services", slug="charlie", time_zone="America/Denver"
    )
    members_a = {
        role: make_member(
            agency_a, role, f"{role.replace('_', '-')}@alpha.example.org", f"Alpha {role.label}"
        )
        for role in Role
    }
    return Cast(
        network=network,
        other_network=other,
        agency_a=agency_a,
        agency_b=agency_b,
        agency_c=agency_c,
        members_a=members_a,
        admin_b=make_member(agency_b, Role.ADMINISTRATOR, "admin@bravo.example.org", "Bravo Admin"),
        admin_c=make_member(
            agency_c, Role.ADMINISTRATOR, "admin@charlie.example.org", "Charlie Admin"
        ),
    )


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Debian's Chromium, not a downloaded build; flags keep it off this machine's closed network.
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }
