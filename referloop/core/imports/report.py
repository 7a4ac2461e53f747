"""What an import found and did: typed problems, counts per table, and a report a person can read
on one screen however many rows went wrong (problems are grouped by cause, with counts and the
first few examples), written to the terminal and, with `--report FILE`, as JSON or CSV."""

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from referloop.core.spreadsheets import formula_safe

ERROR = "error"  # the row (or, when row is None, the file) cannot be imported
WARNING = "warning"  # imported, but something was left out or read loosely: worth a look
DEFAULT = "default"  # a blank or unreadable value whose intent is clear got a documented default
SEVERITIES = (ERROR, WARNING, DEFAULT)
EXAMPLES = 3
# A reason names a row's own values in single quotes ("organization 'org-7' is not in this
# file"); without them it is the cause that rows share. List positions in a JSON path
# ("phones[2].number") are the row's own too.
_QUOTED = re.compile(r"'[^']*'")
_ROW_REFERENCE = re.compile(r"\brow \d+")
_INDEX = re.compile(r"\[\d+\]")


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem with one value: where it is (file, row, field), why, and what it was.

    `row` is the spreadsheet row for tabular files (the header is row 1) and the 1-based item for
    JSON (its `field` then gives the path inside the item, e.g. `phones[0].number`). `cause` is
    the reason without the row's own particulars ("references an organization that is not in
    the file"), so that problems of one cause group together; it is the reason when left out."""

    file: str
    row: int | None
    field: str
    reason: str
    severity: str = ERROR
    value: str = ""
    cause: str = ""

    def __post_init__(self) -> None:
        if not self.cause:
            cause = _ROW_REFERENCE.sub("row …", _QUOTED.sub("…", self.reason))
            object.__setattr__(self, "cause", cause)
        if not self.value and self.cause != self.reason:
            particulars = ", ".join(q.strip("'") for q in _QUOTED.findall(self.reason))
            object.__setattr__(self, "value", particulars)

    def __str__(self) -> str:
        return f"{self.where()}: {self.reason}"

    def where(self) -> str:
        where = [self.file or "input"]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(self.field)
        return ", ".join(where)

    @property
    def group_key(self) -> tuple[str, str, str, str]:
        return (self.severity, self.file, _INDEX.sub("[]", self.field), self.cause)

    def as_dict(self) -> dict:
        return {
            "severity": self.severity,
            "file": self.file,
            "row": self.row,
            "field": self.field,
            "reason": self.reason,
            "value": self.value,
        }


@dataclass(slots=True)
class ProblemGroup:
    severity: str
    file: str
    field: str
    cause: str
    count: int = 0
    examples: list[Problem] = field(default_factory=list)

    def line(self) -> str:
        where = ", ".join(filter(None, [self.file, self.field]))
        times = f"{self.count:,} × " if self.count > 1 else ""
        head = f"{times}{where}: {self.cause}" if where else f"{times}{self.cause}"
        if self.count == 1 and self.examples:
            return f"{self.examples[0]}" + _value_note(self.examples[0])
        shown = "; ".join(_example(problem) for problem in self.examples)
        more = "; …" if self.count > len(self.examples) else ""
        return f"{head} — e.g. {shown}{more}" if shown else head

    def as_dict(self) -> dict:
        return {
            "severity": self.severity,
            "file": self.file,
            "field": self.field,
            "cause": self.cause,
            "count": self.count,
            "examples": [problem.as_dict() for problem in self.examples],
        }


def _value_note(problem: Problem) -> str:
    return f" ({problem.value!r})" if problem.value and problem.value not in problem.reason else ""


def _example(problem: Problem) -> str:
    where = f"row {problem.row}" if problem.row is not None else (problem.file or "input")
    return f"{where} ({problem.value!r})" if problem.value else where


def group_problems(problems: Iterable[Problem], *, examples: int = EXAMPLES) -> list[ProblemGroup]:
    """Problems grouped by (severity, file, field, cause), errors first, then the biggest groups;
    each group keeps its first `examples` problems in file order."""
    groups: dict[tuple, ProblemGroup] = {}
    for problem in problems:
        key = problem.group_key
        group = groups.get(key)
        if group is None:
            group = groups[key] = ProblemGroup(*key)
        group.count += 1
        if len(group.examples) < examples:
            group.examples.append(problem)
    order = {severity: index for index, severity in enumerate(SEVERITIES)}
    return sorted(groups.values(), key=lambda g: (order.get(g.severity, 9), -g.count))


@dataclass(slots=True)
class TableCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def __str__(self) -> str:
        text = f"{self.created:,} created, {self.updated:,} updated, {self.unchanged:,} unchanged"
        return text + (f", {self.rejected:,} rejected" if self.rejected else "")

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


