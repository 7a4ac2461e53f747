"""CSV/XLSX files people open in a spreadsheet program: formula-safe cells, streamed CSV, XLSX."""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date

from django.http import HttpResponse, StreamingHttpResponse

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection), even in a
# CSV file: such cells get a leading apostrophe, which spreadsheets show as plain text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(text: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    return f"'{text}" if text.startswith(FORMULA_START) else text


def formula_unsafe(text: str) -> str:
    """The text of a cell `formula_safe` wrote (for files that come back to be imported)."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        return text[1:]
    return text


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return formula_safe(str(value))


def _as_cell(value):
    """Dates and numbers stay themselves (people sum and sort them); text is made formula-safe."""
    if value is None or isinstance(value, date | int | float):
        return value
    return formula_safe(str(value))


class _Echo:
    """The file-like object csv.writer needs to hand each line straight on."""

    def write(self, value):
        return value


def csv_lines(headers: list[str], rows: Iterable[list]) -> Iterator[str]:
    """A CSV file line by line (streamable), with a byte-order mark so Excel reads accents."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    yield writer.writerow(headers)
    for row in rows:
        yield writer.writerow([_as_text(value) for value in row])


def xlsx_bytes(headers: list[str], rows: Iterable[list], *, title: str) -> bytes:
    """An XLSX workbook of one sheet; dates and whole numbers stay typed cells."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.append(headers)
    for row in rows:
        sheet.append([_as_cell(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def download_response(
    headers: list[str], rows: Iterable[list], fmt: str, *, filename: str, title: str
):
    """A download of `rows` as CSV (streamed) or XLSX; never cached (sheets may name people)."""
    if fmt == "csv":
        response = StreamingHttpResponse(
            csv_lines(headers, rows), content_type="text/csv; charset=utf-8"
        )
    elif fmt == "xlsx":
        response = HttpResponse(
            xlsx_bytes(headers, rows, title=title),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        raise ValueError(f"unknown sheet format {fmt!r}")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response
