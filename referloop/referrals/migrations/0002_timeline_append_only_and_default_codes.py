"""Timeline events and the disclosure ledger refuse UPDATE in the database itself (as the audit
log does); deletes stay possible so that removing a whole referral or client still cascades.
Existing agencies get the default disposition codes (new ones get them when created)."""

from django.db import migrations

TABLES = ("referrals_referralevent", "clients_disclosure")


def _statements(vendor: str, table: str) -> tuple[str, str]:
    if vendor == "sqlite":
        return (
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END;",
            f"DROP TRIGGER IF EXISTS {table}_no_update;",
        )
    return (
        f"CREATE FUNCTION {table}_refuse_update() RETURNS trigger AS $$ "
        f"BEGIN RAISE EXCEPTION '{table} rows are append-only'; END; $$ LANGUAGE plpgsql; "
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_refuse_update();",
        f"DROP TRIGGER IF EXISTS {table}_no_update ON {table}; "
        f"DROP FUNCTION IF EXISTS {table}_refuse_update();",
    )


def triggers_forward(apps, schema_editor):
    for table in TABLES:
        schema_editor.execute(_statements(schema_editor.connection.vendor, table)[0])


def triggers_backward(apps, schema_editor):
    for table in TABLES:
        schema_editor.execute(_statements(schema_editor.connection.vendor, table)[1])


def default_codes(apps, schema_editor):
    from referloop.referrals.dispositions import DEFAULT_CODES

    Agency = apps.get_model("core", "Agency")
    DispositionCode = apps.get_model("referrals", "DispositionCode")
    DispositionCode.objects.bulk_create(
        DispositionCode(
            agency=agency, code=code, label=label, kind=kind, is_success=success, position=index
        )
        for agency in Agency.objects.all()
        for index, (code, label, kind, success) in enumerate(DEFAULT_CODES)
    )


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_initial"), ("clients", "0001_initial")]
    operations = [
        migrations.RunPython(triggers_forward, triggers_backward),
        migrations.RunPython(default_codes, migrations.RunPython.noop),
    ]