HEADINGS = {ERROR: "Errors", WARNING: "Warnings", DEFAULT: "Defaults applied"}


@dataclass
class ImportReport:
    """One import's outcome. `read` is the number of records read from the input; the counts
    per table say what became of them once written (with `partial`, `rejected` are the rows
    left out). Importers add their own lines with `notes` (what was detected) and by
    overriding `detail_lines`."""

    source: str
    title: str = "Import"
    partial: bool = False
    dry_run: bool = False
    written: bool = False
    read: int = 0
    counts: dict[str, TableCounts] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._kept: list[Problem] | None = None

    # --- problems ---

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def defaults(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == DEFAULT]

    @property
    def ok(self) -> bool:
        return not any(p.severity == ERROR for p in self.problems)

    def count(self, table: str) -> TableCounts:
        return self.counts.setdefault(table, TableCounts())

    def groups(self) -> list[ProblemGroup]:
        return group_problems(self.problems)

    # --- totals ---

    @property
    def would_write(self) -> bool:
        """A dry run that got to writing keeps its counts: what it would have written (all of
        it, or with --partial the valid rows)."""
        return bool(self.dry_run and self.counts and (self.ok or self.partial))

    def totals(self) -> dict[str, int]:
        counted = self.written or self.would_write
        imported = sum(c.total for c in self.counts.values()) if counted else 0
        skipped = sum(c.rejected for c in self.counts.values()) if counted else self.read
        return {
            "read": self.read,
            "imported": imported,
            "skipped": skipped,
            "defaulted": len(self.defaults),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
        }

    def totals_line(self) -> str:
        totals = self.totals()
        return (
            f"Read {totals['read']:,} · "
            + ("would import" if self.dry_run else "imported")
            + f" {totals['imported']:,} · "
            f"skipped {totals['skipped']:,} · defaults applied {totals['defaulted']:,} · "
            f"{totals['errors']:,} error(s), {totals['warnings']:,} warning(s)"
        )

    # --- text for a person ---

    def detail_lines(self) -> list[str]:
        """What was written, table by table (importers may say more)."""
        return [
            f"  {table}: {counts}"
            for table, counts in self.counts.items()
            if counts.total or counts.rejected
        ]

    def summary_lines(self) -> list[str]:
        lines = [f"{self.title} from {self.source}" + (" (dry run)" if self.dry_run else "")]
        lines.extend(self.notes)
        if self.written or self.would_write:
            lines.extend(self.detail_lines())
        if self.dry_run:
            lines.append("Dry run: nothing was changed.")
        elif not self.written and self.errors:
            lines.append("Nothing was written.")
        return lines

    def problem_lines(self, *, limit: int | None = None) -> list[str]:
        """The problems grouped by cause under one heading per severity; `limit` caps the groups
        shown per severity (the rest are counted)."""
        lines = []
        groups = self.groups()
        for severity in SEVERITIES:
            mine = [g for g in groups if g.severity == severity]
            if not mine:
                continue
            total = sum(g.count for g in mine)
            causes = f", {len(mine)} cause{'s' if len(mine) > 1 else ''}" if total > 1 else ""
            lines.append(f"{HEADINGS[severity]} ({total:,}{causes}):")
            shown = mine if limit is None else mine[:limit]
            lines.extend(f"  {group.line()}" for group in shown)
            if len(shown) < len(mine):
                rest = sum(g.count for g in mine[len(shown) :])
                lines.append(f"  … and {len(mine) - len(shown)} more causes ({rest:,} rows)")
        return lines

    # --- the --report file ---

    def as_dict(self) -> dict:
        return {
            "title": self.title,
            "source": self.source,
            "partial": self.partial,
            "dry_run": self.dry_run,
            "written": self.written,
            "notes": self.notes,
            "totals": self.totals(),
            "tables": {table: counts.as_dict() for table, counts in self.counts.items()},
            "groups": [group.as_dict() for group in self.groups()],
            "problems": [problem.as_dict() for problem in self.problems],
        }

    def write(self, path: str | Path) -> None:
        """The report as JSON, or for a path ending in .csv one problem per line."""
        path = Path(path)
        if path.suffix.lower() != ".csv":
            path.write_text(json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n")
            return
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "row", "column", "severity", "reason", "value"])
            for problem in self.problems:
                writer.writerow(
                    [
                        formula_safe(problem.file),
                        problem.row or "",
                        formula_safe(problem.field),
                        problem.severity,
                        formula_safe(problem.reason),
                        formula_safe(problem.value),
                    ]
                )


class InputError(Exception):
    """The input as a whole cannot be read (missing, unreadable, not what the importer takes)."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


def input_error(name: str, reason: str, *, row: int | None = None, field: str = "") -> InputError:
    return InputError(Problem(name, row, field, reason))
