"""`referloop import capacity FILE --agency SLUG` (dispatched from core by the dotted path in
settings.REFERLOOP_IMPORTERS)."""

from referloop.core.imports.run import (
    add_import_arguments,
    command_agency,
    progress_bar,
    report_out,
)
from referloop.directory.capacity_feed.importer import capacity_feed_import


def import_command(
    *,
    command,
    path: str,
    agency: str,
    mapping: str | None = None,
    as_of: str | None = None,
    partial: bool = False,
    dry_run: bool = False,
    report: str | None = None,
    **options,
):
    """Import bed/slot counts (CSV or XLSX) into the listings an agency runs, with their history."""
    agency_row = command_agency(agency)
    with progress_bar(command) as progress:
        result = capacity_feed_import(
            path=path,
            agency=agency_row,
            mapping_path=mapping,
            as_of=as_of,
            partial=partial,
            dry_run=dry_run,
            progress=progress,
        )
    report_out(command, result, report_path=report)


def _import_arguments(parser) -> None:
    parser.add_argument(
        "--agency", metavar="SLUG", required=True, help="the agency whose listings the file counts"
    )
    parser.add_argument(
        "--as-of",
        metavar="WHEN",
        help="when the counts were taken, for rows without a date (e.g. 2025-10-14 or "
        "'2025-10-14 08:00', the agency's time)",
    )
    add_import_arguments(parser, mapping=True)


import_command.add_arguments = _import_arguments
