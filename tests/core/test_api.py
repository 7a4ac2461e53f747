"""The HTTP API at /api/v1/: token auth, scoping, pagination, errors, and its self-description."""

import hashlib
import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import OperationalError, connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referloop.api.api import api
from referloop.core import services
from referloop.core.models import ApiToken, AuditEvent, Membership, User
from referloop.core.permissions import Role
from referloop.core.schemas import InputSchema
from tests.conftest import make_member
from tests.referrals.factories import sample_referral


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def token_for(user, agency, **kwargs) -> str:
    return services.api_token_create(user=user, agency=agency, **kwargs)[1]


def get(path, raw=None, **params):
    return Client().get(path, params, headers=bearer(raw) if raw else {})


# --- /me and token authentication ----------------------------------------------------------------


def test_me_describes_the_token_user_and_agency(cast):
    make_member(cast.agency_b, Role.INTAKE, "two@alpha.example.org")
    user = User.objects.get(email="two@alpha.example.org")
    Membership.objects.create(user=user, agency=cast.agency_a, role=Role.AUDITOR)
    raw = token_for(user, cast.agency_a)

    response = get("/api/v1/me", raw)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == user.pk
    assert body["email"] == "two@alpha.example.org"
    assert body["agency"] == {
        "slug": "alpha",
        "name": "Alpha Recovery",
        "time_zone": "America/Chicago",
    }
    assert body["role"] == "auditor"
    assert sorted((m["agency"]["slug"], m["role"]) for m in body["memberships"]) == [
        ("alpha", "auditor"),
        ("bravo", "intake"),
    ]


def test_token_use_is_recorded(cast):
    token, raw = services.api_token_create(user=cast.coordinator, agency=cast.agency_a)
    assert token.last_used_at is None
    assert get("/api/v1/me", raw).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer rl_not-a-real-token", "Basic Zm9vOmJhcg=="]
)
def test_missing_or_wrong_token_is_401(cast, header):
    services.api_token_create(user=cast.coordinator, agency=cast.agency_a)
    headers = {"Authorization": header} if header else {}
    response = Client().get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_a_session_does_not_authenticate_the_api(cast):
    client = Client()
    client.force_login(cast.coordinator)
    assert client.get("/api/v1/me").status_code == 401


def test_revoked_token_is_401(cast):
    token, raw = services.api_token_create(user=cast.coordinator, agency=cast.agency_a)
    assert get("/api/v1/me", raw).status_code == 200
    services.api_token_revoke(token=token)
    assert get("/api/v1/me", raw).status_code == 401


def test_expired_token_is_401(cast):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        raw = token_for(
            cast.coordinator, cast.agency_a, expires_at=timezone.now() + timedelta(days=1)
        )
        assert get("/api/v1/me", raw).status_code == 200
        traveller.shift(timedelta(days=1))
        assert get("/api/v1/me", raw).status_code == 401


def test_token_of_a_deactivated_membership_is_401(cast):
    raw = token_for(cast.coordinator, cast.agency_a)
    Membership.objects.filter(user=cast.coordinator).update(is_active=False)
    assert get("/api/v1/me", raw).status_code == 401


def test_token_of_a_deactivated_user_is_401(cast):
    raw = token_for(cast.coordinator, cast.agency_a)
    User.objects.filter(pk=cast.coordinator.pk).update(is_active=False)
    assert get("/api/v1/me", raw).status_code == 401


def test_token_needs_an_active_membership_in_its_agency(cast):
    from referloop.core.errors import DomainError

    with pytest.raises(DomainError) as caught:
        services.api_token_create(user=cast.coordinator, agency=cast.agency_b)
    assert caught.value.field == "agency"
    assert not ApiToken.objects.exists()


def test_token_is_stored_only_as_its_sha256(cast):
    token, raw = services.api_token_create(user=cast.coordinator, agency=cast.agency_a)
    assert raw.startswith("rl_")
    assert len(raw) >= 40  # 256 random bits, url-safe
    token.refresh_from_db()
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw[:10] == token.prefix
    stored = [str(value) for row in ApiToken.objects.values_list() for value in row]
    assert not any(raw in value for value in stored)
    assert not ApiToken.objects.filter(key_hash=raw).exists()


