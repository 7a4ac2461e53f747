"""Primary keys for rows written in bulk, known before the rows are: the demo builder and the
HSDS importer link rows to rows they have not inserted yet, without reading keys back."""

from django.db import DEFAULT_DB_ALIAS, connections


def reserve_ids(model, count: int, *, using: str = DEFAULT_DB_ALIAS) -> list[int]:
    """Primary keys for `count` new rows, taken from the table's own sequence so concurrent
    inserts (and later ones through the ORM) never collide with them."""
    if count <= 0:
        return []
    connection = connections[using]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        # SQLite (AUTOINCREMENT): move the table's counter past the block we take.
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        cursor.execute(f"SELECT MAX(id) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        top = max(row[0] if row else 0, cursor.fetchone()[0] or 0)
        if row:
            cursor.execute(
                "UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [top + count, table]
            )
        else:
            cursor.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, top + count]
            )
    return list(range(top + 1, top + count + 1))
