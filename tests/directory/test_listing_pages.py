"""Service pages: freshness of a listing, the verify action, and the public page's limits."""

from datetime import time, timedelta

import pytest
import time_machine
from django.utils import timezone

from referloop.core.models import AuditEvent
from referloop.directory import views
from referloop.directory.models import Schedule, Service
from referloop.directory.search import DirectoryQuery, SearchPage
from referloop.directory.templatetags.directory_tags import opening_hours
from tests.conftest import client_for
from tests.directory import factories


def _listing(cast, *, verified_days_ago: int):
    organization = factories.organization(
        network=cast.network, agency=cast.agency_a, name="Harbor House"
    )
    return factories.service(
        organization=organization,
        name="Harbor House Bridge",
        last_verified_at=timezone.now() - timedelta(days=verified_days_ago),
    )


def test_a_listing_past_the_agency_limit_shows_as_out_of_date(cast):
    fresh = _listing(cast, verified_days_ago=10)
    stale = _listing(cast, verified_days_ago=200)
    client = client_for(cast.coordinator)
    page = client.get(f"/services/{fresh.pk}/").content.decode()
    assert "Listing may be out of date" not in page
    # When, in words and in full, as every time in Referloop reads.
    verified = timezone.localtime(fresh.last_verified_at)
    assert (
        f'Listing verified <time datetime="{fresh.last_verified_at.isoformat()}" '
        f'title="{verified:%b} {verified.day}, {verified.year}, '
    ) in page
    assert "1\xa0week, 3\xa0days ago</time>." in page
    assert b"Listing may be out of date" in client.get(f"/services/{stale.pk}/").content
    # The owning agency's policy decides: with a 365-day limit the same listing is fine.
    cast.agency_a.policy = {**cast.agency_a.policy, "listing_verify_days": 365}
    cast.agency_a.save()
    assert b"Listing may be out of date" not in client.get(f"/services/{stale.pk}/").content


def test_verifying_a_listing_clears_its_worklist_item(cast):
    stale = _listing(cast, verified_days_ago=200)
    client = client_for(cast.coordinator)
    assert "Verify listing" in client.get("/worklist/").content.decode()
    with time_machine.travel(timezone.now(), tick=False):
        response = client.post(f"/services/{stale.pk}/verify/")
        assert response.status_code == 302
        stale.refresh_from_db()
        assert stale.last_verified_at == timezone.now()
    page = client.get("/worklist/").content.decode()
    assert "is verified as of today" in page  # the confirmation
    assert "Verify listing" not in page


def test_only_the_agency_that_runs_a_listing_may_verify_it(cast):
    stale = _listing(cast, verified_days_ago=200)
    before = stale.last_verified_at
    response = client_for(cast.admin_b).post(f"/services/{stale.pk}/verify/")  # same network
    assert response.status_code == 403
    stale.refresh_from_db()
    assert stale.last_verified_at == before
    # Another network's people cannot even see it, and the refusal is audited.
    response = client_for(cast.admin_c).post(f"/services/{stale.pk}/verify/")
    assert response.status_code == 404
    assert AuditEvent.objects.filter(user=cast.admin_c, action="access_denied").exists()


