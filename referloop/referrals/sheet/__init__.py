"""The tracking sheet: a team's referral spreadsheet (CSV or XLSX), imported into Referloop and
exported in the same shape (seed 003's "simple tracking sheet").

Columns (one row per referral; headers are matched ignoring case, spaces and punctuation, and a
few common alternatives are understood; `--mapping FILE` names the team's own headers instead):

    column              header written on export   also understood
    tracking_id         Tracking ID                Ref #, Reference, Referral ID, Tracking number
    client_first_name   Client first name          First name, Given name
    client_last_name    Client last name           Last name, Surname, Family name
    (client_name)       -                          Client, Client name: "Last, First" or
                                                   "First Last" when there are no name columns
    client_dob          Client date of birth       DOB, Date of birth, Birth date
    referred_on         Referred on                Date sent, Sent on, Date referred
    partner             Partner                    Organization, Referred to, Provider
    service             Service                    Program
    contact_name        Partner contact            Contact, Contact name, Contact person
    contact_email       Contact e-mail             Partner e-mail
    contact_phone       Contact phone              Partner phone
    owner               Owner                      Case manager, Staff, Assigned to, Referred by
    needs               Needs                      Need, Need type
    urgency             Urgency                    Priority
    status              Status
    disposition         Disposition                Outcome, Reason code, Result
    status_reason       Status note                Reason, Status reason, Why
    received_on         Received on                Date received, Acknowledged on
    first_contact_on    First contact on           First contact, Client contacted on
    outcome_on          Outcome on                 Outcome date, Closed on, Date closed
    notes               Notes                      Reason for referral, Comments

Required: referred_on, partner, the client's first and last name, and owner (unless the import
names a default owner). Values:
- tracking_id: the team's own ID (letters, digits and hyphens, up to 40; kept upper-case) or
  empty (Referloop issues one). Re-importing finds a referral by it; a row without one is the
  same referral as one for the same client, partner and send date.
- dates: YYYY-MM-DD, M/D/YYYY (or M/D/YY), "Mar 4, 2025", "4 Mar 2025", or real spreadsheet dates;
  none in the future, none before the referral was sent.
- partner: an organization of the network's directory, by name (any case); service: one of its
  services, by name.
- owner: the e-mail address of an active member of the agency.
- needs: codes or names of the needs list (e.g. "housing; Food"), separated by ; or ,.
- urgency: routine (also normal, standard, low), urgent (high), emergency.
- status: the words teams use -- sent/pending/referred, received/acknowledged, accepted,
  declined/not accepted/denied, in progress/started/enrolled, on hold/waitlist, completed/closed
  served, cancelled, failed/no show; empty means sent (received when a received date is given).
- disposition: a disposition code or its label ("No capacity"). Not accepted needs one;
  cancelled, on hold and failed need a disposition or a status note.

Every row is checked before anything is written; then the rows are written in one transaction,
all or nothing (with --partial the valid rows, the others reported and counted as rejected;
--dry-run rolls it all back and reports what it would have done). Importing replays each row
through the referral services, with the sheet's dates: the client is found (same name and date
of birth) or created, the referral is created and recorded as sent on its referred-on date, then
moves through the life cycle to the sheet's status (received on the received date, the first
contact attempt on its date, the outcome on the outcome date), so the timeline, milestones and
due dates are what they would have been. A referral already in Referloop only moves forward (a
later status, a first contact not yet recorded); anything else is left as it is. Nothing is
disclosed and no consent is recorded by an import.

The exported file holds the agency's own referrals with the clients' names and dates of birth:
identifying information to be kept like the agency's other client records.

Reading, header matching, the report, the transaction and the command-line options are the
import framework's (referloop.core.imports); this package holds what is the sheet's own:
`columns` (the columns, their aliases, the words cells hold), `check` (the rows checked into
SheetRows), `write` (the replay through the referral services), `export` and `cli`.
"""

from referloop.referrals.sheet.check import SheetRow, sheet_check
from referloop.referrals.sheet.columns import COLUMNS, HEADERS, parse_date
from referloop.referrals.sheet.export import export_rows, sheet_response, sheet_write
from referloop.referrals.sheet.write import SheetReport, referrals_sheet_import, status_path

__all__ = [
    "COLUMNS",
    "HEADERS",
    "SheetReport",
    "SheetRow",
    "export_rows",
    "parse_date",
    "referrals_sheet_import",
    "sheet_check",
    "sheet_response",
    "sheet_write",
    "status_path",
]
