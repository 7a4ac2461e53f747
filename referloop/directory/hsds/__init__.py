"""Open Referral HSDS import and export for the directory (see services.py and selectors.py)."""
