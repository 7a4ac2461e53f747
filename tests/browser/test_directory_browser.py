"""The directory in a real headless Chromium: the public search and service page, and the
two-second capacity update of a logged-in staff member."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from referloop.directory import services as directory_services
from referloop.directory.models import CapacityReading, ServiceCapacity
from referloop.directory.vocabulary import NEEDS, PAYMENT, POPULATIONS
from tests.browser.test_shell_browser import assert_fits_a_phone, sign_in
from tests.directory import factories

pytestmark = pytest.mark.browser


@pytest.fixture
def listings(transactional_db, cast):
    harbor = factories.organization(network=cast.network, agency=cast.agency_a, name="Harbor House")
    open_house = factories.service(
        organization=harbor,
        name="Harbor House for Women",
        needs=["sober-living"],
        at=(39.80, -89.65),
    )
    factories.capacity(
        service=open_house, available=3, maximum=10, at=timezone.now() - timedelta(hours=2)
    )
    full_house = factories.service(
        organization=harbor, name="Harbor House Bridge", needs=["sober-living"], at=(39.81, -89.64)
    )
    factories.capacity(service=full_house, available=0, maximum=8)
    return {"cast": cast, "open": open_house, "full": full_house}


def test_public_search_filters_capacity_and_shows_as_of_time(page: Page, live_server, listings):
    page.goto(f"{live_server.url}/directory/")
    expect(page.get_by_role("heading", name="Find services and open beds")).to_be_visible()
    results = page.get_by_role("region", name="2 services")
    expect(results.get_by_role("link", name="Harbor House Bridge")).to_be_visible()

    page.get_by_label("Has a bed or slot free now").check()
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="1 service", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Harbor House Bridge")).to_have_count(0)
    assert "has_capacity=on" in page.url  # filters live in the URL: shareable, back works

    page.get_by_role("link", name="Harbor House for Women").click()
    expect(page.get_by_role("heading", name="Harbor House for Women", level=1)).to_be_visible()
    availability = page.get_by_role("region", name="Availability")
    expect(availability).to_contain_text("3 of 10 beds")
    expect(availability).to_contain_text("as of 2")  # "as of 2 hours ago"
    expect(page.get_by_role("button", name="Update capacity")).to_have_count(0)  # public: read-only
    expect(page.get_by_role("link", name="Staff sign in")).to_be_visible()


def test_staff_updates_capacity_in_place(page: Page, live_server, listings):
    cast, service = listings["cast"], listings["full"]
    sign_in(page, live_server.url, cast.coordinator.email)
    page.goto(f"{live_server.url}/services/{service.pk}/")
    panel = page.locator("#capacity-panel")
    expect(panel).to_contain_text("0 of 8 beds")

    # A mistake is explained next to the field and nothing changes.
    panel.get_by_label("Available now").fill("9")
    panel.get_by_role("button", name="Update capacity").click()
    expect(panel.get_by_role("alert")).to_contain_text("more than the maximum (8)")
    assert ServiceCapacity.objects.get(service=service).available == 0

    panel.get_by_label("Available now").fill("2")
    panel.get_by_role("button", name="Update capacity").click()
    expect(panel).to_contain_text("Capacity updated.")
    expect(panel).to_contain_text("2 of 8 beds")
    expect(
        page.get_by_role("heading", name="Harbor House Bridge", level=1)
    ).to_be_visible()  # same page
    capacity = ServiceCapacity.objects.get(service=service)
    assert (capacity.available, capacity.updated_by_id) == (2, cast.coordinator.pk)
    assert CapacityReading.objects.filter(capacity=capacity, available=2).exists()
    # The chart and its table follow at once: two updates now, the newest first.
    chart = panel.get_by_role("img", name="Beds free over the last 90 days")
    expect(chart).to_be_visible()
    panel.get_by_text("2 updates of the beds count").click()
    expect(panel.get_by_role("row").nth(1)).to_contain_text("2")
    expect(panel.get_by_role("row")).to_have_count(3)  # the header and the two updates

    panel.get_by_role("link", name="365 days").click()
    expect(page.get_by_role("heading", name="Over the last 365 days")).to_be_visible()
    assert "days=365" in page.url


def test_staff_edit_their_listing_from_the_keyboard(page: Page, live_server, listings):
    cast, service = listings["cast"], listings["open"]
    sign_in(page, live_server.url, cast.coordinator.email)
    page.goto(f"{live_server.url}/services/{service.pk}/")
    page.keyboard.press("e")  # the edit shortcut
    expect(page.get_by_role("heading", name=f"Edit {service.name}")).to_be_visible()

    page.get_by_label("Minimum age").fill("21")
    page.get_by_label("Maximum age").fill("18")
    page.get_by_role("button", name="Save the listing").click()
    expect(page.get_by_role("alert")).to_contain_text("18 is below the minimum age (21)")
    expect(page.get_by_label("Maximum age")).to_have_value("18")  # what was typed stays

    page.get_by_label("Maximum age").fill("")
    page.get_by_label("Status").select_option("temporarily closed")
    page.get_by_label("Notice").fill("Closed for repairs until March 10")
    page.get_by_label("Spanish").check()
    page.get_by_role("button", name="Save the listing").click()

    expect(page.get_by_text("is saved and verified as of today")).to_be_visible()
    expect(page.get_by_role("note")).to_contain_text("Closed for repairs until March 10")
    expect(page.get_by_text("Temporarily closed")).to_be_visible()
    service.refresh_from_db()
    assert (service.status, service.minimum_age) == ("temporarily closed", 21)
    assert service.languages.filter(code="es").exists()


def test_staff_add_a_listing_that_search_then_finds(page: Page, live_server, listings):
    cast = listings["cast"]
    factories.postal_code("62701", 39.8017, -89.6436, city="Springfield", state="IL")
    sign_in(page, live_server.url, cast.coordinator.email)
    page.goto(f"{live_server.url}/services/")
    page.get_by_role("link", name="Add a listing").click()
    expect(page.get_by_role("heading", name="New listing")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("Alpha Peer Center")
    page.get_by_label("Peer recovery support").check()
    page.get_by_label("Street address").fill("5 Oak Ave")
    page.get_by_label("City").fill("Springfield")
    page.get_by_label("State").fill("IL")
    page.get_by_label("ZIP code").fill("62701")
    page.get_by_role("button", name="Add the listing").click()

    expect(page.get_by_role("heading", name="Alpha Peer Center", level=1)).to_be_visible()
    expect(page.get_by_text("is listed in the network")).to_be_visible()
    page.goto(f"{live_server.url}/services/?need=peer-support&postal_code=62701")
    expect(page.get_by_role("link", name="Alpha Peer Center")).to_be_visible()


def test_on_a_phone_a_search_lands_on_its_results(page: Page, live_server, listings):
    # Enough terms that the service page's facts could not sit beside their labels.
    directory_services.service_terms_set(
        service=listings["open"],
        terms=[
            *factories.terms(NEEDS, ["sober-living", "peer-support", "medication-for-addiction"]),
            *factories.terms(POPULATIONS, ["women", "pregnant-parenting", "justice-involved"]),
            *factories.terms(PAYMENT, ["medicaid", "private-insurance", "sliding-fee"]),
        ],
    )
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{live_server.url}/directory/")
    page.get_by_label("Has a bed or slot free now").check()
    page.get_by_role("button", name="Search").click()
    # The filters come first on a narrow screen; the search scrolls past them to what it found.
    expect(page.get_by_role("heading", name="1 service", exact=True)).to_be_in_viewport()
    expect(page.get_by_role("link", name="Harbor House for Women")).to_be_in_viewport()
    assert_fits_a_phone(page, "the public search")
    page.get_by_role("link", name="Change the search").click()
    expect(page.get_by_label("Search words")).to_be_in_viewport()
    page.get_by_role("link", name="Harbor House for Women").click()
    expect(page.get_by_text("Needs, populations and payment")).to_be_visible()
    assert_fits_a_phone(page, "the public service page")

    # Beside the filters, the page stays at its top, title and all.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/directory/")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="Find services and open beds")).to_be_in_viewport()
    expect(page.get_by_role("link", name="Change the search")).to_be_hidden()
