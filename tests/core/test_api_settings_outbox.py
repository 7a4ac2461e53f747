"""The agency's settings and outbox through the API, as the settings pages offer them: read and
save the policies (all of them, refused with the field), list the outgoing mail by state, retry
and cancel a message; administrators of the agency only."""

import pytest
from django.test import Client

from referloop.core.models import Agency, AuditEvent, OutboundEmail
from referloop.core.outbox import outbox_enqueue
from referloop.core.services import api_token_create

pytestmark = pytest.mark.django_db


def api_for(user, agency) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, agency=agency)[1]}")


def test_an_administrator_reads_and_saves_the_policies(cast):
    api = api_for(cast.admin_a, cast.agency_a)
    read = api.get("/api/v1/agency/settings").json()
    assert read["time_zone"] == "America/Chicago" and read["policy_reviewed_at"] is None
    assert read["policy"]["receipt_confirm_business_days"] == 2
    policy = {**read["policy"], "receipt_confirm_business_days": 3, "holidays": ["2026-12-25"]}
    saved = api.put(
        "/api/v1/agency/settings",
        {"time_zone": "America/Denver", "policy": policy},
        content_type="application/json",
    )
    assert saved.status_code == 200, saved.content
    agency = Agency.objects.get(pk=cast.agency_a.pk)
    assert agency.time_zone == "America/Denver" and agency.policy_reviewed_at is not None
    assert agency.policies.receipt_confirm_business_days == 3
    assert [str(day) for day in agency.policies.holidays] == ["2026-12-25"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"time_zone": "Mars/Olympus", "policy": {}}, 400, "time_zone"),
        (
            {"time_zone": "America/Denver", "policy": {"receipt_confirm_business_days": 0}},
            422,
            None,
        ),
        ({"time_zone": "America/Denver", "policy": {"shoe_size": 9}}, 422, None),
    ],
)
def test_a_bad_setting_is_refused_and_changes_nothing(cast, body, status, field):
    api = api_for(cast.admin_a, cast.agency_a)
    refused = api.put("/api/v1/agency/settings", body, content_type="application/json")
    assert refused.status_code == status
    if field:
        assert refused.json()["field"] == field
    else:
        assert "policy" in str(refused.json()["detail"])
    agency = Agency.objects.get(pk=cast.agency_a.pk)
    assert agency.time_zone == "America/Chicago" and agency.policy_reviewed_at is None


def _message(agency, key="one"):
    return outbox_enqueue(
        dedupe_key=f"test:{agency.slug}:{key}",
        kind="test",
        to="someone@example.org",
        subject="Hello",
        body_text="Hello.",
        agency=agency,
    )[0]


def test_the_outbox_lists_retries_and_cancels(cast):
    api = api_for(cast.admin_a, cast.agency_a)
    failing = _message(cast.agency_a, "failing")
    OutboundEmail.objects.filter(pk=failing.pk).update(attempts=5, last_error="Connection refused")
    pending = _message(cast.agency_a, "pending")
    _message(cast.agency_b)
    listed = api.get("/api/v1/outbox").json()
    assert [m["id"] for m in listed["items"]] == [pending.pk, failing.pk]  # newest first
    assert "body_text" not in listed["items"][0]
    assert [m["id"] for m in api.get("/api/v1/outbox?state=failing").json()["items"]] == [
        failing.pk
    ]
    assert api.get("/api/v1/outbox?state=lost").json()["field"] == "state"

    retried = api.post(f"/api/v1/outbox/{failing.pk}/retry", {}, content_type="application/json")
    assert retried.status_code == 200 and retried.json()["attempts"] == 0
    cancelled = api.post(
        f"/api/v1/outbox/{pending.pk}/cancel",
        {"reason": "The consent was revoked"},
        content_type="application/json",
    )
    assert cancelled.json()["cancelled_at"] and cancelled.json()["cancel_reason"] == (
        "The consent was revoked"
    )
    again = api.post(f"/api/v1/outbox/{pending.pk}/cancel", {}, content_type="application/json")
    assert again.status_code == 409
    assert AuditEvent.objects.filter(action__in=["outbox_retry", "outbox_cancel"]).count() == 2


def test_only_administrators_and_only_their_own(cast):
    assert api_for(cast.coordinator, cast.agency_a).get("/api/v1/outbox").status_code == 403
    assert (
        api_for(cast.coordinator, cast.agency_a).get("/api/v1/agency/settings").status_code == 403
    )
    theirs = _message(cast.agency_b)
    api = api_for(cast.admin_a, cast.agency_a)
    assert (
        api.post(
            f"/api/v1/outbox/{theirs.pk}/cancel", {}, content_type="application/json"
        ).status_code
        == 404
    )
    assert OutboundEmail.objects.get(pk=theirs.pk).cancelled_at is None
