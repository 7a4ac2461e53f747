"""The core web pages: agency policies, people, the audit log, the agency switcher, and headers."""

from datetime import date

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from referloop.core.models import Agency, AuditEvent, Membership, User
from referloop.core.permissions import Role
from referloop.core.policy import AgencyPolicy
from tests.conftest import client_for, make_member

SETTINGS = "/settings/agency/"
MEMBERS = "/settings/members/"
AUDIT = "/settings/audit/"


def policy_post(**overrides) -> dict:
    """A complete, valid agency-settings form with every number changed from its default."""
    data = {
        "time_zone": "America/Denver",
        "working_weekdays": ["1", "2", "3", "4"],
        "holidays": "2026-12-25\n2027-01-01\n",
    }
    for name, info in AgencyPolicy.model_fields.items():
        if isinstance(info.default, bool):
            if not info.default:
                data[name] = "on"  # ticked; a box left out is unticked: each the opposite
            continue
        if isinstance(info.default, int):
            data[name] = str(info.default + 1)
    data["stay_check_in_days"] = "10, 3"
    data["stay_milestone_days"] = "30 90"
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# --- agency settings -----------------------------------------------------------------------------


def test_agency_settings_page_for_an_administrator(cast):
    response = client_for(cast.admin_a).get(SETTINGS)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="receipt_confirm_business_days"' in html
    assert 'value="America/Chicago" selected' in html


def test_saving_agency_settings(cast):
    client = client_for(cast.admin_a)
    assert b"Finish setting up your agency" in client.get("/worklist/").content

    response = client.post(SETTINGS, policy_post())

    assert response.status_code == 302
    assert response["Location"] == SETTINGS
    agency = Agency.objects.get(pk=cast.agency_a.pk)
    assert agency.time_zone == "America/Denver"
    assert agency.policy_reviewed_at is not None
    policy = agency.policies
    for name, info in AgencyPolicy.model_fields.items():
        if isinstance(info.default, bool):
            assert getattr(policy, name) is not info.default, name
        elif isinstance(info.default, int):
            assert getattr(policy, name) == info.default + 1, name
    assert (policy.stay_check_in_days, policy.stay_milestone_days) == ([3, 10], [30, 90])
    assert policy.working_weekdays == [1, 2, 3, 4]
    assert policy.holidays == [date(2026, 12, 25), date(2027, 1, 1)]
    event = AuditEvent.objects.get(action="update", object_type="core.agency")
    assert event.user_id == cast.admin_a.pk
    assert event.agency_id == cast.agency_a.pk
    # The set-up item is gone from the worklist, and the saved values show on the page.
    assert b"Finish setting up your agency" not in client.get("/worklist/").content
    assert b"2026-12-25" in client.get(SETTINGS).content


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"receipt_confirm_business_days": "0"},
            "receipt_confirm_business_days",
            "greater than or equal to 1",
        ),
        ({"first_contact_days": "91"}, "first_contact_days", "less than or equal to 90"),
        ({"outcome_known_days": "soon"}, "outcome_known_days", "whole number"),
        ({"time_zone": "Mars/Base"}, "time_zone", "not one of the available choices"),
        ({"holidays": "not-a-date"}, "holidays", "valid date"),
        ({"working_weekdays": None}, "working_weekdays", "required"),
        ({"working_weekdays": ["8"]}, "working_weekdays", "not one of the available choices"),
        ({"stay_check_in_days": "a week"}, "stay_check_in_days", "whole numbers of days"),
        ({"stay_milestone_days": "0, 30"}, "stay_milestone_days", "between 1 and 3650"),
    ],
)
def test_invalid_agency_settings_change_nothing(cast, overrides, field, message):
    response = client_for(cast.admin_a).post(SETTINGS, policy_post(**overrides))

    assert response.status_code == 400
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert any(message in error for error in form.errors[field]), form.errors[field]
    assert f'id="id_{field}_error"' in response.content.decode()
    agency = Agency.objects.get(pk=cast.agency_a.pk)
    assert agency.time_zone == "America/Chicago"
    assert agency.policy == {}
    assert agency.policy_reviewed_at is None
    assert not AuditEvent.objects.filter(action="update").exists()


def test_several_invalid_agency_settings_are_all_reported(cast):
    data = policy_post(
        receipt_confirm_business_days="0", time_zone="Mars/Base", working_weekdays=None
    )
    response = client_for(cast.admin_a).post(SETTINGS, data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"receipt_confirm_business_days", "time_zone", "working_weekdays"} <= set(errors)
    html = response.content.decode()
    assert "Receipt confirmed within" in html.split('class="error-summary"')[1]
    assert Agency.objects.get(pk=cast.agency_a.pk).policy_reviewed_at is None


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.AUDITOR, Role.INTAKE, Role.PROGRAM_LEAD])
def test_agency_settings_refused_to_other_roles(cast, role):
    client = client_for(cast.members_a[role])
    response = client.get(SETTINGS)
    assert response.status_code == 403
    response = client.post(SETTINGS, policy_post())
    assert response.status_code == 403
    assert Agency.objects.get(pk=cast.agency_a.pk).policy_reviewed_at is None
    events = AuditEvent.objects.filter(action="permission_denied", user=cast.members_a[role])
    assert events.count() == 2
    assert {e.outcome for e in events} == {AuditEvent.Outcome.DENIED}
    assert {e.agency_id for e in events} == {cast.agency_a.pk}


