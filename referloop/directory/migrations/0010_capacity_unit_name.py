# A service counts a unit once, or several kinds of it under their own names (HSDS 3.1 unit.name):
# the name joins the unique key, blank for the capacities there are.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0009_service_public_tiers"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="servicecapacity",
            name="capacity_service_unit_unique",
        ),
        migrations.AddField(
            model_name="servicecapacity",
            name="name",
            field=models.CharField(
                blank=True,
                help_text="The kind of bed or place, as the agency calls it (e.g. Men's beds); "
                "blank for the unit alone.",
                max_length=100,
            ),
        ),
        migrations.AddConstraint(
            model_name="servicecapacity",
            constraint=models.UniqueConstraint(
                fields=("service", "unit", "name"), name="capacity_service_unit_unique"
            ),
        ),
    ]
