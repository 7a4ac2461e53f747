"""The full-text index of Service.search_text: a GIN index on PostgreSQL, an FTS5 external-content
table kept in step by triggers on SQLite. The SQL lives in `directory.fulltext`, which also
repairs the SQLite triggers after a table rebuild."""

from django.db import migrations


def forward(apps, schema_editor):
    from referloop.directory import fulltext

    fulltext.install(schema_editor)


def backward(apps, schema_editor):
    from referloop.directory import fulltext

    fulltext.uninstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("directory", "0002_default_vocabularies")]
    operations = [migrations.RunPython(forward, backward)]
