"""Each service-at-location carries its location's point, kept by the database: the SQL lives
in `directory.points`, which also repairs the SQLite triggers after a table rebuild."""

from django.db import migrations, models


def forward(apps, schema_editor):
    from referloop.directory import points

    points.install(schema_editor)


def backward(apps, schema_editor):
    from referloop.directory import points

    points.uninstall(schema_editor)


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
