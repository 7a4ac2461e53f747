"""Cells for CSV/XLSX files people open in a spreadsheet program."""

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