def test_agency_settings_send_anonymous_visitors_to_login(db):
    response = Client().get(SETTINGS)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={SETTINGS}"


# --- people --------------------------------------------------------------------------------------


def test_member_list_shows_only_this_agency(cast):
    response = client_for(cast.coordinator).get(MEMBERS)
    assert response.status_code == 200
    html = response.content.decode()
    for user in cast.members_a.values():
        assert user.email in html
    assert cast.admin_b.email not in html
    assert "/settings/members/" + str(Membership.objects.get(user=cast.auditor).pk) not in html


def test_member_list_query_count_does_not_grow(cast, django_assert_max_num_queries):
    client = client_for(cast.coordinator)
    client.get(MEMBERS)  # warm up: the session's first activity stamp is written once
    with CaptureQueriesContext(connection) as baseline:
        assert client.get(MEMBERS).status_code == 200
    for n in range(30):
        make_member(cast.agency_a, Role.INTAKE, f"extra{n}@alpha.example.org")
    with django_assert_max_num_queries(len(baseline)):
        response = client.get(MEMBERS)
    assert b"extra29@alpha.example.org" in response.content


def test_member_edit_changes_the_role_and_is_audited(cast):
    membership = Membership.objects.get(user=cast.coordinator)
    client = client_for(cast.admin_a)
    assert client.get(f"{MEMBERS}{membership.pk}/").status_code == 200

    response = client.post(f"{MEMBERS}{membership.pk}/", {"role": Role.INTAKE, "is_active": "on"})

    assert response.status_code == 302
    assert response["Location"] == MEMBERS
    membership.refresh_from_db()
    assert membership.role == Role.INTAKE
    assert membership.is_active
    event = AuditEvent.objects.get(action="update", object_type="core.membership")
    assert event.object_id == str(membership.pk)
    assert event.user_id == cast.admin_a.pk
    assert event.detail == {
        "before": {"role": "coordinator", "is_active": True},
        "after": {"role": "intake", "is_active": True},
    }


def test_removing_a_member_takes_away_their_access(cast):
    membership = Membership.objects.get(user=cast.coordinator)
    client_for(cast.admin_a).post(f"{MEMBERS}{membership.pk}/", {"role": Role.COORDINATOR})
    membership.refresh_from_db()
    assert not membership.is_active
    response = client_for(cast.coordinator).get("/worklist/")
    assert response.status_code == 403
    assert b"not a member of any agency" in response.content


def test_member_edit_of_another_agency_is_404_and_audited(cast):
    other = Membership.objects.get(user=cast.admin_b)
    client = client_for(cast.admin_a)

    assert client.get(f"{MEMBERS}{other.pk}/").status_code == 404
    response = client.post(f"{MEMBERS}{other.pk}/", {"role": Role.AUDITOR})

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.role == Role.ADMINISTRATOR
    assert other.is_active
    events = AuditEvent.objects.filter(action="access_denied")
    assert events.count() == 2
    event = events.first()
    assert event.outcome == AuditEvent.Outcome.DENIED
    assert event.agency_id == cast.agency_a.pk
    assert event.user_id == cast.admin_a.pk
    assert event.object_id == str(other.pk)


def test_member_edit_refused_to_a_coordinator(cast):
    membership = Membership.objects.get(user=cast.auditor)
    response = client_for(cast.coordinator).post(
        f"{MEMBERS}{membership.pk}/", {"role": Role.ADMINISTRATOR, "is_active": "on"}
    )
    assert response.status_code == 403
    membership.refresh_from_db()
    assert membership.role == Role.AUDITOR


@pytest.mark.parametrize(
    "data", [{"role": Role.COORDINATOR, "is_active": "on"}, {"role": Role.ADMINISTRATOR}]
)
def test_the_last_administrator_cannot_be_demoted_or_removed(cast, data):
    membership = Membership.objects.get(user=cast.admin_a)
    response = client_for(cast.admin_a).post(f"{MEMBERS}{membership.pk}/", data)
    assert response.status_code == 400
    assert b"last administrator" in response.content
    membership.refresh_from_db()
    assert membership.role == Role.ADMINISTRATOR
    assert membership.is_active
    assert not AuditEvent.objects.filter(action="update").exists()


