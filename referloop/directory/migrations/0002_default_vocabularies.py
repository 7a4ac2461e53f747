from django.db import migrations


def create_vocabularies(apps, schema_editor):
    from referloop.directory.vocabulary import VOCABULARIES

    Taxonomy = apps.get_model("directory", "Taxonomy")
    TaxonomyTerm = apps.get_model("directory", "TaxonomyTerm")
    for name, (description, terms) in VOCABULARIES.items():
        taxonomy, _ = Taxonomy.objects.get_or_create(
            name=name, defaults={"description": description}
        )
        for code, label in terms:
            TaxonomyTerm.objects.get_or_create(
                taxonomy=taxonomy, code=code, defaults={"name": label, "description": label}
            )


class Migration(migrations.Migration):
    dependencies = [("directory", "0001_initial")]
    operations = [migrations.RunPython(create_vocabularies, migrations.RunPython.noop)]
