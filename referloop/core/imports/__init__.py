"""The one import framework: everything that comes into Referloop from a file goes through it.

An importer (HSDS, the tracking sheet, capacity feeds, HubSpot, calendars, FHIR) is a mapping
and its checks on top of these pieces, never a copy of them:

- `readers`: bytes in any common encoding, CSV with any common delimiter, XLSX, ZIP archives —
  told apart by content, since exports are often mislabelled;
- `columns`: header matching (loose comparison, aliases, `--mapping FILE`, unknown columns kept);
- `report`: typed problems (error / warning / default applied) with file, row, field and value,
  grouped by cause with counts and first examples; totals (read, imported, skipped, defaulted);
  the report as text, JSON or CSV;
- `run`: one transaction (all or nothing, `--partial`, `--dry-run`), the shared command-line
  options, the progress bar, the printed report and exit status, and `stable_id` for rows
  without ids of their own (so importing a file again changes nothing).
"""
