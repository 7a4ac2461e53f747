from datetime import date, timedelta

import pytest
from django.utils import timezone

from referloop.clients.selectors import consent_due_rows
from referloop.core.models import Membership
from tests.referrals import factories
from tests.worklist.sources import source_items

pytestmark = pytest.mark.django_db


def consent_due_items(**kwargs):
    return source_items(consent_due_rows, **kwargs)


def _items(cast, member=None):
    until = timezone.now() + timedelta(days=7)
    return consent_due_items(agency=cast.agency_a, member=member, until=until)


def test_a_consent_about_to_expire_is_on_the_worklist_until_renewed(cast):
    person = factories.client(agency=cast.agency_a)
    org, _ = factories.partner(network=cast.network)
    soon = date.today() + timedelta(days=10)
    old = factories.consent(client=person, organization=org, expires_on=soon)
    factories.consent(
        client=person, organization=org, expires_on=date.today() + timedelta(days=300)
    )
    assert _items(cast) == []  # renewed: the newer consent covers the same recipient
    old.signed_at = timezone.now()  # make the expiring one the newest
    old.save(update_fields=["signed_at"])
    (item,) = _items(cast)
    assert item.kind == "consent_expiring" and person.display_name in item.subject
    assert org.name in item.reason


def test_far_expiry_and_other_agencies_stay_off(cast):
    person = factories.client(agency=cast.agency_a)
    org, _ = factories.partner(network=cast.network)
    factories.consent(client=person, organization=org, expires_on=date.today() + timedelta(days=90))
    other = factories.client(agency=cast.agency_b)
    factories.consent(client=other, organization=org, expires_on=date.today() + timedelta(days=3))
    assert _items(cast) == []
    auditor = Membership.objects.get(user=cast.auditor)
    assert _items(cast, member=auditor) == []
