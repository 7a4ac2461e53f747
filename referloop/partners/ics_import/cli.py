"""`referloop import ics FILE --agency SLUG` (dispatched from core by the dotted path in
settings.REFERLOOP_IMPORTERS)."""

from referloop.core.imports.run import add_import_arguments, command_agency, report_out
from referloop.partners.ics_import.importer import ics_import


def import_command(
    *, command, path: str, agency: str, dry_run: bool = False, report: str | None = None, **options
):
    """Import attendees' answers (an .ics with METHOD:REPLY) into an agency's meetings."""
    result = ics_import(agency=command_agency(agency), path=path, dry_run=dry_run)
    report_out(command, result, report_path=report, can_partial=False)


def _import_arguments(parser) -> None:
    parser.add_argument(
        "--agency", metavar="SLUG", required=True, help="the agency whose meetings were answered"
    )
    # All or nothing only: half an answer file would leave attendees' answers out of step.
    add_import_arguments(parser, partial=False)


import_command.add_arguments = _import_arguments
