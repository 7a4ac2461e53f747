from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from referloop.core import services
from referloop.core.errors import DomainError
from referloop.core.models import Network


class Command(BaseCommand):
    help = "Create an agency (a tenant), and its network if that does not exist yet."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True)
        parser.add_argument(
            "--network", default="default", help="network slug (default: %(default)s)"
        )
        parser.add_argument("--timezone", default=settings.DEFAULT_AGENCY_TIME_ZONE)

    def handle(self, *args, name, slug, network, timezone, **options):
        try:
            # One transaction: a refused agency must not leave a new, empty network behind.
            with transaction.atomic():
                network_row = Network.objects.filter(
                    slug=network
                ).first() or services.network_create(
                    name=network.replace("-", " ").title(), slug=network
                )
                agency = services.agency_create(
                    name=name, slug=slug, network=network_row, time_zone=timezone
                )
        except DomainError as error:
            raise CommandError(
                f"{error.field}: {error.message}" if error.field else error.message
            ) from None
        self.stdout.write(
            f"Created agency {agency.name} ({agency.slug}) in network {network_row.slug}"
        )
