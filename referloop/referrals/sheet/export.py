"""The tracking sheet out: the agency's own referrals in the columns the import reads (so an
exported sheet imports again as "unchanged"), as CSV or XLSX, to a file or as a download, with
formula-safe cells. The file names clients: identifying information."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from django.utils import timezone

from referloop.core.audit import audit_record
from referloop.core.spreadsheets import csv_lines, download_response, xlsx_bytes
from referloop.core.timeutils import agency_zone
from referloop.referrals.sheet.columns import HEADERS


def export_queryset(queryset, *, agency):
    """The rows of an export: the agency's own sent referrals (a referral received from another
    agency is not ours to list with the client's name), read in one query plus one for needs."""
    return (
        queryset.filter(agency=agency)
        .select_related("client", "organization", "service", "owner", "disposition")
        .prefetch_related("needs")
        .order_by("sent_at", "pk")
    )


def _local_date(moment, zone) -> date | None:
    return timezone.localdate(moment, zone) if moment is not None else None


def export_rows(queryset, *, agency, chunk_size: int = 2000) -> Iterator[list]:
    """One list of cell values per referral, in the order of HEADERS (dates as dates)."""
    zone = agency_zone(agency)
    for referral in export_queryset(queryset, agency=agency).iterator(chunk_size=chunk_size):
        client = referral.client
        yield [
            referral.tracking_id,
            client.first_name,
            client.last_name,
            client.birth_date,
            _local_date(referral.sent_at, zone),
            referral.organization.name,
            referral.service.name if referral.service else "",
            referral.contact_name,
            referral.contact_email,
            referral.contact_phone,
            referral.owner.email,
            "; ".join(term.name for term in referral.needs.all()),
            referral.get_urgency_display(),
            referral.get_status_display(),
            referral.disposition.label if referral.disposition else "",
            referral.status_reason,
            _local_date(referral.received_at, zone),
            _local_date(referral.first_contact_at, zone),
            _local_date(referral.outcome_at, zone),
            referral.reason,
        ]


def sheet_write(queryset, path: str | Path, *, agency) -> int:
    """Writes the tracking sheet to `path` (.xlsx, else CSV); returns the number of referrals."""
    path = Path(path)
    count = 0

    def counted(rows):
        nonlocal count
        for row in rows:
            count += 1
            yield row

    rows = counted(export_rows(queryset, agency=agency))
    if path.suffix.lower() == ".xlsx":
        path.write_bytes(xlsx_bytes(HEADERS, rows, title="Referrals"))
    else:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.writelines(csv_lines(HEADERS, rows))
    return count


def sheet_response(queryset, fmt: str, *, agency, request=None, filename: str = "referrals"):
    """The tracking sheet as a download (fmt "csv", streamed, or "xlsx"), for the referral list:
    the agency's own referrals of `queryset` only. With `request`, the export is audited."""
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"unknown sheet format {fmt!r}")
    if request is not None:
        audit_record(
            action="export",
            request=request,
            agency=agency,
            object_type="referrals.tracking_sheet",
            detail={"format": fmt, "rows": export_queryset(queryset, agency=agency).count()},
        )
    return download_response(
        HEADERS, export_rows(queryset, agency=agency), fmt, filename=filename, title="Referrals"
    )


def export_audit(*, agency, path, rows: int, user=None) -> None:
    audit_record(
        action="export",
        user=user,
        agency=agency,
        object_type="referrals.tracking_sheet",
        object_id=Path(path).name[:64],
        detail={"file": Path(path).name, "rows": rows},
    )
