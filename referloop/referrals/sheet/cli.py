"""`referloop import referrals FILE` and `referloop export referrals FILE`: the tracking sheet
(dispatched from core by the dotted paths in settings.REFERLOOP_IMPORTERS / REFERLOOP_EXPORTERS).
The columns are described in referloop.referrals.sheet."""

from pathlib import Path

from django.core.management.base import CommandError

from referloop.core.imports.columns import header_key
from referloop.core.imports.run import add_import_arguments, progress_bar, report_out
from referloop.core.models import Agency, Membership
from referloop.referrals.models import Referral, Status
from referloop.referrals.sheet.columns import STATUS_BY_WORD
from referloop.referrals.sheet.export import export_audit, sheet_write
from referloop.referrals.sheet.write import referrals_sheet_import


def _agency(slug: str) -> Agency:
    agency = Agency.objects.select_related("network").filter(slug=slug).first()
    if agency is None:
        known = ", ".join(Agency.objects.order_by("slug").values_list("slug", flat=True)[:20])
        raise CommandError(
            f"agency: no agency '{slug}'" + (f" (there are: {known})" if known else "")
        )
    return agency


def _owner(agency: Agency, email: str | None):
    if not email:
        return None
    membership = (
        Membership.objects.select_related("user")
        .filter(agency=agency, user__email__iexact=email.strip(), is_active=True)
        .filter(user__is_active=True)
        .first()
    )
    if membership is None:
        raise CommandError(f"owner: {email} is not an active member of {agency.name}")
    return membership.user


def import_command(
    *,
    command,
    path: str,
    agency: str,
    owner: str | None = None,
    mapping: str | None = None,
    create_partners: bool = False,
    partial: bool = False,
    dry_run: bool = False,
    report: str | None = None,
    **options,
):
    """Import a referral tracking sheet (CSV or XLSX) into an agency."""
    agency_row = _agency(agency)
    default_owner = _owner(agency_row, owner)
    with progress_bar(command) as progress:
        result = referrals_sheet_import(
            path=path,
            agency=agency_row,
            default_owner=default_owner,
            mapping_path=mapping,
            create_partners=create_partners,
            partial=partial,
            dry_run=dry_run,
            progress=progress,
        )
    report_out(command, result, report_path=report)


def _import_arguments(parser) -> None:
    parser.add_argument("--agency", metavar="SLUG", required=True, help="the agency's slug")
    parser.add_argument(
        "--owner",
        metavar="EMAIL",
        help="owner of rows without one (needed when the sheet has no Owner column)",
    )
    parser.add_argument(
        "--create-partners",
        action="store_true",
        help="add partners the directory does not list yet (instead of reporting them)",
    )
    add_import_arguments(parser, mapping=True)


import_command.add_arguments = _import_arguments


def _statuses(words: list[str] | None) -> list[str]:
    """--status values: our codes or the words people use ("sent", "declined", "no show")."""
    statuses = []
    for word in words or []:
        for part in word.split(","):
            if not part.strip():
                continue
            status = STATUS_BY_WORD.get(header_key(part))
            if status is None:
                raise CommandError(
                    f"status: '{part.strip()}' is not a status ({', '.join(Status.values[1:])})"
                )
            statuses.append(status)
    return statuses


def export_command(*, command, path: str, agency: str, status=None, **options):
    """Export an agency's referrals as a tracking sheet (.xlsx, or CSV for other names)."""
    agency_row = _agency(agency)
    referrals = Referral.objects.for_agency(agency_row).exclude(status=Status.DRAFT)
    statuses = _statuses(status)
    if statuses:
        referrals = referrals.filter(status__in=statuses)
    target = Path(path)
    try:
        count = sheet_write(referrals, target, agency=agency_row)
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None
    export_audit(agency=agency_row, path=target, rows=count)
    command.stdout.write(
        f"Exported {count} referrals of {agency_row.name} to {target}. The file names clients: "
        "keep it as safe as the agency's other client records."
    )


def _export_arguments(parser) -> None:
    parser.add_argument("--agency", metavar="SLUG", required=True, help="the agency's slug")
    parser.add_argument(
        "--status",
        action="append",
        metavar="STATUS",
        help="only referrals with this status (repeat, or separate with commas)",
    )


export_command.add_arguments = _export_arguments
