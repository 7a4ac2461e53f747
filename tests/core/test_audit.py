"""The audit log is append-only, in the model and in the database itself, and outlives the rows it
describes."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from referloop.core.audit import audit_record
from referloop.core.models import Agency, AuditEvent, Membership, User
from referloop.core.permissions import Role
from tests.conftest import make_member

TABLE = AuditEvent._meta.db_table


@pytest.fixture
def event(cast) -> AuditEvent:
    return audit_record(
        action="update",
        user=cast.admin_a,
        agency=cast.agency_a,
        obj=cast.agency_a,
        detail={"what": "policy"},
    )


def test_audit_record_from_a_request(cast):
    request = RequestFactory().get("/somewhere", REMOTE_ADDR="192.0.2.44")
    request.user = cast.coordinator
    request.agency = cast.agency_a
    event = audit_record(
        action="view", request=request, obj=Membership.objects.get(user=cast.auditor)
    )
    event.refresh_from_db()
    assert event.user_id == cast.coordinator.pk
    assert event.agency_id == cast.agency_a.pk
    assert event.ip == "192.0.2.44"
    assert event.object_type == "core.membership"
    assert event.outcome == AuditEvent.Outcome.OK


def test_audit_ip_ignores_a_forwarded_header(cast):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="192.0.2.44", HTTP_X_FORWARDED_FOR="203.0.113.1"
    )
    request.user = cast.coordinator
    assert audit_record(action="view", request=request).ip == "192.0.2.44"


def test_model_save_of_an_existing_row_is_refused(event):
    event.action = "nothing_happened"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "update"


def test_model_delete_is_refused(event):
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_queryset_update_and_delete_are_refused(event):
    with pytest.raises(ValueError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing_happened")
    with pytest.raises(ValueError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "update"


def test_raw_sql_update_is_refused_by_the_database(event):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE {TABLE} SET action = %s WHERE id = %s", ["tampered", event.pk])  # noqa: S608
    assert AuditEvent.objects.get(pk=event.pk).action == "update"


def test_raw_sql_delete_is_refused_on_postgresql(event):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps DELETE possible (test flushes need it); see migration 0002")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [event.pk])  # noqa: S608
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_new_rows_can_still_be_added(event):
    audit_record(action="view", user=event.user, agency=event.agency)
    assert AuditEvent.objects.count() == 2


def test_rows_keep_their_ids_after_the_user_and_agency_are_gone(cast):
    user = make_member(cast.agency_c, Role.INTAKE, "leaving@charlie.example.org")
    event = audit_record(action="login", user=user, agency=cast.agency_c, obj=user)
    user_id, agency_id = user.pk, cast.agency_c.pk

    user.delete()
    Agency.objects.filter(pk=agency_id).delete()

    assert not User.objects.filter(pk=user_id).exists()
    event = AuditEvent.objects.get(pk=event.pk)
    assert event.user_id == user_id
    assert event.agency_id == agency_id
    assert event.object_id == str(user_id)
    # The agency's log still lists the row (with nobody to name) and can be read.
    rows = list(AuditEvent.objects.filter(agency_id=agency_id).select_related("user"))
    assert [row.pk for row in rows] == [event.pk]
    assert rows[0].user is None
