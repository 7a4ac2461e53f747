"""Referral pages: the one-flow create and send, the detail page's next action, the list and
the receiving agency's view (the packet only, never the sender's client record)."""

import pytest
from django.urls import reverse

from referloop.referrals.models import EventKind, Referral, Status
from tests.conftest import client_for
from tests.referrals import factories

pytestmark = pytest.mark.django_db


def _detail(referral):
    return reverse("referrals:detail", kwargs={"pk": referral.pk})


def test_create_flow_sends_to_a_partner_outside_referloop(cast):
    org, service = factories.partner(network=cast.network)
    person = factories.client(agency=cast.agency_a)
    factories.consent(client=person, organization=org)
    browser = client_for(cast.coordinator)
    url = f"{reverse('referrals:create')}?client={person.pk}&service={service.pk}"
    page = browser.get(url)
    assert page.status_code == 200 and "Refer Dana Rivers" in page.content.decode()
    form = page.context["form"]
    response = browser.post(
        url,
        {
            "contact_name": "Pat Intake",
            "contact_email": "pat@harbor.example.org",
            "urgency": "routine",
            "owner": str(cast.coordinator.pk),
            "consent": form.initial["consent"],
            "categories": ["identity", "contact", "reason"],
            "reason": "Needs a bed after detox.",
            "send": "1",
        },
    )
    referral = Referral.objects.get()
    assert response.status_code == 302 and response["Location"] == _detail(referral)
    assert referral.status == Status.REQUESTED and referral.due_reason == "receipt"
    detail = browser.get(_detail(referral)).content.decode()
    assert referral.tracking_id in detail and "Log follow-up" in detail


def test_without_consent_the_draft_is_kept_and_the_reason_shown(cast):
    _, service = factories.partner(network=cast.network)
    person = factories.client(agency=cast.agency_a)
    browser = client_for(cast.coordinator)
    url = f"{reverse('referrals:create')}?client={person.pk}&service={service.pk}"
    assert "No consent covers" in browser.get(url).content.decode()
    response = browser.post(
        url,
        {
            "contact_email": "pat@harbor.example.org",
            "urgency": "routine",
            "owner": str(cast.coordinator.pk),
            "categories": ["identity"],
            "send": "1",
        },
        follow=True,
    )
    referral = Referral.objects.get()
    assert referral.status == Status.DRAFT
    assert "Not sent: No consent is recorded" in response.content.decode()


def test_follow_up_and_partner_answer_from_the_detail_page(cast):
    referral = factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator)
    browser = client_for(cast.coordinator)
    response = browser.post(
        reverse("referrals:follow_up", kwargs={"pk": referral.pk}),
        {"channel": "call", "note": "Left a message", "version": referral.version},
    )
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.last_follow_up_at is not None
    browser.post(
        reverse("referrals:answer", kwargs={"pk": referral.pk}),
        {"answer": "service_started", "note": "Moved in today"},
    )
    referral.refresh_from_db()
    assert referral.status == Status.IN_PROGRESS and referral.next_due_at is None
    kinds = list(referral.events.values_list("kind", flat=True))
    assert kinds.count(EventKind.FOLLOW_UP) == 1


def test_a_stale_form_is_told_to_reload_and_changes_nothing(cast):
    referral = factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator)
    stale_version = referral.version
    browser = client_for(cast.coordinator)
    browser.post(
        reverse("referrals:follow_up", kwargs={"pk": referral.pk}),
        {"channel": "call", "version": stale_version},
    )
    response = browser.post(
        reverse("referrals:transition", kwargs={"pk": referral.pk}),
        {"status": "cancelled", "reason": "Client moved away", "version": stale_version},
        follow=True,
    )
    assert "Someone else changed this referral" in response.content.decode()
    referral.refresh_from_db()
    assert referral.status == Status.REQUESTED


def test_an_invalid_transition_is_refused_with_a_clear_message(cast):
    referral = factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator, sent=False)
    response = client_for(cast.coordinator).post(
        reverse("referrals:transition", kwargs={"pk": referral.pk}),
        {"status": "completed", "version": referral.version},
    )
    assert response.status_code == 400
    referral.refresh_from_db()
    assert referral.status == Status.DRAFT


def test_the_receiving_agency_sees_the_packet_not_the_client_record(cast):
    referral = factories.sample_referral(
        agency=cast.agency_a, actor=cast.coordinator, partner_agency=cast.agency_b
    )
    assert referral.receiving_agency == cast.agency_b
    browser = client_for(cast.admin_b)
    inbox = browser.get(reverse("referrals:list"), {"direction": "inbound"}).content.decode()
    assert referral.tracking_id in inbox and "Dana Rivers" not in inbox
    detail = browser.get(_detail(referral)).content.decode()
    assert "Dana Rivers" in detail  # the packet, shared under the consent
    assert "555-0100" in detail and "client record" not in detail.lower()
    # the receiver answers in its own inbox; both sides see the same status
    browser.post(reverse("referrals:answer", kwargs={"pk": referral.pk}), {"answer": "accepted"})
    referral.refresh_from_db()
    assert referral.status == Status.ACCEPTED
    # the sender may no longer accept or reject on the receiver's behalf
    response = client_for(cast.coordinator).post(
        reverse("referrals:transition", kwargs={"pk": referral.pk}),
        {"status": "completed", "version": referral.version},
    )
    assert response.status_code == 400


def test_the_list_filters_and_does_not_query_per_row(cast, django_assert_max_num_queries):
    for index in range(6):
        factories.sample_referral(
            agency=cast.agency_a, actor=cast.coordinator, name=f"Partner {index}"
        )
    browser = client_for(cast.coordinator)
    with django_assert_max_num_queries(14):
        response = browser.get(reverse("referrals:list"), {"status": "requested", "owner": "me"})
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 6
    response = browser.get(reverse("referrals:list"), {"status": "completed"})
    assert len(response.context["page"].object_list) == 0
    response = browser.get(reverse("referrals:list"), {"status": "nonsense"})
    assert response.status_code == 400
