import pytest
from django.urls import reverse

from referloop.core.services import agency_create
from referloop.referrals.models import DispositionCode
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_every_new_agency_starts_with_the_default_codes(cast):
    agency = agency_create(
        name="Delta House", slug="delta", network=cast.network, time_zone="America/Chicago"
    )
    codes = set(DispositionCode.objects.filter(agency=agency).values_list("code", flat=True))
    assert {
        "service_started",
        "completed",
        "not_eligible",
        "no_capacity",
        "client_declined",
        "could_not_reach",
        "duplicate",
        "referred_elsewhere",
        "other",
    } <= codes


def test_administrators_add_rename_and_retire_codes(cast):
    browser = client_for(cast.admin_a)
    response = browser.post(
        reverse("referrals:dispositions"),
        {"label": "No bed for couples", "code": "no couples", "kind": "not_accepted"},
    )
    assert response.status_code == 302
    added = DispositionCode.objects.get(agency=cast.agency_a, code="no_couples")
    browser.post(
        reverse("referrals:disposition_update", kwargs={"pk": added.pk}),
        {"label": "No couples' room"},
    )
    added.refresh_from_db()
    assert added.label == "No couples' room" and not added.is_active
    duplicate = browser.post(
        reverse("referrals:dispositions"),
        {"label": "Again", "code": "no_couples", "kind": "not_accepted"},
    )
    assert duplicate.status_code == 400 and "already exists" in duplicate.content.decode()


def test_life_cycle_codes_cannot_be_retired(cast):
    started = DispositionCode.objects.get(agency=cast.agency_a, code="service_started")
    response = client_for(cast.admin_a).post(
        reverse("referrals:disposition_update", kwargs={"pk": started.pk}),
        {"label": "Moved in"},
        follow=True,
    )
    started.refresh_from_db()
    assert started.is_active and "rename it instead" in response.content.decode()
