from django.core.management.base import BaseCommand, CommandError

from referloop.core import services
from referloop.core.errors import DomainError
from referloop.core.models import Membership, User


class Command(BaseCommand):
    help = "Manage API tokens. `token create --user EMAIL` prints a new token alone on stdout."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = actions.add_parser("create", help="create a token for a user")
        create.add_argument("--user", required=True, help="the user's e-mail")
        create.add_argument("--agency", help="agency slug (needed when the user has several)")
        create.add_argument("--name", default="", help="a label to tell tokens apart")

    def handle(self, *args, action, user, agency, name, **options):
        user_row = User.objects.filter(email__iexact=user.strip(), is_active=True).first()
        if user_row is None:
            raise CommandError(f"user: no active user with the e-mail '{user}'")
        memberships = Membership.objects.filter(user=user_row, is_active=True).select_related(
            "agency"
        )
        if agency:
            memberships = memberships.filter(agency__slug=agency)
        memberships = list(memberships)
        if not memberships:
            raise CommandError(
                f"agency: {user_row.email} is not an active member of "
                + (f"'{agency}'" if agency else "any agency")
            )
        if len(memberships) > 1:
            slugs = ", ".join(m.agency.slug for m in memberships)
            raise CommandError(
                f"agency: {user_row.email} belongs to several agencies ({slugs}); pass --agency"
            )
        try:
            _, raw = services.api_token_create(
                user=user_row, agency=memberships[0].agency, name=name
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(raw)
