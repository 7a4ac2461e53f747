"""The shared shape of a worklist item: every app's `due_items` selector returns these."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class DueItem:
    key: str  # stable and unique across sources, e.g. "agency-setup:12"
    kind: str  # short machine name of the item type, e.g. "agency_setup"
    kind_label: str  # what a person calls it, e.g. "Agency set-up"
    subject: str  # who or what it concerns
    reason: str  # why it is due, in plain words
    due_at: datetime
    action_label: str  # the one action that clears it
    action_url: str
    owner_id: int | None = None  # None: the agency's, for whoever holds the right role
