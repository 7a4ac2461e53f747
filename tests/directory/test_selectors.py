"""Directory reads: the service page's prefetching, capacity staleness, ZIP centroids and the
worklist's "verify this listing" items."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from referloop.core import services as core_services
from referloop.core.models import Membership
from referloop.core.permissions import Role
from referloop.directory import selectors
from referloop.directory import services as directory_services
from referloop.directory.models import (
    Contact,
    Phone,
    PostalCode,
    RequiredDocument,
    Schedule,
    Service,
    Status,
)
from referloop.worklist.selectors import due_items_for
from tests.directory import factories
from tests.worklist.sources import source_items

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def org(cast):
    return factories.organization(network=cast.network, agency=cast.agency_a, name="Harbor")


def membership(user, agency) -> Membership:
    return Membership.objects.get(user=user, agency=agency)


# --- service_detail ----------------------------------------------------------------------------


def _full_service(org, name="Harbor House"):
    made = factories.service(
        organization=org,
        name=name,
        needs=["sober-living"],
        payment=["medicaid"],
        languages=["en", "es"],
        at=(39.8, -89.65),
    )
    network_id = org.network_id
    Phone.objects.create(network_id=network_id, service=made, number="217-555-0100")
    Phone.objects.create(network_id=network_id, organization=org, number="217-555-0199")
    contact = Contact.objects.create(network_id=network_id, service=made, name="Pat Intake")
    Phone.objects.create(network_id=network_id, contact=contact, number="217-555-0142")
    Schedule.objects.create(network_id=network_id, service=made, byday="MO,TU", freq="WEEKLY")
    RequiredDocument.objects.create(network_id=network_id, service=made, document="Photo ID")
    factories.capacity(service=made, available=2, maximum=10)
    factories.capacity(service=made, unit="slots", available=0)
    return made


def _touch_everything(service):
    """What the service page reads."""
    assert service.organization.name
    [phone.number for phone in service.organization.phones.all()]
    for sal in service.service_at_locations.all():
        [address.city for address in sal.location.addresses.all()]
        [phone.number for phone in sal.location.phones.all()]
        [schedule.byday for schedule in sal.location.schedules.all()]
    [phone.number for phone in service.phones.all()]
    [schedule.byday for schedule in service.schedules.all()]
    [language.code for language in service.languages.all()]
    [(term.taxonomy.name, term.name) for term in service.terms.all()]
    [document.document for document in service.required_documents.all()]
    [capacity.updated_by for capacity in service.capacities.all()]
    [[phone.number for phone in contact.phones.all()] for contact in service.contacts.all()]


def test_service_detail_prefetches_everything_the_page_shows(cast, org):
    made = _full_service(org)
    with CaptureQueriesContext(connection) as captured:
        service = selectors.service_detail(pk=made.pk)
        _touch_everything(service)
    before = len(captured)

    _full_service(org, "Another")  # more rows elsewhere change nothing
    with CaptureQueriesContext(connection) as captured:
        _touch_everything(selectors.service_detail(hsds_id=made.hsds_id))
    assert len(captured) == before <= 15

    assert [c.unit for c in service.capacities.all()] == ["beds", "slots"]
    assert [lang.code for lang in service.languages.all()] == ["en", "es"]
    assert {term.code for term in service.terms.all()} == {"sober-living", "medicaid"}
    assert [doc.document for doc in service.required_documents.all()] == ["Photo ID"]
    assert service.contacts.all()[0].phones.all()[0].number == "217-555-0142"


def test_service_detail_by_hsds_id_and_network_and_missing(cast, org):
    made = factories.service(organization=org, name="Harbor House")
    assert selectors.service_detail(hsds_id=made.hsds_id, network=cast.network) == made
    with pytest.raises(Service.DoesNotExist):
        selectors.service_detail(hsds_id=made.hsds_id, network=cast.other_network)
    with pytest.raises(Service.DoesNotExist):
        selectors.service_detail(pk=made.pk + 1000)
    with pytest.raises(TypeError):
        selectors.service_detail()


# --- staleness and ZIP codes -------------------------------------------------------------------


def test_capacity_badge_shows_the_count_its_time_and_staleness(cast, org):
    service = factories.service(organization=org, name="Harbor beds")
    with time_machine.travel(T0, tick=False):
        beds = factories.capacity(service=service, available=3, maximum=10, waitlist=True)
        slots = factories.capacity(service=service, unit="slots", available=0)
    badge = Template("{% load directory_tags %}{% capacity_badge capacity %}")
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        fresh = badge.render(Context({"capacity": beds}))
        full = badge.render(Context({"capacity": slots}))
    assert fresh == (
        '<span class="capacity capacity-open"><strong>3</strong> of 10 beds · waitlist · '
        '<time datetime="2026-03-02T15:00:00+00:00" title="Mar 2, 2026, 3:00 PM UTC">'
        "as of 2\xa0days ago</time></span>"
    )
    assert full.startswith('<span class="capacity capacity-full"><strong>0</strong> slots · <time')
    with time_machine.travel(T0 + timedelta(days=8), tick=False):
        stale = badge.render(Context({"capacity": beds}))
    assert 'class="capacity capacity-stale"' in stale
    assert stale.endswith("<em>(stale: older than 7 days)</em></span>")


def test_capacity_is_stale():
    now = T0
    assert selectors.capacity_is_stale(updated_at=None, days=7, now=now)
    assert not selectors.capacity_is_stale(updated_at=now - timedelta(days=6), days=7, now=now)
    assert not selectors.capacity_is_stale(updated_at=now - timedelta(days=7), days=7, now=now)
    assert selectors.capacity_is_stale(
        updated_at=now - timedelta(days=7, seconds=1), days=7, now=now
    )
    with time_machine.travel(now, tick=False):
        assert selectors.capacity_is_stale(updated_at=now - timedelta(days=2), days=1)


def test_postal_code_point(db):
    factories.postal_code("62701", 39.8, -89.6495, city="Springfield", state="IL")
    point = selectors.postal_code_point(code="62701-0001")
    assert (point.code, point.latitude, point.city, point.state) == (
        "62701",
        39.8,
        "Springfield",
        "IL",
    )
    PostalCode.objects.filter(code="10001").delete()
    assert selectors.postal_code_point(code="10001").state == "NY"  # from the package
    assert selectors.postal_code_point(code="00000") is None
    assert selectors.postal_code_point(code="abc") is None
    assert selectors.postal_code_point(code="") is None


# --- listing_due_rows --------------------------------------------------------------------------


def listing_due_items(**kwargs):
    return source_items(selectors.listing_due_rows, **kwargs)


def test_listings_come_due_after_the_policy_days(cast, org):
    with time_machine.travel(T0, tick=False):
        verified = factories.service(organization=org, name="Verified", last_verified_at=T0)
        never = factories.service(organization=org, name="Never verified")
        factories.service(organization=org, name="Defunct", status=Status.DEFUNCT)
        other = factories.organization(network=cast.network, agency=cast.agency_b)
        factories.service(organization=other, name="Bravo's")
        factories.service(organization=factories.organization(network=cast.network), name="Nobody")

    with time_machine.travel(T0 + timedelta(days=179), tick=False):
        assert (
            listing_due_items(agency=cast.agency_a, member=None, until=T0 + timedelta(days=179))
            == []
        )

    with time_machine.travel(T0 + timedelta(days=200), tick=False):
        items = listing_due_items(agency=cast.agency_a, member=None, until=T0 + timedelta(days=200))
    assert {item.subject for item in items} == {"Verified (Harbor)", "Never verified (Harbor)"}
    by_pk = {item.key: item for item in items}
    item = by_pk[f"listing-verify:{verified.pk}"]
    assert item.kind == "listing_verify"
    assert item.kind_label == "Listing to verify"
    assert item.action_label == "Verify listing"
    assert item.action_url == reverse("directory:service_detail", args=[verified.pk])
    assert item.due_at == T0 + timedelta(days=180)
    assert item.reason == (
        "Not verified for 200 days; your agency verifies listings every 180 days."
    )
    assert by_pk[f"listing-verify:{never.pk}"].reason.startswith(
        "Never verified: listed 200 days ago"
    )


def test_the_horizon_shows_listings_coming_due(cast, org):
    with time_machine.travel(T0, tick=False):
        factories.service(organization=org, name="Soon", last_verified_at=T0)
    with time_machine.travel(T0 + timedelta(days=175), tick=False):
        items = listing_due_items(agency=cast.agency_a, member=None, until=T0 + timedelta(days=182))
    assert [item.due_at for item in items] == [T0 + timedelta(days=180)]


def test_a_policy_change_takes_effect_at_once_and_verifying_clears_the_item(cast, org):
    with time_machine.travel(T0, tick=False):
        made = factories.service(organization=org, name="Harbor House", last_verified_at=T0)
    until = T0 + timedelta(days=40)
    with time_machine.travel(until, tick=False):
        assert listing_due_items(agency=cast.agency_a, member=None, until=until) == []
        core_services.agency_policy_update(
            agency=cast.agency_a,
            data={**cast.agency_a.policies.model_dump(), "listing_verify_days": 30},
            actor=cast.admin_a,
            time_zone=cast.agency_a.time_zone,
        )
        cast.agency_a.refresh_from_db()
        (item,) = listing_due_items(agency=cast.agency_a, member=None, until=until)
        assert item.due_at == T0 + timedelta(days=30)
        assert "every 30 days" in item.reason

        directory_services.listing_verify(service=made, actor=cast.coordinator)
        assert listing_due_items(agency=cast.agency_a, member=None, until=until) == []


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        (Role.ADMINISTRATOR, True),
        (Role.COORDINATOR, True),
        (Role.INTAKE, True),
        (Role.PROGRAM_LEAD, True),
        (Role.AUDITOR, False),
    ],
)
def test_only_members_who_may_write_get_listing_items(cast, org, role, sees):
    with time_machine.travel(T0, tick=False):
        factories.service(organization=org, name="Harbor House")
    until = T0 + timedelta(days=365)
    member = membership(cast.members_a[role], cast.agency_a)
    with time_machine.travel(until, tick=False):
        items = listing_due_items(agency=cast.agency_a, member=member, until=until)
    assert bool(items) is sees
    # A member of another agency never gets agency A's items.
    other = membership(cast.admin_b, cast.agency_b)
    assert listing_due_items(agency=cast.agency_a, member=other, until=until) == []


def test_the_worklist_lists_listing_items(cast, org):
    with time_machine.travel(T0, tick=False):
        factories.service(organization=org, name="Harbor House")
    until = T0 + timedelta(days=365)
    with time_machine.travel(until, tick=False):
        items = due_items_for(
            agency=cast.agency_a,
            member=membership(cast.coordinator, cast.agency_a),
            until=until,
        )
    assert [item.kind for item in items if item.kind == "listing_verify"] == ["listing_verify"]


def test_listing_items_are_one_query(cast, org):
    with time_machine.travel(T0, tick=False):
        for number in range(12):
            factories.service(organization=org, name=f"Program {number}")
    until = T0 + timedelta(days=365)
    with CaptureQueriesContext(connection) as captured:
        items = listing_due_items(agency=cast.agency_a, member=None, until=until)
    assert len(items) == 12
    assert len(captured) == 1
