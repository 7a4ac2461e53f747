"""The tracking sheet's columns (each with the header our export writes and the alternatives teams
use) and the words its cells hold: statuses, urgencies, dates as people write them."""

import re
from datetime import date, datetime

from referloop.core.imports.columns import Column, header_key
from referloop.referrals.models import Status, Urgency

COLUMNS = (
    Column(
        "tracking_id",
        "Tracking ID",
        (
            "Tracking number",
            "Tracking no",
            "Ref",
            "Ref #",
            "Ref no",
            "Reference",
            "Reference number",
            "Referral ID",
            "Referral number",
        ),
        40,
    ),
    Column("client_first_name", "Client first name", ("First name", "Given name", "First"), 100),
    Column(
        "client_last_name", "Client last name", ("Last name", "Surname", "Family name", "Last"), 100
    ),
    Column("client_dob", "Client date of birth", ("DOB", "Date of birth", "Birth date", "Born")),
    Column(
        "referred_on",
        "Referred on",
        ("Date sent", "Sent on", "Sent", "Date referred", "Referral date", "Referred"),
    ),
    Column(
        "partner",
        "Partner",
        (
            "Organization",
            "Partner organization",
            "Referred to",
            "Provider",
            "Agency referred to",
            "Receiving organization",
        ),
        300,
    ),
    Column("service", "Service", ("Program", "Service name"), 300),
    Column("contact_name", "Partner contact", ("Contact", "Contact name", "Contact person"), 200),
    Column("contact_email", "Contact e-mail", ("Partner e-mail", "Contact mail"), 254),
    Column("contact_phone", "Contact phone", ("Partner phone", "Contact telephone"), 50),
    Column(
        "owner",
        "Owner",
        ("Owner e-mail", "Case manager", "Staff", "Assigned to", "Referred by", "Worker"),
        254,
    ),
    Column("needs", "Needs", ("Need", "Need type", "Needs codes")),
    Column("urgency", "Urgency", ("Priority",)),
    Column("status", "Status", ("Referral status", "Current status")),
    Column("disposition", "Disposition", ("Outcome", "Reason code", "Result", "Disposition code")),
    Column("status_reason", "Status note", ("Reason", "Status reason", "Why"), 500),
    Column("received_on", "Received on", ("Date received", "Received", "Acknowledged on")),
    Column(
        "first_contact_on",
        "First contact on",
        ("First contact", "Date of first contact", "Client contacted on", "Contacted on"),
    ),
    Column(
        "outcome_on",
        "Outcome on",
        ("Outcome date", "Closed on", "Date closed", "Completed on", "Outcome known on"),
    ),
    Column("notes", "Notes", ("Reason for referral", "Comments", "Note"), 4000),
)
# Read only when the sheet has no first/last name columns.
CLIENT_NAME = Column("client_name", "Client name", ("Client", "Client full name", "Name"), 200)
COLUMN_NAMES = [column.name for column in COLUMNS]
HEADERS = [column.header for column in COLUMNS]
BY_NAME = {column.name: column for column in (*COLUMNS, CLIENT_NAME)}
REQUIRED = ("referred_on", "partner")
NAME_COLUMNS = ("client_first_name", "client_last_name")


# --- values people write -------------------------------------------------------------------------
# Words in cells are compared as headers are: case, spaces and punctuation aside.

STATUS_WORDS = {
    Status.REQUESTED: ("sent", "pending", "referred", "requested", "submitted", "open", "new"),
    Status.RECEIVED: ("received", "acknowledged", "receipt confirmed"),
    Status.ACCEPTED: ("accepted", "approved"),
    Status.REJECTED: ("rejected", "declined", "not accepted", "denied", "refused"),
    Status.IN_PROGRESS: (
        "in progress",
        "in-progress",
        "started",
        "enrolled",
        "service started",
        "active",
        "engaged",
    ),
    Status.ON_HOLD: ("on hold", "on-hold", "hold", "waitlist", "waitlisted", "wait list"),
    Status.COMPLETED: ("completed", "complete", "closed served", "closed-served", "served", "done"),
    Status.CANCELLED: ("cancelled", "canceled", "withdrawn"),
    Status.FAILED: ("failed", "no show", "no-show", "did not show", "client did not show"),
}
STATUS_BY_WORD = {
    header_key(text): status
    for status, words in STATUS_WORDS.items()
    for text in (*words, Status(status).label)
}
# Status words that also say why.
STATUS_DISPOSITION = {
    header_key(text): "client_no_show"
    for text in ("no show", "did not show", "client did not show")
}
URGENCY_WORDS = {
    Urgency.ROUTINE: ("routine", "normal", "standard", "low", "regular"),
    Urgency.URGENT: ("urgent", "high", "priority", "asap"),
    Urgency.EMERGENCY: ("emergency", "emergent", "critical", "immediate"),
}
URGENCY_BY_WORD = {
    header_key(text): urgency for urgency, words in URGENCY_WORDS.items() for text in words
}
TRACKING_ID = re.compile(r"[A-Z0-9-]{1,40}")
US_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})(?:[ T].*)?")
ISO_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?")
TEXT_DATE_FORMATS = ("%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y")


def parse_date(value) -> date:
    """A date from a spreadsheet cell; ValueError if it is none, saying why in words that follow
    the value ("'31/31/2025' is not a date in the calendar")."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if match := ISO_DATE.fullmatch(text):
            year, month, day = (int(part) for part in match.groups())
            return date(year, month, day)
        if match := US_DATE.fullmatch(text):
            month, day, year = (int(part) for part in match.groups())
            if len(match.group(3)) == 2:
                year += 2000 if year < 70 else 1900
            return date(year, month, day)
    except ValueError:
        raise ValueError("is not a date in the calendar") from None
    for pattern in TEXT_DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError("is not a date: write it as YYYY-MM-DD or M/D/YYYY")
