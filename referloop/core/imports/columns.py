"""Which cell holds which of an importer's columns: headers compared loosely ("Ref #", "ref" and
"REF." are one header), each column's aliases, and a `--mapping FILE` that names the file's own
headers. Headers that match nothing are kept (their positions are returned) for importers that
store unknown columns as extra fields; the others report them as not imported."""

import csv
import io
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from referloop.core.imports.readers import decode, read_bytes
from referloop.core.imports.report import input_error


def header_key(text) -> str:
    """How headers are compared: case, spaces and punctuation aside."""
    text = unicodedata.normalize("NFKC", str(text or "")).casefold()
    return "".join(char for char in text if char.isalnum())


@dataclass(frozen=True)
class Column:
    name: str  # ours, as a mapping file names it
    header: str  # what our export writes (and the import understands)
    aliases: tuple[str, ...] = ()
    max_length: int = 0

    def header_keys(self) -> set[str]:
        return {header_key(text) for text in (self.name, self.header, *self.aliases)}


@dataclass
class ColumnMatch:
    positions: dict[str, int]  # our column -> cell index
    unknown: list[tuple[int, str]]  # (cell index, header) of the file's other columns


def mapping_read(path: str | Path, columns: dict[str, Column]) -> dict[str, str]:
    """A mapping file: our column -> the file's header, as a JSON object or a two-column CSV (a
    first row of titles is skipped). An empty header means "don't read this column"."""
    path = Path(path)
    name = f"mapping {path.name}"
    example = next(iter(columns), "name")
    if path.suffix.lower() == ".json":
        pairs = mapping_json(path, example=example)
        items = [(None, ours, theirs) for ours, theirs in pairs.items()]
    else:
        text = decode(read_bytes(path, name), name, [])
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if any(row)]
        first = 1
        if len(rows) > 1 and rows[0][0].strip() not in columns and rows[1][0].strip() in columns:
            rows, first = rows[1:], 2  # a row of titles
        items = []
        for number, row in enumerate(rows, start=first):
            if len(row) != 2:
                raise input_error(
                    name, "each line needs two cells: our column, your header", row=number
                )
            items.append((number, row[0], row[1]))
    return mapping_pairs(items, columns, name=name)


def mapping_json(path: str | Path, *, example: str = "name") -> dict:
    """A JSON mapping file's object. Importers whose mapping holds more than columns (a capacity
    feed's units) take their own parts out of it and check the rest with `mapping_pairs`."""
    path = Path(path)
    name = f"mapping {path.name}"
    try:
        pairs = json.loads(decode(read_bytes(path, name), name, []))
    except json.JSONDecodeError as exc:
        raise input_error(name, f"malformed JSON: {exc.msg}", row=exc.lineno) from None
    if not isinstance(pairs, dict):
        raise input_error(name, f'expected an object like {{"{example}": "Your header"}}')
    return pairs


def mapping_pairs(items, columns: dict[str, Column], *, name: str) -> dict[str, str]:
    """Our column -> the file's header from (row number or None, ours, theirs) items: ours must
    be one of `columns`, theirs a header (text)."""
    mapping = {}
    for number, ours, theirs in items:
        ours = ours.strip()
        if ours not in columns:
            raise input_error(
                name, f"'{ours}' is not one of the columns ({', '.join(columns)})", row=number
            )
        if not isinstance(theirs, str):
            raise input_error(name, f"{ours}: give your file's header as text", row=number)
        mapping[ours] = theirs.strip()
    return mapping


def columns_match(
    header: list[str], columns: dict[str, Column], *, file: str, mapping: dict[str, str] | None
) -> ColumnMatch:
    """The mapping first, then headers and aliases. Raises InputError when the mapping names a
    header the file lacks, or two headers mean the same column and nothing says which to read."""
    keys = [header_key(text) for text in header]
    aliases = {key: column.name for column in columns.values() for key in column.header_keys()}
    positions: dict[str, int] = {}
    taken: set[int] = set()
    for ours, theirs in (mapping or {}).items():
        if not theirs:
            positions[ours] = -1  # deliberately not read
            continue
        if header_key(theirs) not in keys:
            raise input_error(
                file,
                f"the mapping names the header '{theirs}' ({ours}), which is not in the file",
                row=1,
            )
        index = keys.index(header_key(theirs))
        positions[ours] = index
        taken.add(index)
    for index, key in enumerate(keys):
        name = aliases.get(key)
        if name is None or index in taken:
            continue
        if name in positions:
            if name in (mapping or {}):
                continue  # the mapping chose which of the two to read
            raise input_error(
                file,
                f"two columns mean {columns[name].header} "
                f"('{header[positions[name]]}' and '{header[index]}'): "
                "rename one, or say which to read with --mapping",
                row=1,
                field=header[index],
            )
        positions[name] = index
        taken.add(index)
    unknown = [
        (index, header[index]) for index, key in enumerate(keys) if key and index not in taken
    ]
    return ColumnMatch(
        positions={name: index for name, index in positions.items() if index >= 0},
        unknown=unknown,
    )
