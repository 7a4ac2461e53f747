from django.core.management.base import BaseCommand, CommandError

from referloop.core.errors import DomainError
from referloop.core.models import Agency
from referloop.demo.build import DEMO_PASSWORD, SIZES, demo_build, demo_logins


class Command(BaseCommand):
    help = "(Re)build the deterministic demo network and print its logins."

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=list(SIZES), default="small")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="build only when the database has no agency yet (what `make run` does)",
        )

    def handle(self, *args, size, seed, if_empty, **options):
        if if_empty and Agency.objects.exists():
            self.stdout.write("The database already has agencies; demo data left as it is.")
        else:
            self.stdout.write(f"Building the {size} demo network (seed {seed})…")
            try:
                demo_build(size=size, seed=seed)
            except DomainError as error:
                raise CommandError(f"{error.message} The demo network was not built.") from None
            self.stdout.write(self.style.SUCCESS("Demo network ready."))
        logins = demo_logins()
        if not logins:
            return
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
        agency = None
        for login in logins:
            if login.agency != agency:
                agency = login.agency
                self.stdout.write(f"  {agency}")
            self.stdout.write(f"    {login.role:<22} {login.email}")