def test_two_tokens_differ(cast):
    assert token_for(cast.coordinator, cast.agency_a) != token_for(cast.coordinator, cast.agency_a)


# --- members: pagination, query counts, scoping --------------------------------------------------


def _members_queries(raw) -> tuple[int, dict]:
    client = Client()
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/members", headers=bearer(raw))
    assert response.status_code == 200
    return len(queries), response.json()


def test_members_is_a_paginated_list_of_the_agency_only(cast):
    raw = token_for(cast.coordinator, cast.agency_a)
    body = get("/api/v1/members", raw).json()
    assert set(body) == {"items", "count", "next_cursor"}
    assert body["count"] == len(Role)
    assert body["next_cursor"] is None
    emails = {item["email"] for item in body["items"]}
    assert cast.coordinator.email in emails
    assert cast.admin_b.email not in emails
    assert set(body["items"][0]) == {"id", "email", "full_name", "role", "is_active"}

    first = get("/api/v1/members", raw, limit=2).json()
    second = get("/api/v1/members", raw, limit=2, cursor=first["next_cursor"]).json()
    assert first["count"] == second["count"] == len(Role)
    assert [item["id"] for item in first["items"] + second["items"]] == [
        item["id"] for item in body["items"][:4]
    ]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/members", {"limit": 9557442561907107393640740786150572032}, "limit"),
        ("/api/v1/members", {"cursor": "x" * 2001}, "cursor"),
        ("/api/v1/referrals", {"limit": 9557442561907107393640740786150572032}, "limit"),
        ("/api/v1/referrals", {"limit": 501}, "limit"),
        ("/api/v1/referrals", {"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ("/api/v1/referrals", {"limit": 0}, "limit"),
        ("/api/v1/referrals/{referral}/timeline", {"limit": 2**64}, "limit"),
        ("/api/v1/clients", {"cursor": ""}, "cursor"),
    ],
)
def test_a_limit_or_cursor_out_of_bounds_is_a_422_naming_it(cast, path, params, field):
    """They reached the database as they were: past its 64-bit integers, a 500."""
    referral = sample_referral(agency=cast.agency_a, actor=cast.coordinator)
    response = get(
        path.format(referral=referral.pk), token_for(cast.coordinator, cast.agency_a), **params
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_the_largest_page_is_500(cast):
    raw = token_for(cast.coordinator, cast.agency_a)
    page = get("/api/v1/members", raw, limit=500).json()
    assert page["count"] == len(page["items"]) == len(Role)
    assert page["next_cursor"] is None


def test_every_list_states_the_bounds_of_its_pages(db):
    operations = [
        (path, {parameter["name"]: parameter["schema"] for parameter in op.get("parameters", [])})
        for path, methods in api.get_openapi_schema()["paths"].items()
        for op in methods.values()
    ]
    lists = [(path, parameters) for path, parameters in operations if "cursor" in parameters]
    assert len(lists) == 18  # members, audit, outbox, clients, consents, ..., replies, partners (5)
    for path, parameters in lists:
        assert "offset" not in parameters, path
        assert (parameters["limit"]["minimum"], parameters["limit"]["maximum"]) == (1, 500), path
        assert parameters["limit"]["default"] == 50, path
        assert parameters["cursor"]["maxLength"] == 2000, path


def test_members_query_count_does_not_grow_with_members(cast, django_assert_max_num_queries):
    raw = token_for(cast.coordinator, cast.agency_a)
    with time_machine.travel(timezone.now(), tick=False):
        get("/api/v1/members", raw)  # first use records last_used_at; not what is measured
        baseline, body = _members_queries(raw)
        assert body["count"] == 5
        for n in range(30):
            make_member(cast.agency_a, Role.INTAKE, f"extra{n}@alpha.example.org")
        with django_assert_max_num_queries(baseline):
            response = Client().get("/api/v1/members", headers=bearer(raw))
    assert response.json()["count"] == 35
    assert len(response.json()["items"]) == 35


def test_member_detail(cast):
    raw = token_for(cast.coordinator, cast.agency_a)
    membership = Membership.objects.get(user=cast.auditor)
    body = get(f"/api/v1/members/{membership.pk}", raw).json()
    assert body["email"] == cast.auditor.email
    assert body["role"] == "auditor"


def patch(path, raw, body):
    return Client().patch(
        path, json.dumps(body), content_type="application/json", headers=bearer(raw)
    )


def test_an_administrator_changes_a_members_role_and_access(cast):
    admin = token_for(cast.admin_a, cast.agency_a)
    coordinator = Membership.objects.get(user=cast.coordinator)
    mine = Membership.objects.get(user=cast.admin_a)

    changed = patch(f"/api/v1/members/{coordinator.pk}", admin, {"role": "intake"})
    off = patch(f"/api/v1/members/{coordinator.pk}", admin, {"is_active": False})
    last_admin = patch(f"/api/v1/members/{mine.pk}", admin, {"role": "coordinator"})
    by_auditor = patch(
        f"/api/v1/members/{coordinator.pk}",
        token_for(cast.auditor, cast.agency_a),
        {"role": "administrator"},
    )

    assert (changed.status_code, changed.json()["role"]) == (200, "intake")
    assert (off.json()["role"], off.json()["is_active"]) == ("intake", False)
    assert (last_admin.status_code, last_admin.json()["field"]) == (400, "role")
    assert by_auditor.status_code == 403
    coordinator.refresh_from_db()
    assert (coordinator.role, coordinator.is_active) == ("intake", False)


def test_the_audit_log_pages_newest_first_while_it_grows(cast):
    raw = token_for(cast.auditor, cast.agency_a)
    for number in range(5):
        AuditEvent.objects.create(agency=cast.agency_a, action=f"test_{number}")
    AuditEvent.objects.create(agency=cast.agency_b, action="elsewhere")

    first = get("/api/v1/audit", raw, limit=3).json()
    get("/api/v1/referrals", raw)  # writes a "list" row: newer than the cursor
    rest = get("/api/v1/audit", raw, limit=3, cursor=first["next_cursor"]).json()

    actions = [event["action"] for event in first["items"] + rest["items"]]
    assert actions[:5] == [f"test_{number}" for number in reversed(range(5))]
    assert "elsewhere" not in actions and "list" not in actions
    assert get("/api/v1/audit", token_for(cast.coordinator, cast.agency_a)).status_code == 403


def test_member_of_another_agency_is_404_and_audited(cast):
    raw = token_for(cast.coordinator, cast.agency_a)
    other = Membership.objects.get(user=cast.admin_b)

    response = get(f"/api/v1/members/{other.pk}", raw)

    assert response.status_code == 404
    assert cast.admin_b.email not in response.content.decode()
    event = AuditEvent.objects.get(action="access_denied")
    assert event.outcome == AuditEvent.Outcome.DENIED
    assert event.agency_id == cast.agency_a.pk
    assert event.user_id == cast.coordinator.pk
    assert event.object_type == "core.membership"
    assert event.object_id == str(other.pk)


def test_unknown_member_is_404(cast):
    raw = token_for(cast.coordinator, cast.agency_a)
    assert get("/api/v1/members/999999", raw).status_code == 404


# --- worklist ------------------------------------------------------------------------------------


def test_worklist_shows_the_setup_item_to_an_administrator(cast):
    body = get("/api/v1/worklist", token_for(cast.admin_a, cast.agency_a)).json()
    assert [item["kind"] for item in body["overdue"]] == ["agency_setup"]
    assert body["overdue"][0]["action_url"] == "/settings/agency/"


def test_worklist_setup_item_is_not_a_coordinators(cast):
    body = get("/api/v1/worklist", token_for(cast.coordinator, cast.agency_a)).json()
    assert body == {"overdue": [], "due_today": [], "coming_up": []}


def test_agency_worklist_is_refused_to_a_coordinator_with_a_reason(cast):
    response = get("/api/v1/worklist", token_for(cast.coordinator, cast.agency_a), scope="agency")
    assert response.status_code == 403
    assert "role" in response.json()["detail"]
    event = AuditEvent.objects.get(action="permission_denied")
    assert event.user_id == cast.coordinator.pk
    assert event.agency_id == cast.agency_a.pk


def test_a_worklist_scope_it_does_not_know_is_a_422(cast):
    response = get("/api/v1/worklist", token_for(cast.auditor, cast.agency_a), scope="everyone")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "scope"]


