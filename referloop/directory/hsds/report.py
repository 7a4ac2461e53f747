"""What an HSDS import found and did: counts per table, problems per row, what was left out."""

from dataclasses import dataclass, field

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem with one row: where it is (file, row, field) and why, written for a person.

    `row` is the spreadsheet row for CSV files (the header is row 1) and the 1-based item for
    JSON (its `field` then gives the path inside the item, e.g. `phones[0].number`)."""

    file: str
    row: int | None
    field: str
    reason: str
    severity: str = ERROR

    def __str__(self) -> str:
        where = [self.file or "input"]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(self.field)
        return f"{', '.join(where)}: {self.reason}"


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
        text = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        return text + (f", {self.rejected} rejected" if self.rejected else "")


@dataclass
class ImportReport:
    source: str
    version: str = ""
    version_note: str = ""
    partial: bool = False
    written: bool = False
    counts: dict[str, TableCounts] = field(default_factory=dict)
    not_imported: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, table: str) -> TableCounts:
        return self.counts.setdefault(table, TableCounts())

    def summary_lines(self) -> list[str]:
        lines = [f"HSDS import from {self.source}"]
        if self.version:
            lines.append(
                f"Detected HSDS {self.version}"
                + (f" ({self.version_note})" if self.version_note else "")
            )
        if self.written:
            for table, counts in self.counts.items():
                if counts.total or counts.rejected:
                    lines.append(f"  {table}: {counts}")
        elif self.errors:
            lines.append("Nothing was written.")
        if self.not_imported:
            lines.append("Not imported: " + ", ".join(self.not_imported))
        return lines

    def problem_lines(self, *, limit: int | None = None) -> list[str]:
        lines = []
        for title, problems in (("Errors", self.errors), ("Warnings", self.warnings)):
            if not problems:
                continue
            lines.append(f"{title} ({len(problems)}):")
            shown = problems if limit is None else problems[:limit]
            lines.extend(f"  {problem}" for problem in shown)
            if len(shown) < len(problems):
                lines.append(f"  ... and {len(problems) - len(shown)} more")
        return lines
