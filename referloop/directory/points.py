"""Each service-at-location keeps a copy of its location's point, so a search by distance reads
one table rather than two (a third to a half off searches near a ZIP code over the large demo).

The database keeps the copy, whoever writes (the app, an import's COPY, the admin, a bulk
update): a link takes its location's point whenever it is written, and a location passes a new
point to its links. Nothing else can set the columns, so they cannot drift from the location.

SQLite drops a table's triggers when Django rebuilds that table (most later schema changes to
ServiceAtLocation or Location do), so `sqlite_points_ensure` runs after every `migrate` (see
`apps.py`) and puts them back, copying the points again if any had gone.
"""

POSTGRES_COPY = """
UPDATE directory_serviceatlocation AS link
SET latitude = location.latitude, longitude = location.longitude
FROM directory_location AS location WHERE location.id = link.location_id
"""
POSTGRES_TRIGGERS = """
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
POSTGRES_DROP = """
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
SQLITE_COPY = """
    UPDATE directory_serviceatlocation SET
        latitude = (SELECT latitude FROM directory_location WHERE id = location_id),
        longitude = (SELECT longitude FROM directory_location WHERE id = location_id);
"""
SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER IF NOT EXISTS directory_link_point_insert
    AFTER INSERT ON directory_serviceatlocation
    BEGIN {_LINK_TAKES_POINT} END;
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS directory_link_point_update
    AFTER UPDATE ON directory_serviceatlocation
    WHEN NEW.latitude IS NOT (SELECT latitude FROM directory_location WHERE id = NEW.location_id)
      OR NEW.longitude IS NOT (SELECT longitude FROM directory_location WHERE id = NEW.location_id)
    BEGIN {_LINK_TAKES_POINT} END;
    """,  # noqa: S608 (constant SQL)
    f"""
    CREATE TRIGGER IF NOT EXISTS directory_new_location_point AFTER INSERT ON directory_location
    BEGIN {_LOCATION_GIVES_POINT} END;
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS directory_moved_location_point
    AFTER UPDATE OF latitude, longitude ON directory_location
    BEGIN {_LOCATION_GIVES_POINT} END;
    """,
]
SQLITE_TRIGGER_NAMES = (
    "directory_link_point_insert",
    "directory_link_point_update",
    "directory_new_location_point",
    "directory_moved_location_point",
)


def install(schema_editor) -> None:
    """Copies the points and creates the triggers that keep them (the 0008 migration)."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_COPY)
        schema_editor.execute(POSTGRES_TRIGGERS)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_COPY)
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)


def uninstall(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)
    elif vendor == "sqlite":
        for name in SQLITE_TRIGGER_NAMES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


def sqlite_points_ensure(db_connection) -> bool:
    """Puts back the triggers a table rebuild dropped, and copies the points again if any were
    missing. Returns True when it had to repair. A no-op on PostgreSQL and before 0008."""
    if db_connection.vendor != "sqlite":
        return False
    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name IN (%s, %s, %s, %s)",
            list(SQLITE_TRIGGER_NAMES),
        )
        present = {row[0] for row in cursor.fetchall()}
        columns = {
            column.name
            for column in db_connection.introspection.get_table_description(
                cursor, "directory_serviceatlocation"
            )
        }
        if "latitude" not in columns or present >= set(SQLITE_TRIGGER_NAMES):
            return False
        cursor.execute(SQLITE_COPY)
        for statement in SQLITE_TRIGGERS:
            cursor.execute(statement)
    return True
