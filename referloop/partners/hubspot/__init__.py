"""HubSpot: an agency's contacts and companies exported from HubSpot, imported as its partners,
and exported again in the same shape (so a team can move either way).

`referloop import hubspot FILE --agency SLUG [--kind contacts|companies]` reads a contacts or a
companies export (the kind is told from the header: a First Name, Last Name or Email column
means contacts, a Company name or Company Domain Name column companies): CSV in any encoding and
delimiter, XLSX, or the ZIP HubSpot sends, through the import framework (referloop.core.imports).

Companies become directory organizations of the agency's network, each with a relationship of
the agency: found by the Record ID an earlier import linked (a per-agency `HubspotLink`, never
the directory's `source_id`, which HSDS imports own), else by name (any case), else added with
the file's name, domain (the website) and phone. An organization already in the directory is
the network's listing: it is linked, never overwritten.

Contacts become partner people (the directory contact, their position and a key contact of the
relationship, through the partners services): found by Record ID, else by e-mail in the network,
else created. Their organization is the Primary Associated Company ID's (else the first of
Associated Company IDs) when that company was imported, else the Associated Company (or Company
Name) of that name, else a new organization (a warning); an unlinked company id is linked to it.
First Name + Last Name are the name (a row with only an e-mail takes it as the name, a counted
default; a row with neither name nor e-mail is an error); Email and Additional email addresses
are checked with email-validator, Phone Number and Mobile Phone Number with phonenumbers (stored
E.164); an invalid one is the row's error.

What a row says of the relationship (both kinds):
- Contact owner / Company owner: an active member of the agency, by e-mail or full name, becomes
  the owner of a relationship that has none (anyone else: a warning, the owner left as it is);
- Last Activity Date ("2025-03-04 10:22", 03/04/2025, ISO; the agency's time) becomes the last
  contact when later than the one known, so the cadence's due times count from it; no
  interaction is logged, since HubSpot does not say what the activity was;
- Lead Status, else Lifecycle Stage, gives the stage where its meaning is clear (see
  `columns.LEAD_STATUS_STAGES` / `LIFECYCLE_STAGES`: New/Open/Attempted to contact, Lead and
  Subscriber → reach out; Connected/In progress, MQL/SQL → rapport; Open deal, Opportunity →
  mutual benefits; Customer → trust; Evangelist → lasting; Bad timing → dormant; Unqualified →
  not a fit). Anything else is the default, reach out, counted. The contacts of one company give
  its relationship the furthest stage among them. A relationship the import starts takes it; one
  already worked in Referloop only moves forward.

Columns Referloop has no field for (Create Date, Marketing contact status, City, Industry…, and
any column the file adds) are kept on the link, as are the association ids (multi-value cells
split on ";"); the export writes them back. Every row is checked before anything is written;
then all or nothing (--partial: the valid rows; --dry-run: nothing). The Record ID makes a
second import of the file, or of the agency's own export, "unchanged".

`referloop export hubspot FILE --agency SLUG [--kind contacts|companies]` writes the agency's
linked records in the import's columns (HubSpot's, quoted as HubSpot does, UTF-8): stage as its
lead status and lifecycle stage, owner by e-mail, last contact as "YYYY-MM-DD HH:MM".

`columns` (the columns and the words cells hold), `check` (the rows checked), `write` (through
the services), `export` and `cli`.
"""

from referloop.partners.hubspot.columns import COLUMNS, HEADERS
from referloop.partners.hubspot.export import hubspot_write
from referloop.partners.hubspot.write import HubspotReport, hubspot_import

__all__ = ["COLUMNS", "HEADERS", "HubspotReport", "hubspot_import", "hubspot_write"]
