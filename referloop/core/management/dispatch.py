"""`referloop import KIND PATH` / `referloop export KIND PATH`: one command per direction, one
sub-command per KIND, dispatched by dotted path from settings (REFERLOOP_IMPORTERS /
REFERLOOP_EXPORTERS), so `core` never imports the apps that implement the kinds.

A handler is a callable `handler(*, command, path, **options)` that raises CommandError on
failure. Its docstring's first line is the KIND's help; if it has an `add_arguments(parser)`
attribute, that adds the KIND's own options (e.g. `--network`).
"""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string


def handlers(setting: str) -> dict:
    return {kind: import_string(path) for kind, path in getattr(settings, setting).items()}


class KindCommand(BaseCommand):
    setting = ""  # the settings dict of KIND -> dotted path
    verb = ""

    def add_arguments(self, parser):
        kinds = handlers(self.setting)
        sub = parser.add_subparsers(
            dest="kind",
            required=True,
            metavar="KIND",
            help=f"what to {self.verb}: {', '.join(kinds)}",
        )
        for kind, handler in kinds.items():
            summary = (handler.__doc__ or "").strip().splitlines()
            kind_parser = sub.add_parser(kind, help=summary[0] if summary else None)
            kind_parser.add_argument("path", metavar="PATH")
            if hasattr(handler, "add_arguments"):
                handler.add_arguments(kind_parser)

    def handle(self, *args, kind, path, **options):
        handlers(self.setting)[kind](command=self, path=path, **options)
