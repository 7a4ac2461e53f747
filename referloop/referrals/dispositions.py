"""The default disposition codes every agency starts with (seed 003), editable per agency."""

from referloop.referrals.models import DispositionKind

OUTCOME = DispositionKind.OUTCOME
NOT_ACCEPTED = DispositionKind.NOT_ACCEPTED
BOTH = DispositionKind.BOTH

# (code, label, kind, is_success)
DEFAULT_CODES = (
    ("service_started", "Service started", OUTCOME, True),
    ("completed", "Completed", OUTCOME, True),
    ("not_eligible", "Not eligible", NOT_ACCEPTED, False),
    ("no_capacity", "No capacity", NOT_ACCEPTED, False),
    ("client_declined", "Client declined", BOTH, False),
    ("could_not_reach", "Could not reach client", BOTH, False),
    ("client_no_show", "Client did not show", OUTCOME, False),
    ("duplicate", "Duplicate", BOTH, False),
    ("referred_elsewhere", "Referred elsewhere", BOTH, False),
    ("other", "Other", BOTH, False),
)
