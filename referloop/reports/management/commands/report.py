"""`referloop report metrics --agency SLUG [--from DATE] [--to DATE] [--direction inbound]
[--format table|csv|json]`: the closed-loop metrics on the command line."""

import csv
import json

from django.core.management.base import BaseCommand, CommandError

from referloop.core.errors import DomainError
from referloop.core.models import Agency
from referloop.reports import metrics


class Command(BaseCommand):
    help = "Reports: `referloop report metrics --agency SLUG --from DATE --to DATE`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="report", required=True, metavar="REPORT")
        report = sub.add_parser("metrics", help="the six closed-loop metrics for a period")
        report.add_argument("--agency", required=True, help="the agency's slug")
        report.add_argument("--from", dest="start", default="", help="first day, YYYY-MM-DD")
        report.add_argument("--to", dest="end", default="", help="last day, YYYY-MM-DD")
        report.add_argument("--direction", default=metrics.OUTBOUND, choices=metrics.DIRECTIONS)
        report.add_argument("--format", default="table", choices=["table", "csv", "json"])

    def handle(self, *args, report, agency, start, end, direction, format, **options):
        found = Agency.objects.filter(slug=agency).first()
        if found is None:
            raise CommandError(f"No agency with the slug {agency!r}.")
        try:
            query = metrics.query_from({"start": start, "end": end, "direction": direction}, found)
        except DomainError as error:
            option = "--from" if error.field == "start" else "--to"
            raise CommandError(f"{option}: {error.message}") from None
        result = metrics.closed_loop_metrics(query)
        if format == "json":
            self.stdout.write(
                json.dumps(metrics.metrics_document(query, result), indent=2, default=str)
            )
        elif format == "csv":
            writer = csv.writer(self.stdout)
            writer.writerow(metrics.SHEET_HEADERS)
            writer.writerows(metrics.sheet_rows(result))
        else:
            self.stdout.write(
                f"{found.name}: {result.sent} referrals sent {query.period.start} to "
                f"{query.period.end} ({metrics.DIRECTIONS[direction].lower()})"
            )
            for row in metrics.figures(result):
                self.stdout.write(
                    f"  {row['label']:<40} {row['shown']:>10}   {row['count']} of {row['of']}"
                )
            for reason in result.reasons:
                self.stdout.write(f"  Not accepted: {reason.label:<26} {reason.count:>10}")