def test_agency_worklist_for_an_auditor(cast):
    response = get("/api/v1/worklist", token_for(cast.auditor, cast.agency_a), scope="agency")
    assert response.status_code == 200
    assert [item["kind"] for item in response.json()["overdue"]] == ["agency_setup"]


# --- self-description and health -----------------------------------------------------------------


def test_openapi_document(db):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.1.")
    assert "/api/v1/me" in schema["paths"]
    assert "/api/v1/members" in schema["paths"]
    assert "401" in schema["paths"]["/api/v1/me"]["get"]["responses"]


def test_docs_page_uses_no_external_assets(db):
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger" in html.lower()
    assets = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html)
    assert assets, "expected the page to load its scripts and styles"
    assert not [url for url in assets if url.startswith(("http:", "https:", "//"))]


def test_healthz(db):
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_healthz_reports_an_unreachable_database(db, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    # Undone before the test database is torn down (which needs a working cursor).
    with monkeypatch.context() as patch:
        patch.setattr(connections["default"], "cursor", broken_cursor)
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "error"


def _body_schemas():
    """Every request body the API reads: (route, the schema it is read by)."""
    for _, router in api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                for model in operation.models:
                    if getattr(model, "__ninja_param_source__", None) != "body":
                        continue
                    for field in model.model_fields.values():
                        kinds = [field.annotation, *getattr(field.annotation, "__args__", ())]
                        for kind in kinds:
                            if isinstance(kind, type) and kind is not type(None):
                                yield f"{'/'.join(operation.methods)} {path}", kind


def test_every_request_body_is_read_strictly():
    """A body that is not an object, names a field the route does not know, or gives true for a
    number is refused (see referloop.core.schemas): true for every route, present and future."""
    bodies = list(_body_schemas())
    assert len(bodies) >= 13  # the routes were found
    loose = [
        f"{route}: {schema.__name__}"
        for route, schema in bodies
        if not issubclass(schema, InputSchema)
    ]
    assert loose == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([1], "valid dictionary"),
        ({"first_name": "A", "last_name": "B", "nickname": "C"}, "Extra inputs"),
        ({"first_name": "A", "last_name": "B", "allow_duplicate": "yes"}, "true or false"),
        ({"first_name": "A", "last_name": "B", "date_of_birth": 0}, "YYYY-MM-DD"),
        ({"client": "5", "organization": 1}, "must be a number"),  # an id, in a union with null
        ({"client": 1, "organization": 1, "service": "5"}, "must be a number"),
    ],
)
def test_a_body_read_strictly_is_refused_with_its_reason(cast, body, says):
    raw = token_for(cast.coordinator, cast.agency_a)
    path = "/api/v1/referrals" if "client" in body else "/api/v1/clients"
    response = Client().post(
        path, json.dumps(body), content_type="application/json", headers=bearer(raw)
    )
    assert response.status_code == 422
    assert says in json.dumps(response.json())


@pytest.mark.parametrize(
    "path", ["/api/v1/directory/services/abc", "/api/v1/referrals/1.5", "/api/v1/nothing"]
)
def test_a_path_no_route_matches_is_a_json_404_under_the_api(cast, path):
    raw = token_for(cast.coordinator, cast.agency_a)
    response = get(path, raw)
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    assert Client().get("/no-such-page/").headers["Content-Type"].startswith("text/html")
