"""The worklist page: what is coming up is listed nearest first, a page's worth unless all is
asked for, under a heading that counts them all."""

from datetime import timedelta

from django.utils import timezone

from referloop.worklist import views
from tests.conftest import client_for
from tests.directory import factories


def test_coming_up_lists_the_nearest_and_offers_the_rest(cast, monkeypatch):
    monkeypatch.setattr(views, "SHOWN", 3)
    organization = factories.organization(network=cast.network, agency=cast.agency_a)
    now = timezone.now()
    for days in range(5):  # the 180-day verification falls due in 1..5 days
        factories.service(
            organization=organization,
            name=f"Listing due in {days + 1} days",
            last_verified_at=now - timedelta(days=179 - days),
        )
    client = client_for(cast.coordinator)

    page = client.get("/worklist/")
    listed = [item.subject for item in page.context["groups"][2][2]]
    assert len(listed) == 3 and "Listing due in 1 days" in listed[0]
    text = page.content.decode()
    assert 'Coming up (7 days) <span class="count">5</span>' in text
    assert 'href="?scope=mine&amp;all=coming#group-coming">Show all 5</a>' in text

    every = client.get("/worklist/?scope=mine&all=coming")
    assert len(every.context["groups"][2][2]) == 5
    assert "Show all" not in every.content.decode()


def test_each_group_lists_its_most_pressing_and_offers_the_rest(cast, monkeypatch):
    monkeypatch.setattr(views, "SHOWN", 2)
    organization = factories.organization(network=cast.network, agency=cast.agency_a)
    now = timezone.now()
    for days in range(3):  # verification 1, 2 and 3 days overdue
        factories.service(
            organization=organization,
            name=f"Listing {days + 1} days late",
            last_verified_at=now - timedelta(days=181 + days),
        )
    page = client_for(cast.coordinator).get("/worklist/")
    overdue = [item.subject for item in page.context["groups"][0][2]]
    assert len(overdue) == 2 and "3 days late" in overdue[0]  # the longest overdue first
    more = 'href="?scope=mine&amp;all=overdue#group-overdue">Show all 3</a>'
    assert more in page.content.decode()
