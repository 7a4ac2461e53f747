"""The shape every import shares: one transaction (all or nothing unless `--partial`; rolled back
for `--dry-run`), the command-line options, a progress bar on a terminal, the report on screen
and in `--report FILE`, and idempotency keys for rows that come without an id of their own."""

import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.management.base import CommandError
from django.db import DatabaseError, transaction

from referloop.core.imports.report import ImportReport, Problem
from referloop.core.models import Agency

Progress = Callable[[int, int, str], None]
MAX_GROUPS_SHOWN = 30  # per severity: a report fits on a screen however many rows went wrong

# Namespace of the ids derived from a row's content (taxonomy terms known only by name...).
IMPORT_NAMESPACE = uuid.UUID("0b6a3f55-3c2e-4f7e-9a51-6c1f2d8e4b70")


def stable_id(*parts: str) -> str:
    """The same id for the same parts, in every import and on every machine: what re-imports
    of a file whose rows have no id match on (so a second import changes nothing)."""
    key = "\x1f".join(" ".join(str(part).split()).casefold() for part in parts)
    return str(uuid.uuid5(IMPORT_NAMESPACE, key))


class Rollback(Exception):
    """Raised inside `import_transaction` to undo everything written so far."""


@contextmanager
def import_transaction(report: ImportReport) -> Iterator[None]:
    """One transaction for the import's writes. It commits (and marks the report written) unless
    the import is a dry run, has errors without `partial`, raises Rollback, or the database
    refuses a write; then nothing stays, and the report says so."""
    try:
        with transaction.atomic():
            yield
            if report.dry_run or (report.errors and not report.partial):
                raise Rollback
    except Rollback:
        report.written = False
        if not report.dry_run:
            report.counts.clear()
        return
    except DatabaseError as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        report.written = False
        report.counts.clear()
        report.problems.append(
            Problem(
                report.source,
                None,
                "",
                f"the database refused the import ({first_line}); nothing was written",
            )
        )
        return
    report.written = True


# --- the command line ------------------------------------------------------------------------


def add_import_arguments(parser, *, partial: bool = True, mapping: bool = False) -> None:
    """The options every `referloop import KIND` takes."""
    if partial:
        parser.add_argument(
            "--partial",
            action="store_true",
            help="import the valid rows and report the others (default: all or nothing)",
        )
    parser.add_argument(
        "--dry-run", action="store_true", help="check everything and report; change nothing"
    )
    parser.add_argument(
        "--report",
        metavar="FILE",
        help="also write the report to FILE: JSON (totals, problems grouped by cause, every "
        "problem), or one problem per line for a name ending in .csv",
    )
    if mapping:
        parser.add_argument(
            "--mapping",
            metavar="FILE",
            help="JSON object or two-column CSV: our column name -> your file's header",
        )


def command_agency(slug: str) -> Agency:
    """The agency an import's `--agency SLUG` names; CommandError (listing some) if none is."""
    agency = Agency.objects.select_related("network").filter(slug=slug).first()
    if agency is None:
        known = ", ".join(Agency.objects.order_by("slug").values_list("slug", flat=True)[:20])
        raise CommandError(
            f"agency: no agency '{slug}'" + (f" (there are: {known})" if known else "")
        )
    return agency


def _stream(wrapper):
    # Django's OutputWrapper ends every write with a newline; a progress bar needs the raw stream.
    return getattr(wrapper, "_out", wrapper) or sys.stderr


@contextmanager
def progress_bar(command) -> Iterator[Progress | None]:
    """A progress callback drawing a bar on a terminal (None elsewhere: logs stay clean)."""
    stderr = _stream(command.stderr)
    if not (hasattr(stderr, "isatty") and stderr.isatty()):
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=0, file=stderr, unit="row", leave=False, dynamic_ncols=True, mininterval=0.5)

    def progress(done: int, total: int, stage: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_description(stage)
        bar.refresh()

    try:
        yield progress
    finally:
        bar.close()


def report_out(
    command, report: ImportReport, *, report_path: str | None = None, can_partial: bool = True
) -> None:
    """Prints the report (summary on stdout; problems grouped by cause and the totals on
    stderr), writes `--report FILE`, and fails the command when there were errors."""
    for line in report.summary_lines():
        command.stdout.write(line)
    for line in report.problem_lines(limit=MAX_GROUPS_SHOWN):
        command.stderr.write(line)
    command.stdout.write(report.totals_line())
    if report_path:
        try:
            report.write(report_path)
        except OSError as exc:
            raise CommandError(
                f"report: cannot write {report_path}: {exc.strerror or exc}"
            ) from None
    errors = len(report.errors)
    if not errors:
        return
    if report.written:
        raise CommandError(
            f"{errors:,} error(s): those rows were left out, the valid rows were imported "
            "(--partial)"
        )
    if not report.read:  # the input as a whole: its one error says it all
        raise CommandError(f"{report.title} failed: {report.errors[0]}")
    hint = (
        ", or pass --partial to import the valid rows" if can_partial and not report.partial else ""
    )
    raise CommandError(
        f"{report.title} failed with {errors:,} error(s); nothing was written "
        f"(fix the rows above{hint})"
    )
