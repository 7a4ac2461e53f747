"""Indexes on the directory search's default order (freshest first, then name) for active
services, per network and across networks, built on `models.service_freshness()` — the very
expression search ranks by, so PostgreSQL reads a page of "nothing asked" / "need" straight from
the index instead of sorting every service. Indexes only: nothing to backfill."""

import datetime

import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_audit_append_only"),
        ("directory", "0004_postal_codes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="service",
            index=models.Index(
                models.F("network"),
                models.OrderBy(
                    django.db.models.functions.comparison.Greatest(
                        django.db.models.functions.comparison.Coalesce(
                            "last_verified_at",
                            models.Value(datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.UTC)),
                        ),
                        django.db.models.functions.comparison.Coalesce(
                            "capacity_updated_at",
                            models.Value(datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.UTC)),
                        ),
                    ),
                    descending=True,
                ),
                models.F("name"),
                models.F("id"),
                condition=models.Q(("status", "active")),
                name="service_fresh_network",
            ),
        ),
        migrations.AddIndex(
            model_name="service",
            index=models.Index(
                models.OrderBy(
                    django.db.models.functions.comparison.Greatest(
                        django.db.models.functions.comparison.Coalesce(
                            "last_verified_at",
                            models.Value(datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.UTC)),
                        ),
                        django.db.models.functions.comparison.Coalesce(
                            "capacity_updated_at",
                            models.Value(datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.UTC)),
                        ),
                    ),
                    descending=True,
                ),
                models.F("name"),
                models.F("id"),
                condition=models.Q(("status", "active")),
                name="service_fresh_public",
            ),
        ),
    ]
