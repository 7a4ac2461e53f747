"""The values of a capacity feed's cells: whole counts, and the moment of a count written the many
ways exports write dates (ISO 8601, M/D/YYYY, D.M.YYYY, "Jan 5, 2024", Excel dates), naive ones
in the agency's time zone."""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from referloop.directory.services import COUNT_LIMIT


class BadValue(ValueError):
    """A cell that cannot be read: `reason` names the value, `cause` is what rows share."""

    def __init__(self, reason: str, cause: str):
        super().__init__(reason)
        self.reason, self.cause = reason, cause


def blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_WHOLE = re.compile(r"[+-]?\d+(?:\.0*)?")


def count_read(value) -> int | None:
    """A count of beds or places (None when blank): a whole number from 0 to COUNT_LIMIT."""
    if blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        number = int(value.strip().split(".")[0])
    else:
        raise BadValue(f"'{value}' is not a whole number", "not a whole number")
    if number < 0:
        raise BadValue(f"{number} is negative", "a negative count")
    if number > COUNT_LIMIT:
        raise BadValue(f"{number:,} is more than {COUNT_LIMIT:,}", f"more than {COUNT_LIMIT:,}")
    return number


NOT_A_DATE = "not a date or time Referloop reads (e.g. 2024-03-31, 3/31/2024 14:00)"
EXCEL_EPOCH = datetime(1899, 12, 30)
# Excel day numbers from 1970 to 2100: a count column read as a date stays an error.
EXCEL_DAYS = range(25_569, 73_051)
_NUMERIC = re.compile(r"(\d{1,4})([/.-])(\d{1,2})\2(\d{2}|\d{4})")
_TIME = re.compile(
    r"(?:[ T,]+|^)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*([ap])?\.?\s*(?:m\.?)?$", re.I
)
_NAMED = ("%b %d %Y", "%B %d %Y", "%d %b %Y", "%d %B %Y", "%Y %b %d", "%d %b %y")


class Moments:
    """Reads when each count was taken, as an aware UTC datetime.

    A naive value is the agency's wall-clock time (`zone`); a date alone is the start of that
    day. Numeric dates: a four-digit year first is year-month-day; "." is day.month.year; "/" (and
    "-" before a four-digit year) is month/day/year, unless the column's dates only make sense as
    day/month (a first number above 12 and no second one above 12). Spreadsheet cells that hold
    dates are read as dates, and so are Excel day numbers (45292 is 1 January 2024)."""

    def __init__(self, zone: ZoneInfo, column=()):
        self.zone = zone
        firsts, seconds = set(), set()
        for value in column:
            match = _NUMERIC.match(value.strip()) if isinstance(value, str) else None
            if match and len(match[1]) < 4 and (match[2] == "/" or len(match[4]) == 4):
                firsts.add(int(match[1]))
                seconds.add(int(match[3]))
        self.day_first = any(n > 12 for n in firsts) and not any(n > 12 for n in seconds)
        self._read: dict[str, datetime] = {}

    def read(self, value) -> datetime:
        if isinstance(value, datetime):
            return self._aware(value)
        if isinstance(value, date):
            return self._aware(datetime.combine(value, time.min))
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self._excel(value, str(value))
        text = " ".join(str(value).split())
        if text not in self._read:
            self._read[text] = self._text(text)
        return self._read[text]

    def _aware(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment.astimezone(UTC)

    def _excel(self, days: float, text: str) -> datetime:
        if int(days) not in EXCEL_DAYS:
            raise BadValue(f"'{text}' is {NOT_A_DATE}", NOT_A_DATE)
        return self._aware(EXCEL_EPOCH + timedelta(days=days))

    def _text(self, text: str) -> datetime:
        try:
            return self._aware(datetime.fromisoformat(text))
        except ValueError:
            pass
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return self._excel(float(text), text)
        day_part, clock = text, time.min
        if match := _TIME.search(text):
            day_part = text[: match.start()].strip()
            clock = _clock(match, text)
        day = self._day(day_part)
        if day is None:
            raise BadValue(f"'{text}' is {NOT_A_DATE}", NOT_A_DATE)
        return self._aware(datetime.combine(day, clock))

    def _day(self, text: str) -> date | None:
        if match := _NUMERIC.fullmatch(text):
            first, separator, second, last = match.groups()
            if len(first) == 4:
                year, month, day = first, second, last
            elif separator == "-" and len(last) == 2:
                raise BadValue(
                    f"'{text}' could be year-month-day or month-day-year: write the year in full",
                    "a two-digit year with dashes (either order)",
                )
            elif separator == "." or self.day_first:
                day, month, year = first, second, last
            else:
                month, day, year = first, second, last
            year = int(year) + (2000 if len(year) == 2 else 0)
            try:
                return date(year, int(month), int(day))
            except ValueError:
                return None
        words = re.sub(r"[,.\-/]", " ", text).split()
        for pattern in _NAMED:
            try:
                return datetime.strptime(" ".join(words), pattern).date()
            except ValueError:
                continue
        return None


def _clock(match: re.Match, text: str) -> time:
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if match[4]:  # 12-hour clock
        if not 1 <= hour <= 12:
            raise BadValue(f"'{text}' is {NOT_A_DATE}", NOT_A_DATE)
        hour = hour % 12 + (12 if match[4].lower() == "p" else 0)
    try:
        return time(hour, minute, second)
    except ValueError:
        raise BadValue(f"'{text}' is {NOT_A_DATE}", NOT_A_DATE) from None
