"""What an HSDS import found and did: the shared import report, plus the HSDS version detected
and the fields and tables the file has that Referloop does not import."""

from dataclasses import dataclass, field

from referloop.core.imports.report import DEFAULT, ERROR, WARNING, ImportReport, Problem

__all__ = ["DEFAULT", "ERROR", "WARNING", "HsdsReport", "Problem"]


@dataclass
class HsdsReport(ImportReport):
    title: str = "HSDS import"
    version: str = ""
    version_note: str = ""
    not_imported: list[str] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        detected = []
        if self.version:
            note = f" ({self.version_note})" if self.version_note else ""
            detected.append(f"Detected HSDS {self.version}{note}")
        if self.not_imported:
            detected.append("Not imported: " + ", ".join(self.not_imported))
        return lines[:1] + detected + lines[1:]