def test_public_service_page_has_no_staff_actions_and_hides_defunct_services(client, cast):
    listing = _listing(cast, verified_days_ago=10)
    response = client.get(f"/directory/services/{listing.hsds_id}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Harbor House Bridge" in body
    assert "Update capacity" not in body and "Mark as verified" not in body
    listing.status = "defunct"
    listing.save()
    assert client.get(f"/directory/services/{listing.hsds_id}/").status_code == 404


def test_a_gender_specific_program_says_whom_it_serves_in_words(cast):
    listing = _listing(cast, verified_days_ago=10)
    client = client_for(cast.coordinator)
    for served, words in (
        (["male"], "Men"),
        (["Women", "girls", "nonbinary"], "Women and non-binary people"),
    ):
        listing.genders_served = served
        listing.save(update_fields=["genders_served"])
        page = client.get(f"/services/{listing.pk}/").content.decode()
        assert f"<dt>Gender-specific program</dt><dd>{words}</dd>" in page


def test_opening_hours_read_as_people_say_them():
    def hours(byday="", opens=None, closes=None, description=""):
        return opening_hours(
            Schedule(byday=byday, opens_at=opens, closes_at=closes, description=description)
        )

    assert hours("MO,TU,WE,TH,FR", time(8, 30), time(17)) == "Mon–Fri 8:30 AM–5:00 PM"
    assert hours("SU,MO,TU,WE,TH,FR,SA", time(0), time(23, 59)) == "every day, 24 hours"
    assert hours("", time(0), time(0)) == "24 hours"
    assert hours("MO,WE", time(13)) == "Mon, Wed from 1:00 PM"
    assert hours("SA", description="by appointment") == "Sat by appointment"
    assert hours() == ""


def test_the_demo_keeps_residential_and_crisis_programs_open_round_the_clock(cast):
    factories.demo_directory(network=cast.network, services=40, seed=3)
    services = Service.objects.filter(network=cast.network).prefetch_related(
        "schedules", "capacities", "terms"
    )
    by_kind = {}
    for service in services:
        never_closes = any(capacity.unit == "beds" for capacity in service.capacities.all()) or any(
            term.code == "crisis" for term in service.terms.all()
        )
        by_kind.setdefault(never_closes, set()).update(
            opening_hours(schedule) for schedule in service.schedules.all()
        )
    assert by_kind == {True: {"every day, 24 hours"}, False: {"Mon–Fri 8:30 AM–5:00 PM"}}
    residence = services.filter(capacities__unit="beds").first()
    page = client_for(cast.coordinator).get(f"/services/{residence.pk}/").content.decode()
    assert "<li>Open every day, 24 hours</li>" in page


def test_the_results_heading_writes_large_counts_as_people_read_them(client, cast, monkeypatch):
    def found(total: int, *, more: bool):
        page = SearchPage([], total, page=1, num_pages=1, query=DirectoryQuery(), more=more)
        return lambda **_: page

    monkeypatch.setattr(views, "directory_search", found(6197, more=False))
    assert '<h2 id="results-heading">6,197 services</h2>' in client.get("/directory/").text
    monkeypatch.setattr(views, "directory_search", found(1000, more=True))
    assert '<h2 id="results-heading">1,000+ services</h2>' in client.get("/directory/").text
    monkeypatch.setattr(views, "directory_search", found(1, more=False))
    assert '<h2 id="results-heading">1 service</h2>' in client.get("/directory/").text


def test_a_search_lands_on_its_results_and_the_pager_keeps_it(client, cast):
    organization = factories.organization(network=cast.network, name="Riverbend Detox")
    for number in range(41):  # three pages of 20
        factories.service(organization=organization, name=f"Detox unit {number}")
    text = client.get("/directory/?q=detox&page=2").text
    assert '<form method="get" action="#results"' in text
    assert 'id="results"' in text
    # The page number is replaced, not repeated (page=2&page=3).
    assert 'href="?q=detox&amp;page=1#results" rel="prev"' in text
    assert 'href="?q=detox&amp;page=3#results" rel="next"' in text


@pytest.mark.parametrize(
    ("asked", "says"),
    [
        ("age=abc", "Age: enter a whole number from 0 to 120."),
        ("page=0", "Page: enter a whole number from 1 to 10000."),  # no field shows the page
        ("page=abc", "Page: enter a whole number from 1 to 10000."),
    ],
)
def test_a_refused_search_stays_on_its_error_summary(db, client, asked, says):
    response = client.get(f"/directory/?{asked}")
    assert response.status_code == 400
    summary = response.text.split("data-error-summary>", 1)[1].split("</div>", 1)[0]
    assert says in summary
    assert 'id="results"' not in response.text  # "#results" has no target: the page stays on top


def test_staff_may_ask_for_closed_and_inactive_listings_the_public_never_sees(client, cast):
    organization = factories.organization(network=cast.network, agency=cast.agency_a)
    factories.service(organization=organization, name="Harbor Day Program")
    factories.service(organization=organization, name="Harbor Night Program", status="inactive")
    staff = client_for(cast.coordinator)
    assert "Harbor Night Program" not in staff.get("/services/?q=harbor").text
    found = staff.get("/services/?q=harbor&include_inactive=on").text
    assert "Harbor Night Program" in found and "Harbor Day Program" in found
    public = client.get("/directory/?q=harbor&include_inactive=on").text
    assert "Harbor Night Program" not in public
    assert 'name="include_inactive"' not in public
