import getpass
import os
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from referloop.core import services
from referloop.core.errors import DomainError
from referloop.core.models import Agency
from referloop.core.permissions import Role


class Command(BaseCommand):
    help = "Create a user in an agency with a role; password from REFERLOOP_PASSWORD or a prompt."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--agency", required=True, help="agency slug")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--name", default="", help="full name")

    def _password(self) -> str:
        password = os.environ.get("REFERLOOP_PASSWORD")
        if password:
            return password
        if not sys.stdin.isatty():
            raise CommandError("set REFERLOOP_PASSWORD (no terminal to prompt for a password)")
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("the two passwords differ")
        return first

    def handle(self, *args, email, agency, role, name, **options):
        agency_row = Agency.objects.filter(slug=agency).first()
        if agency_row is None:
            raise CommandError(f"agency: no agency with the slug '{agency}'")
        try:
            with transaction.atomic():
                user = services.user_create(email=email, password=self._password(), full_name=name)
                services.membership_grant(user=user, agency=agency_row, role=role)
        except DomainError as error:
            raise CommandError(
                f"{error.field}: {error.message}" if error.field else error.message
            ) from None
        self.stdout.write(f"Created {user.email} as {Role(role).label} in {agency_row.name}")
