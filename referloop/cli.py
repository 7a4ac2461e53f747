"""The `referloop` command: every Django management command under one name, so nobody needs
manage.py (`referloop migrate`, `referloop shell -c …`, `referloop demo`, `referloop serve`)."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "referloop.settings")
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "referloop"
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError, ProgrammingError

    try:
        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"referloop: configuration error: {exc}\n")
        sys.exit(2)
    except (OperationalError, ProgrammingError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(
            f"referloop: database error: {first_line} (is the database reachable and migrated? "
            "try `referloop migrate`)\n"
        )
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
