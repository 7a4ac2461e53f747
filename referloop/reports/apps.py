import statistics

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class _Median:
    """SQLite's `median(x)` aggregate, as PostgreSQL's percentile_cont(0.5) computes it."""

    def __init__(self):
        self.values = []

    def step(self, value):
        if value is not None:
            self.values.append(value)

    def finalize(self):
        return statistics.median(self.values) if self.values else None


def _sqlite_median(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("median", 1, _Median)


class ReportsConfig(AppConfig):
    name = "referloop.reports"
    label = "reports"
    verbose_name = "Metrics and reports"

    def ready(self):
        connection_created.connect(_sqlite_median, dispatch_uid="referloop-sqlite-median")
