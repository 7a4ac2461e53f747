"""Capacity from a feed: bed, slot or appointment counts an agency already publishes elsewhere
(a CSV or XLSX export), imported into the listings it runs, with their history.

One row per count (long: a Unit column may name each row's kind of bed), or per listing with
columns per kind of bed (wide: the mapping file's "units", see `columns`). Columns, matched by
header ignoring case and punctuation (`--mapping FILE` names the file's own):

    column     also understood
    service    Program, Shelter, Service name, Listing: our id, its HSDS id, the id it was
               imported with, or its name
    location   Location name, Site: a location's name or address (see address)
    address    Physical address, Location address: as the listing writes it, with or without
               city, state and ZIP code
    date       As of, Updated, Occupancy date, Timestamp... (`--as-of` for rows without one)
    type       Unit, Bed type, Kind: "beds", or a kind of the file's unit ("Men's beds")
    available  Unoccupied, Vacant, Beds available, Free
    total      Maximum, Capacity, Total beds, Capacity actual bed
    occupied   Occupied beds, In use

A row counts a listing of the agency only: one of another agency's is an error, never written.
A service named by several listings is told apart by the row's location or address; a row with
only a location counts the one listing there (several: an error naming them).

Dates: ISO 8601, M/D/YYYY (D/M/YYYY when the column's dates only read that way), D.M.YYYY,
"Jan 5, 2024", spreadsheet dates and Excel day numbers, with or without a time; naive times are
the agency's; a date alone is the start of that day; none in the future. A blank date is an
error, unless `--as-of` gives one (a default, noted).

Counts are whole numbers from 0 to 100,000. A blank figure is the unit's figure in force at the
row's time (its latest earlier count in the file, else in Referloop): a blank total keeps the
maximum; a blank available is total less occupied when occupied is given, else the available
in force (0 for a first count) — both defaults, noted. Available more than the total, occupied
more than the total, negative or unreadable counts are errors.

Each count becomes a reading at its own time (a reading of the unit at that time already there
is matched, so importing a file again changes nothing) and each unit's current count its latest
reading, never an older one. Units a listing does not have are added, except for counts of
none (0 of 0). Every row is checked before anything is written: all or nothing, unless
`--partial`.
"""

from referloop.directory.capacity_feed.importer import capacity_feed_import

__all__ = ["capacity_feed_import"]
