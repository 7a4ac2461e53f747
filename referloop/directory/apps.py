from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sqlite_triggers_repair(sender, using, **kwargs):
    # SQLite loses a table's triggers whenever a migration rebuilds it: the full-text sync of
    # directory_service, and the location points of directory_serviceatlocation/_location.
    from django.db import connections

    from referloop.directory.fulltext import sqlite_fts_ensure
    from referloop.directory.points import sqlite_points_ensure

    sqlite_fts_ensure(connections[using])
    sqlite_points_ensure(connections[using])


class DirectoryConfig(AppConfig):
    name = "referloop.directory"
    label = "directory"
    verbose_name = "Resource directory"

    def ready(self):
        post_migrate.connect(
            _sqlite_triggers_repair, sender=self, dispatch_uid="directory_sqlite_triggers_repair"
        )
