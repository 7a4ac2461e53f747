"""US ZIP code centroids from the `zipcodes` package (it ships its table: no network needed).

The 0004 migration loads them into `PostalCode`; `selectors.postal_code_point` reads that table
and falls back to the package for a code the table lacks (a table emptied by a test flush or a
database migrated before the package had the code).
"""

import re

US_ZIP = re.compile(r"^(\d{5})(?:-\d{4})?$")


def us_zip_rows():
    """One dict per ZIP code, ready for `PostalCode(**row)`."""
    import zipcodes

    for item in zipcodes.list_all():
        try:
            latitude, longitude = float(item["lat"]), float(item["long"])
        except (TypeError, ValueError):
            continue
        yield {
            "country": "US",
            "code": item["zip_code"],
            "latitude": latitude,
            "longitude": longitude,
            "city": (item.get("city") or "")[:200],
            "state": (item.get("state") or "")[:50],
        }


def normalize_us_zip(value: str) -> str | None:
    """'62701' or '62701-1234' → '62701'; anything else → None."""
    match = US_ZIP.match((value or "").strip())
    return match.group(1) if match else None


def packaged_zip(code: str) -> dict | None:
    """The package's own entry for a 5-digit code, as a PostalCode-shaped dict, or None."""
    try:
        import zipcodes

        found = zipcodes.matching(code)
    except (ImportError, TypeError, ValueError):
        return None
    for item in found:
        try:
            return {
                "country": "US",
                "code": item["zip_code"],
                "latitude": float(item["lat"]),
                "longitude": float(item["long"]),
                "city": item.get("city") or "",
                "state": item.get("state") or "",
            }
        except (TypeError, ValueError):
            continue
    return None
