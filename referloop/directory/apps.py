from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _fulltext_repair(sender, using, **kwargs):
    # SQLite loses the full-text sync triggers whenever a migration rebuilds directory_service.
    from django.db import connections

    from referloop.directory.fulltext import sqlite_fts_ensure

    sqlite_fts_ensure(connections[using])


class DirectoryConfig(AppConfig):
    name = "referloop.directory"
    label = "directory"
    verbose_name = "Resource directory"

    def ready(self):
        post_migrate.connect(
            _fulltext_repair, sender=self, dispatch_uid="directory_fulltext_repair"
        )
