"""Reading what other systems wrote: bytes in any common encoding, CSV with any common delimiter,
XLSX, and ZIP archives of either — whatever the file's name claims it is.

- Text: a BOM decides (UTF-8, UTF-16); else UTF-8; else charset-normalizer picks among the
  encodings exports are really written in (Windows code pages, UTF-16 without a BOM, the East
  Asian ones), and a warning names the one chosen. A hand-written guess would read Windows-1252
  text as Latin-2 as often as not; charset-normalizer measures which decoding reads as language.
- CSV: the delimiter is the one of `,` `;` tab `|` the header line uses most (Excel in many
  locales writes `;`); quoted cells may hold line breaks; a malformed row is that row's error and
  reading goes on. Row numbers are those a spreadsheet shows (the header is row 1).
- XLSX: openpyxl in read-only mode (streams the sheet; values, not formulas).
- ZIP: unpacked into a temporary folder (never outside it, no links, size-capped against zip
  bombs), descending through folders that hold nothing but one folder.
"""

import codecs
import csv
import io
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from referloop.core.imports.report import WARNING, Problem, input_error

csv.field_size_limit(16 * 1024 * 1024)

# Tried in this order of preference when a file is not UTF-8.
ENCODINGS = (
    "cp1252",
    "utf_16_le",
    "utf_16_be",
    "cp1250",
    "cp1251",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "mac_roman",
    "shift_jis",
    "gb18030",
    "big5",
    "euc_kr",
    "koi8_r",
)
DELIMITERS = ",;\t|"
MAX_UNPACKED_BYTES = 2 * 1024**3
MAX_MEMBERS = 20_000
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"


def read_bytes(path: Path, name: str | None = None) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise input_error(name or path.name, f"cannot read: {exc.strerror or exc}") from None


def decode(raw: bytes, name: str, problems: list[Problem]) -> str:
    """The text of `raw`; a warning in `problems` when it had to guess the encoding."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise input_error(name, f"not valid UTF-16: {exc.reason}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = _likeliest_decoding(raw)
    encoding = best.encoding if best is not None else "latin_1"
    label = encoding.replace("_", "-").upper()
    problems.append(
        Problem(
            name,
            None,
            "",
            f"is not UTF-8: read as {label} (check accented letters)",
            WARNING,
            cause="is not UTF-8: encoding guessed",
        )
    )
    return str(best) if best is not None else raw.decode("latin-1")


def _likeliest_decoding(raw: bytes):
    """charset-normalizer's reading that looks least like noise and most like language; on a
    tie (text in Latin letters reads as well in Windows-1252 as in Windows-1250) the encoding
    listed first in ENCODINGS."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw, cp_isolation=list(ENCODINGS)))
    if not matches:
        return None
    least_chaos = min(match.chaos for match in matches)
    calm = [match for match in matches if match.chaos <= least_chaos + 0.005]
    most_coherent = max(match.coherence for match in calm)
    tied = [match for match in calm if match.coherence >= most_coherent - 0.005]
    return min(tied, key=lambda match: ENCODINGS.index(match.encoding))


def sniff_delimiter(text: str) -> str:
    """The delimiter the header line (its first non-blank line) uses most; a comma on a tie."""
    for line in text.splitlines():
        if line.strip():
            counts = {delimiter: line.count(delimiter) for delimiter in DELIMITERS}
            best = max(counts, key=counts.get)
            return best if counts[best] else ","
    return ","


@dataclass
class Table:
    """A sheet of cells: the header, then (spreadsheet row number, cells) for each non-blank row.
    CSV cells are text; XLSX cells are what the spreadsheet holds (numbers, dates, text)."""

    name: str
    header: list[str]
    rows: list[tuple[int, list]]
    problems: list[Problem] = field(default_factory=list)


def _blank(cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def csv_table(text: str, *, name: str, problems: list[Problem] | None = None) -> Table:
    """A CSV text as a table: each malformed row (or one with more cells than the header) is that
    row's error in `problems`, and reading goes on with the next."""
    problems = [] if problems is None else problems
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text), strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, list]] = []
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            number += 1
            problems.append(Problem(name, number, "", f"malformed CSV: {exc}"))
            if header is None:
                break
            continue
        number += 1
        if all(_blank(cell) for cell in cells):
            continue
        if header is None:
            header = [cell.strip().lstrip("\ufeff") for cell in cells]
            continue
        if len(cells) > len(header) and any(not _blank(c) for c in cells[len(header) :]):
            problems.append(
                Problem(
                    name,
                    number,
                    "",
                    f"has {len(cells)} values but the header has {len(header)} columns "
                    "(an unquoted comma?)",
                    cause="more values than the header has columns (an unquoted comma?)",
                )
            )
            continue
        rows.append((number, cells))
    return Table(name=name, header=header or [], rows=rows, problems=problems)


