"""`Idempotency-Key` on the API's creates: a retry gets the first answer and creates nothing, the
key is the token's agency's and user's own, kept 24 hours, and every create documents it."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client as HttpClient
from django.utils import timezone

from referloop.api.api import api
from referloop.clients.models import Client
from referloop.core import idempotency
from referloop.core.models import IdempotentRequest
from referloop.core.permissions import Role
from referloop.core.services import api_token_create
from referloop.core.sweeps import purge_expired_idempotency_keys
from referloop.referrals.models import EventKind
from tests.referrals import factories

CLIENTS = "/api/v1/clients"
DANA = {"first_name": "Dana", "last_name": "Rivers", "date_of_birth": "1990-04-12"}


def token(user, agency) -> str:
    return api_token_create(user=user, agency=agency)[1]


def post(path, raw, body, key=None):
    headers = {"Authorization": f"Bearer {raw}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return HttpClient().post(
        path, json.dumps(body), content_type="application/json", headers=headers
    )


@pytest.fixture
def coordinator(cast):
    return token(cast.coordinator, cast.agency_a)


def test_a_retry_gets_the_first_answer_and_creates_nothing(cast, coordinator):
    first = post(CLIENTS, coordinator, DANA, key="3f1c9a4e-client-1")
    retry = post(CLIENTS, coordinator, DANA, key="3f1c9a4e-client-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Client.objects.filter(agency=cast.agency_a).count() == 1
    stored = IdempotentRequest.objects.get()
    assert (stored.agency, stored.user, stored.status) == (cast.agency_a, cast.coordinator, 201)
    with connection.cursor() as cursor:  # the stored answer names the client: encrypted
        cursor.execute("SELECT content FROM core_idempotentrequest")
        (stored_content,) = cursor.fetchone()
    assert stored_content.startswith("enc1:") and "Rivers" not in stored_content


def test_without_a_key_each_request_creates(cast, coordinator):
    post(CLIENTS, coordinator, {**DANA, "allow_duplicate": True})
    post(CLIENTS, coordinator, {**DANA, "allow_duplicate": True})
    assert Client.objects.filter(agency=cast.agency_a).count() == 2
    assert not IdempotentRequest.objects.exists()


def test_the_same_key_for_another_request_is_a_422_naming_the_header(cast, coordinator):
    post(CLIENTS, coordinator, DANA, key="once")

    other = post(CLIENTS, coordinator, {**DANA, "first_name": "Sam"}, key="once")
    referral = factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator)
    elsewhere = post(f"/api/v1/referrals/{referral.pk}/notes", coordinator, DANA, key="once")

    assert other.status_code == elsewhere.status_code == 422
    (error,) = other.json()["detail"]
    assert error["loc"] == ["header", "Idempotency-Key"]
    assert "another request" in error["msg"]
    assert list(Client.objects.filter(agency=cast.agency_a).values_list("first_name", flat=True))
    assert Client.objects.filter(agency=cast.agency_a).count() == 2  # Dana, the referral's
    assert not referral.events.filter(kind=EventKind.NOTE).exists()


def test_a_key_is_the_agencys_and_users_own(cast, coordinator):
    """Another agency's token (or another member) with the same key and body gets its own
    answer, never the stored one."""
    mine = post(CLIENTS, coordinator, DANA, key="shared-key").json()
    bravo = post(CLIENTS, token(cast.admin_b, cast.agency_b), DANA, key="shared-key")
    colleague = post(
        CLIENTS,
        token(cast.members_a[Role.INTAKE], cast.agency_a),
        {**DANA, "allow_duplicate": True},
        key="shared-key",
    )

    assert bravo.status_code == colleague.status_code == 201
    assert not bravo.has_header("Idempotent-Replayed")
    assert bravo.json()["id"] != mine["id"]
    assert Client.objects.filter(agency=cast.agency_b).count() == 1
    assert colleague.json()["id"] not in (mine["id"], bravo.json()["id"])
    assert IdempotentRequest.objects.count() == 3


def test_an_answer_that_is_not_a_success_is_not_kept(cast, coordinator):
    refused = post(CLIENTS, coordinator, {**DANA, "date_of_birth": "2999-01-01"}, key="fix-me")
    invalid = post(CLIENTS, coordinator, {**DANA, "frist_name": "x"}, key="fix-me")
    fixed = post(CLIENTS, coordinator, DANA, key="fix-me")

    assert (refused.status_code, invalid.status_code, fixed.status_code) == (400, 422, 201)
    assert Client.objects.filter(agency=cast.agency_a).count() == 1


def test_a_key_is_kept_24_hours(cast, coordinator):
    first = post(CLIENTS, coordinator, DANA, key="daily")
    with time_machine.travel(timezone.now() + timedelta(hours=23)):
        assert post(CLIENTS, coordinator, DANA, key="daily").json() == first.json()
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        again = post(CLIENTS, coordinator, {**DANA, "allow_duplicate": True}, key="daily")
        assert again.status_code == 201 and not again.has_header("Idempotent-Replayed")
        assert IdempotentRequest.objects.get().request_hash != ""  # the old one replaced
        assert purge_expired_idempotency_keys() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=50)):
        assert purge_expired_idempotency_keys() == 1
    assert Client.objects.filter(agency=cast.agency_a).count() == 2


def test_of_two_racing_requests_the_second_answers_what_the_first_stored(
    cast, coordinator, monkeypatch
):
    """The second request did not see the first's key (not committed yet): it runs, its insert
    of the key fails, everything it did is rolled back and it answers the first's answer."""
    body = {**DANA, "allow_duplicate": True}
    first = post(CLIENTS, coordinator, body, key="race")
    looked_up = []
    real_lookup = idempotency._stored

    def not_yet_committed(request, key):
        looked_up.append(key)
        return None if len(looked_up) == 1 else real_lookup(request, key)

    monkeypatch.setattr(idempotency, "_stored", not_yet_committed)
    second = post(CLIENTS, coordinator, body, key="race")

    assert looked_up == ["race", "race"]
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Client.objects.filter(agency=cast.agency_a).count() == 1


def test_a_malformed_key_is_a_422_naming_the_header(cast, coordinator):
    for key in ("with space", "x" * 256):
        response = post(CLIENTS, coordinator, DANA, key=key)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert not Client.objects.exists()


def test_a_note_retried_is_one_note(cast, coordinator):
    referral = factories.sample_referral(agency=cast.agency_a, actor=cast.coordinator)
    path = f"/api/v1/referrals/{referral.pk}/notes"
    answers = [post(path, coordinator, {"note": "Called twice?"}, key="note-1") for _ in range(3)]

    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.content for answer in answers}) == 1
    assert referral.events.filter(kind=EventKind.NOTE).count() == 1


def test_every_create_documents_the_header(db):
    operations = [
        (path, method, operation)
        for path, methods in api.get_openapi_schema()["paths"].items()
        for method, operation in methods.items()
    ]
    creates = [
        (path, operation)
        for path, method, operation in operations
        if method == "post" and 201 in map(int, operation["responses"])
    ]
    assert len(creates) == 15
    for path, operation in creates:
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert headers == ["Idempotency-Key"], path
