"""`capacity_feed_import`: a feed read, checked and recorded in one transaction."""

from pathlib import Path

from django.utils import timezone

from referloop.core.audit import audit_record
from referloop.core.imports.readers import read_table
from referloop.core.imports.report import ImportReport, InputError, input_error
from referloop.core.imports.run import Progress, import_transaction
from referloop.core.timeutils import agency_zone
from referloop.directory.capacity_feed.check import NOT_READ_SHOWN, feed_check
from referloop.directory.capacity_feed.columns import FeedMapping, mapping_read
from referloop.directory.capacity_feed.values import BadValue, Moments
from referloop.directory.services import capacity_readings_record

TABLE = "capacity readings"


def capacity_feed_import(
    *,
    path: str | Path,
    agency,
    mapping_path: str | Path | None = None,
    as_of: str | None = None,
    partial: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Imports a capacity feed (CSV or XLSX) into the listings `agency` runs: each row's counts
    become readings at the row's time (`as_of` — any date the file could hold — for rows without
    one), and each unit's current count its latest. Every row is checked before anything is
    written; all or nothing unless `partial`; `dry_run` rolls everything back."""
    path = Path(path)
    report = ImportReport(
        source=path.name, title="Capacity import", partial=partial, dry_run=dry_run
    )
    zone, now = agency_zone(agency), timezone.now()
    try:
        mapping = mapping_read(mapping_path) if mapping_path else FeedMapping()
        moment = _as_of(as_of, zone, now)
        table = read_table(path)
        report.problems.extend(table.problems)
        checked = feed_check(
            table=table,
            mapping=mapping,
            agency=agency,
            zone=zone,
            as_of=moment,
            now=now,
            problems=report.problems,
            progress=progress,
        )
    except InputError as error:
        report.problems.append(error.problem)
        return report
    report.read = len(table.rows)
    if checked.not_read:
        shown = ", ".join(checked.not_read[:NOT_READ_SHOWN])
        more = len(checked.not_read) - NOT_READ_SHOWN
        report.notes.append(
            f"Columns not read: {shown}" + (f" and {more} more" if more > 0 else "")
        )
    with import_transaction(report):
        if report.ok or partial:  # else nothing is written, and the report says so
            _record(report, agency=agency, checked=checked, progress=progress)
    return report


def _record(report: ImportReport, *, agency, checked, progress: Progress | None) -> None:
    if progress is not None:
        progress(0, len(checked.readings), "writing")
    recorded = capacity_readings_record(network=agency.network, readings=checked.readings)
    counts = report.count(TABLE)
    counts.created, counts.updated = recorded.created, recorded.corrected
    counts.unchanged, counts.rejected = recorded.unchanged, checked.rejected_rows
    report.notes.append(
        f"Current counts: {recorded.units_added:,} unit(s) added, {recorded.current_moved:,} "
        f"moved to a newer count, {recorded.current_kept:,} kept (as recent in Referloop)"
    )
    if checked.units_not_added:
        report.notes.append(
            f"{checked.units_not_added:,} kind(s) counted as none (0 of 0) were not added to "
            "listings that do not have them"
        )
    audit_record(
        action="import",
        agency=agency,
        object_type="directory.capacity_feed",
        object_id=report.source[:64],
        detail={"file": report.source, "partial": report.partial, **counts.as_dict()},
    )


def _as_of(text: str | None, zone, now):
    """`--as-of`: read as the file's dates are (a date alone is the start of that day)."""
    if text is None:
        return None
    try:
        moment = Moments(zone).read(text)
    except BadValue as bad:
        raise input_error("--as-of", bad.reason) from None
    if moment > now:
        raise input_error("--as-of", f"'{text}' is in the future")
    return moment
