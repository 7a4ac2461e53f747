"""Each service-at-location carries its location's point, so a search by distance reads one table
rather than two. The database keeps the copy, whoever writes (the app, an import's COPY, the
admin, a bulk update): a link takes its location's point when it is written, and a location
passes a new point to its links. The links are the only writers' path to the columns, so they
cannot drift from the location.

On SQLite, rebuilding either table (what Django does for most schema changes there) drops its
triggers: tests/directory/test_location_points.py fails if a later migration loses them."""

from django.db import migrations, models

POSTGRES_FORWARD = """
UPDATE directory_serviceatlocation AS link
SET latitude = location.latitude, longitude = location.longitude
FROM directory_location AS location WHERE location.id = link.location_id;

CREATE FUNCTION directory_link_takes_point() RETURNS trigger AS $$
BEGIN
    SELECT latitude, longitude INTO NEW.latitude, NEW.longitude
    FROM directory_location WHERE id = NEW.location_id;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER directory_link_point BEFORE INSERT OR UPDATE ON directory_serviceatlocation
FOR EACH ROW EXECUTE FUNCTION directory_link_takes_point();

-- A link written before its location (the foreign keys are deferred) gets the point when the
-- location comes: one statement per INSERT, however many rows (an import's COPY).
CREATE FUNCTION directory_new_locations_give_points() RETURNS trigger AS $$
BEGIN
    UPDATE directory_serviceatlocation AS link
    SET latitude = added.latitude, longitude = added.longitude
    FROM added WHERE link.location_id = added.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER directory_new_location_points AFTER INSERT ON directory_location
REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION directory_new_locations_give_points();

CREATE FUNCTION directory_moved_location_gives_point() RETURNS trigger AS $$
BEGIN
    UPDATE directory_serviceatlocation SET latitude = NEW.latitude, longitude = NEW.longitude
    WHERE location_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER directory_moved_location_point AFTER UPDATE OF latitude, longitude
ON directory_location FOR EACH ROW
WHEN (OLD.latitude IS DISTINCT FROM NEW.latitude OR OLD.longitude IS DISTINCT FROM NEW.longitude)
EXECUTE FUNCTION directory_moved_location_gives_point();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS directory_link_point ON directory_serviceatlocation;
DROP TRIGGER IF EXISTS directory_new_location_points ON directory_location;
DROP TRIGGER IF EXISTS directory_moved_location_point ON directory_location;
DROP FUNCTION IF EXISTS directory_link_takes_point();
DROP FUNCTION IF EXISTS directory_new_locations_give_points();
DROP FUNCTION IF EXISTS directory_moved_location_gives_point();
"""

# SQLite cannot change the row being written (NEW), so a link is updated just after it is.
_LINK_TAKES_POINT = """
    UPDATE directory_serviceatlocation SET
        latitude = (SELECT latitude FROM directory_location WHERE id = NEW.location_id),
        longitude = (SELECT longitude FROM directory_location WHERE id = NEW.location_id)
    WHERE id = NEW.id;
"""
_LOCATION_GIVES_POINT = """
    UPDATE directory_serviceatlocation SET latitude = NEW.latitude, longitude = NEW.longitude
    WHERE location_id = NEW.id;
"""
SQLITE_FORWARD = [
    """
    UPDATE directory_serviceatlocation SET
        latitude = (SELECT latitude FROM directory_location WHERE id = location_id),
        longitude = (SELECT longitude FROM directory_location WHERE id = location_id);
    """,
    f"""
    CREATE TRIGGER directory_link_point_insert AFTER INSERT ON directory_serviceatlocation
    BEGIN {_LINK_TAKES_POINT} END;
    """,
    f"""
    CREATE TRIGGER directory_link_point_update AFTER UPDATE ON directory_serviceatlocation
    WHEN NEW.latitude IS NOT (SELECT latitude FROM directory_location WHERE id = NEW.location_id)
      OR NEW.longitude IS NOT (SELECT longitude FROM directory_location WHERE id = NEW.location_id)
    BEGIN {_LINK_TAKES_POINT} END;
    """,  # noqa: S608 (constant SQL)
    f"""
    CREATE TRIGGER directory_new_location_point AFTER INSERT ON directory_location
    BEGIN {_LOCATION_GIVES_POINT} END;
    """,
    f"""
    CREATE TRIGGER directory_moved_location_point
    AFTER UPDATE OF latitude, longitude ON directory_location
    BEGIN {_LOCATION_GIVES_POINT} END;
    """,
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {name};"
    for name in (
        "directory_link_point_insert",
        "directory_link_point_update",
        "directory_new_location_point",
        "directory_moved_location_point",
    )
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD)
    elif vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_outboundemail"),
        ("directory", "0007_drop_redundant_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="serviceatlocation",
            name="latitude",
            field=models.FloatField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="serviceatlocation",
            name="longitude",
            field=models.FloatField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(forward, backward),
        migrations.RemoveIndex(model_name="location", name="location_lat_lon"),
        migrations.AddIndex(
            model_name="serviceatlocation",
            index=models.Index(fields=["latitude", "longitude"], name="sal_lat_lon"),
        ),
        migrations.AddIndex(
            model_name="serviceatlocation",
            index=models.Index(
                fields=["service", "latitude", "longitude"], name="sal_service_point"
            ),
        ),
    ]
