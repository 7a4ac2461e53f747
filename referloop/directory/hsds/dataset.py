"""What every HSDS reader produces: tables of records, each a dict and where it came from."""

from dataclasses import dataclass, field
from typing import Any

from referloop.directory.hsds.report import Problem


@dataclass(slots=True)
class Record:
    table: str
    data: dict[str, Any]
    file: str
    row: int | None
    path: str = ""

    def where(self, name: str = "") -> str:
        if self.path and name:
            return f"{self.path}.{name}"
        return self.path or name


@dataclass
class Dataset:
    source: str
    format: str  # "json" or "tabular"
    version: str = ""
    version_note: str = ""
    tables: dict[str, list[Record]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(rows) for rows in self.tables.values())
