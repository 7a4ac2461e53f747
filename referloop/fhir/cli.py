"""`referloop import fhir FILE --agency SLUG` (a referral Bundle made to the agency) and
`referloop export fhir FILE --agency SLUG [--referral TRACKING_ID]` (the agency's referrals as
FHIR transaction Bundles: one JSON Bundle, or one per line for the whole agency), dispatched
from core by the dotted paths in settings."""

import sys

from django.core.management.base import CommandError

from referloop.core.imports.run import add_import_arguments, command_agency, report_out
from referloop.fhir import resources
from referloop.fhir.importer import bundle_import
from referloop.fhir.services import FhirError, referral_export
from referloop.referrals.models import Referral, Status


def import_command(
    *, command, path: str, agency: str, dry_run: bool = False, report: str | None = None, **options
):
    """Import a FHIR referral Bundle (ServiceRequest + Task) made to an agency."""
    result = bundle_import(agency=command_agency(agency), actor=None, path=path, dry_run=dry_run)
    if result.inbound is not None:
        result.report.notes.append(
            f"Referral {result.inbound.tracking_id}: Task/{resources.inbound_id(result.inbound)}"
        )
    report_out(command, result.report, report_path=report, can_partial=False)


def _import_arguments(parser) -> None:
    parser.add_argument(
        "--agency", metavar="SLUG", required=True, help="the agency the referral is made to"
    )
    add_import_arguments(parser, partial=False)  # one referral: all of it or nothing


import_command.add_arguments = _import_arguments


def export_command(*, command, path: str, agency: str, referral: str | None = None, **options):
    """Export referrals an agency sent as FHIR transaction Bundles (consent checked)."""
    agency_row = command_agency(agency)
    sent = Referral.objects.for_agency(agency_row).exclude(status=Status.DRAFT).order_by("pk")
    if referral is not None:
        sent = sent.filter(tracking_id=referral.strip())
        if not sent.exists():
            raise CommandError(f"referral: {agency_row.name} sent no referral '{referral[:40]}'")
    lines, refused = [], []
    for row in sent.iterator(chunk_size=200):
        try:
            lines.append(resources.as_json(referral_export(referral=row, by=None)))
        except FhirError as error:
            refused.append(f"{row.tracking_id}: {error.diagnostics}")
    if referral is not None and refused:
        raise CommandError(f"referral {refused[0]}")
    out = sys.stdout.buffer if path == "-" else open(path, "wb")  # noqa: SIM115
    try:
        out.write(b"\n".join(lines) + (b"\n" if lines else b""))
    except OSError as error:
        raise CommandError(f"{path}: {error.strerror}") from None
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    for line in refused[:20]:
        command.stderr.write(f"not exported (consent): {line}")
    command.stderr.write(
        f"Exported {len(lines):,} referral(s)" + (f"; {len(refused):,} left out" if refused else "")
    )


def _export_arguments(parser) -> None:
    parser.add_argument("--agency", metavar="SLUG", required=True, help="the sending agency")
    parser.add_argument(
        "--referral", metavar="TRACKING_ID", help="only this referral (one JSON Bundle)"
    )


export_command.add_arguments = _export_arguments