def xlsx_table(path: Path, *, name: str) -> Table:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError):
        raise input_error(
            name, "not a readable XLSX file (save it again as .xlsx or .csv)"
        ) from None
    try:
        sheet = workbook.active or workbook.worksheets[0]
        header: list[str] | None = None
        rows = []
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = list(row)
            if all(_blank(cell) for cell in cells):
                continue
            if header is None:
                header = ["" if cell is None else str(cell).strip() for cell in cells]
                continue
            rows.append((number, cells))
        return Table(name=name, header=header or [], rows=rows)
    finally:
        workbook.close()


def is_xlsx(path: Path) -> bool:
    """An Office Open XML workbook, whatever its name says (a ZIP holding xl/workbook.xml)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def is_zip(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) in (ZIP_MAGIC, EMPTY_ZIP_MAGIC)
    except OSError:
        return False


def read_table(path: str | Path, *, name: str | None = None) -> Table:
    """A CSV/TSV/TXT or XLSX file as a table, told apart by content, not name: an .xlsx saved
    as .csv (or the other way round) is read as what it is, with a warning."""
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise input_error(name, "no such file")
    suffix = path.suffix.lower()
    if is_xlsx(path):
        table = xlsx_table(path, name=name)
        if suffix not in (".xlsx", ".xlsm"):
            table.problems.append(
                Problem(name, None, "", "is an Excel workbook, not CSV: read as XLSX", WARNING)
            )
        return table
    if suffix in (".xlsx", ".xlsm", ".xls"):
        what = "an old .xls workbook" if suffix == ".xls" else "not a readable XLSX file"
        raise input_error(name, f"{what}: save it again as .xlsx or .csv")
    if is_zip(path):
        raise input_error(name, "is a ZIP archive, not a sheet: give the file inside it")
    raw = read_bytes(path, name)
    if not raw.strip(b" \r\n\t" + codecs.BOM_UTF8):
        raise input_error(name, "the file is empty")
    problems: list[Problem] = []
    text = decode(raw, name, problems)
    if "\x00" in text:
        raise input_error(name, "is not a text file (it holds binary data): expected CSV or XLSX")
    return csv_table(text, name=name, problems=problems)


# --- ZIP archives ----------------------------------------------------------------------------


def _member_path(name: str) -> PurePosixPath | None:
    """Where a member goes inside the target folder; None for what is not unpacked (folders,
    macOS resource forks, hidden files) or may not be (absolute paths, `..`)."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or name.endswith("/"):
        return None
    if parts[0] == "/" or ".." in parts or ":" in parts[0]:
        raise input_error(name, "a ZIP member names a path outside the archive: not unpacked")
    if parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts):
        return None
    return PurePosixPath(*parts)


def _lone_folder(folder: Path) -> Path:
    """Down through folders that hold nothing but one folder (`export/2024-06/…`)."""
    while True:
        entries = list(folder.iterdir())
        if len(entries) == 1 and entries[0].is_dir():
            folder = entries[0]
            continue
        return folder


class _TooBig(Exception):
    pass


def _copy_capped(source, out, room: int) -> int:
    """Copies at most `room` bytes (a member's declared size may lie)."""
    copied = 0
    while chunk := source.read(1024 * 1024):
        copied += len(chunk)
        if copied > room:
            raise _TooBig
        out.write(chunk)
    return copied


@contextmanager
def unpacked(path: Path, *, name: str | None = None) -> Iterator[Path]:
    """The folder a ZIP archive unpacks to (removed afterwards)."""
    name = name or path.name
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise input_error(name, "not a readable ZIP archive") from None
    with archive, tempfile.TemporaryDirectory(prefix="referloop-import-") as temporary:
        target = Path(temporary)
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_MEMBERS:
            raise input_error(name, f"the ZIP archive holds more than {MAX_MEMBERS:,} files")
        if sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
            raise input_error(name, "the ZIP archive unpacks to more than 2 GB")
        written = unpacked_bytes = 0
        for member in members:
            relative = _member_path(member.filename)
            if relative is None:
                continue
            if (member.external_attr >> 16) & 0o170000 == 0o120000:
                continue  # a symbolic link: never followed out of the archive
            destination = target.joinpath(*relative.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(member) as source, destination.open("wb") as out:
                    unpacked_bytes += _copy_capped(source, out, MAX_UNPACKED_BYTES - unpacked_bytes)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
                raise input_error(name, f"cannot unpack {member.filename}: {exc}") from None
            except _TooBig:
                raise input_error(name, "the ZIP archive unpacks to more than 2 GB") from None
            written += 1
        if not written:
            raise input_error(name, "the ZIP archive is empty")
        yield _lone_folder(target)
