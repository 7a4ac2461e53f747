"""`referloop import hubspot FILE` and `referloop export hubspot FILE` (dispatched from core by the
dotted paths in settings.REFERLOOP_IMPORTERS / REFERLOOP_EXPORTERS). The columns are described
in referloop.partners.hubspot."""

from pathlib import Path

from django.core.management.base import CommandError

from referloop.core.imports.run import (
    add_import_arguments,
    command_agency,
    progress_bar,
    report_out,
)
from referloop.partners.hubspot.columns import CONTACTS, KINDS
from referloop.partners.hubspot.export import hubspot_write
from referloop.partners.hubspot.write import hubspot_import


def import_command(
    *,
    command,
    path: str,
    agency: str,
    records: str | None = None,
    mapping: str | None = None,
    partial: bool = False,
    dry_run: bool = False,
    report: str | None = None,
    **options,
):
    """Import a HubSpot contacts or companies export (CSV, XLSX or ZIP) as an agency's partners."""
    agency_row = command_agency(agency)
    with progress_bar(command) as progress:
        result = hubspot_import(
            path=path,
            agency=agency_row,
            kind=records,
            mapping_path=mapping,
            partial=partial,
            dry_run=dry_run,
            progress=progress,
        )
    report_out(command, result, report_path=report)


def _kind_argument(parser, *, default: str | None, help: str) -> None:
    # Not `kind`: the dispatcher's KIND (hubspot) is already that.
    parser.add_argument("--kind", dest="records", choices=KINDS, default=default, help=help)


def _import_arguments(parser) -> None:
    parser.add_argument("--agency", metavar="SLUG", required=True, help="the agency's slug")
    _kind_argument(parser, default=None, help="what the file holds (default: told by its header)")
    add_import_arguments(parser, mapping=True)


import_command.add_arguments = _import_arguments


def export_command(*, command, path: str, agency: str, records: str = CONTACTS, **options):
    """Export an agency's HubSpot contacts or companies as a HubSpot-shaped CSV file."""
    agency_row = command_agency(agency)
    target = Path(path)
    try:
        count = hubspot_write(target, agency=agency_row, kind=records)
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None
    command.stdout.write(f"Exported {count:,} HubSpot {records} of {agency_row.name} to {target}.")


def _export_arguments(parser) -> None:
    parser.add_argument("--agency", metavar="SLUG", required=True, help="the agency's slug")
    _kind_argument(parser, default=CONTACTS, help="contacts (default) or companies")


export_command.add_arguments = _export_arguments