def test_an_administrator_can_step_down_once_there_is_another(cast):
    Membership.objects.filter(user=cast.coordinator).update(role=Role.ADMINISTRATOR)
    membership = Membership.objects.get(user=cast.admin_a)
    response = client_for(cast.admin_a).post(
        f"{MEMBERS}{membership.pk}/", {"role": Role.COORDINATOR, "is_active": "on"}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.COORDINATOR


def test_member_edit_rejects_an_unknown_role(cast):
    membership = Membership.objects.get(user=cast.coordinator)
    response = client_for(cast.admin_a).post(
        f"{MEMBERS}{membership.pk}/", {"role": "owner", "is_active": "on"}
    )
    assert response.status_code == 400
    assert "role" in response.context["form"].errors
    membership.refresh_from_db()
    assert membership.role == Role.COORDINATOR


# --- audit log -----------------------------------------------------------------------------------


def _audit(agency, n, action="update"):
    AuditEvent.objects.bulk_create(
        AuditEvent(
            agency=agency, action=action, object_type="core.agency", object_id=str(agency.pk)
        )
        for _ in range(n)
    )


def test_audit_log_for_an_auditor_is_paginated_and_scoped(cast):
    _audit(cast.agency_a, 60)
    _audit(cast.agency_b, 3, action="bravo_only")
    client = client_for(cast.auditor)

    first = client.get(AUDIT)
    assert first.status_code == 200
    assert len(first.context["page"].object_list) == 50
    assert first.context["page"].paginator.count == 60
    assert b"bravo_only" not in first.content
    second = client.get(AUDIT, {"page": 2})
    assert len(second.context["page"].object_list) == 10
    assert client.get(AUDIT, {"page": "nonsense"}).status_code == 200


def test_audit_log_query_count_is_constant(cast, django_assert_max_num_queries):
    client = client_for(cast.auditor)
    _audit(cast.agency_a, 5)
    client.get(AUDIT)
    with CaptureQueriesContext(connection) as baseline:
        client.get(AUDIT)
    # Rows by many different people, so a missing select_related would show.
    users = [make_member(cast.agency_a, Role.INTAKE, f"p{n}@alpha.example.org") for n in range(30)]
    AuditEvent.objects.bulk_create(
        AuditEvent(agency=cast.agency_a, user=u, action="view") for u in users
    )
    with django_assert_max_num_queries(len(baseline)):
        response = client.get(AUDIT)
    assert b"<td>P29</td>" in response.content


def test_sign_ins_appear_on_the_agency_audit_log(cast):
    Client().post(
        "/login/", {"email": cast.coordinator.email, "password": "correct horse battery staple"}
    )
    response = client_for(cast.auditor).get(AUDIT)
    actions = [event.action for event in response.context["page"].object_list]
    assert "login" in actions


def test_audit_log_refused_to_a_coordinator(cast):
    response = client_for(cast.coordinator).get(AUDIT)
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="permission_denied", user=cast.coordinator).exists()


# --- working in several agencies -----------------------------------------------------------------


@pytest.fixture
def two_agency_admin(cast) -> User:
    user = make_member(cast.agency_a, Role.ADMINISTRATOR, "both@example.org", "Both Places")
    Membership.objects.create(user=user, agency=cast.agency_b, role=Role.ADMINISTRATOR)
    return user


def test_switching_agency(cast, two_agency_admin):
    client = client_for(two_agency_admin)
    first = client.get("/worklist/")
    assert first.wsgi_request.agency == cast.agency_a
    assert b"Alpha Recovery" in first.content

    response = client.post("/agency/switch/", {"agency": "bravo"})

    assert response.status_code == 302
    assert response["Location"] == "/worklist/"
    after = client.get("/worklist/")
    assert after.wsgi_request.agency == cast.agency_b
    assert after.context["worklist"].overdue[0].subject == "Bravo Treatment"
    # And the settings page now edits B, not A.
    assert client.get(SETTINGS).context["agency"] == cast.agency_b


def test_switching_to_an_agency_one_is_not_in_is_404_and_audited(cast, two_agency_admin):
    client = client_for(two_agency_admin)
    response = client.post("/agency/switch/", {"agency": "charlie"})
    assert response.status_code == 404
    event = AuditEvent.objects.get(action="access_denied")
    assert event.object_type == "core.agency"
    assert event.object_id == "charlie"
    assert event.user_id == two_agency_admin.pk
    assert client.get("/worklist/").wsgi_request.agency == cast.agency_a


def test_switching_to_a_removed_membership_is_404(cast, two_agency_admin):
    Membership.objects.filter(user=two_agency_admin, agency=cast.agency_b).update(is_active=False)
    response = client_for(two_agency_admin).post("/agency/switch/", {"agency": "bravo"})
    assert response.status_code == 404


def test_agency_switch_is_post_only(cast, two_agency_admin):
    assert (
        client_for(two_agency_admin).get("/agency/switch/", {"agency": "bravo"}).status_code == 405
    )


def test_user_without_membership_sees_the_no_agency_page(db):
    user = User.objects.create_user("lonely@example.org", "correct horse battery staple")
    response = client_for(user).get("/worklist/")
    assert response.status_code == 403
    assert b"not a member of any agency" in response.content


# --- headers -------------------------------------------------------------------------------------


def test_security_headers(cast):
    response = client_for(cast.coordinator).get("/worklist/")
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert "unsafe-inline" not in csp
    assert directives["frame-ancestors"] == "'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_login_page_is_not_cached(db):
    response = Client().get("/login/")
    assert "no-store" in response["Cache-Control"]
