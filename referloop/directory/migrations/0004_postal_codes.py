"""US ZIP code centroids from the `zipcodes` package (offline), so distance from a ZIP code needs
no geocoder at run time. ~42,000 rows; re-running adds only what is missing.

One parameterized `executemany` in batches of 5,000 rather than `bulk_create`: Django's per-value
preparation made bulk_create take ~2.5 s here (this runs whenever a test database is built);
the statement below takes a fraction of that on both engines.
"""

from itertools import islice

from django.db import migrations

BATCH = 5000
COLUMNS = ("country", "code", "latitude", "longitude", "city", "state")


def load(apps, schema_editor):
    from referloop.directory.postal import us_zip_rows

    PostalCode = apps.get_model("directory", "PostalCode")
    quote = schema_editor.quote_name
    # Identifiers come from the model, values are parameters; ON CONFLICT works on both engines.
    sql = "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING".format(  # noqa: S608
        quote(PostalCode._meta.db_table),
        ", ".join(quote(PostalCode._meta.get_field(name).column) for name in COLUMNS),
        ", ".join(["%s"] * len(COLUMNS)),
    )
    rows = (tuple(row[name] for name in COLUMNS) for row in us_zip_rows())
    with schema_editor.connection.cursor() as cursor:
        while batch := list(islice(rows, BATCH)):
            cursor.executemany(sql, batch)


def unload(apps, schema_editor):
    PostalCode = apps.get_model("directory", "PostalCode")
    PostalCode.objects.using(schema_editor.connection.alias).filter(country="US").delete()


class Migration(migrations.Migration):
    dependencies = [("directory", "0003_search_index")]
    operations = [migrations.RunPython(load, unload)]
