class DomainError(Exception):
    """A rule of the domain refused a request; the message is written for the person who asked.

    `field` names the input at fault (or None for the request as a whole), so a view can put the
    message next to the field and the API can return it in a 4xx body.
    """

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


def clean_text(
    value, *, field: str, max_length: int, required: bool = False, label: str = ""
) -> str:
    """Free text from a form or the API, trimmed; refused (naming the field) when it holds a NUL,
    is missing though required, or is too long."""
    value = str(value or "").strip()
    named = label or field.replace("_", " ")
    if "\x00" in value:
        raise DomainError("Remove the NUL character.", field=field)
    if required and not value:
        raise DomainError(f"Enter {named}.", field=field)
    if len(value) > max_length:
        raise DomainError(f"Keep {named} to {max_length} characters.", field=field)
    return value


def version_check(row, version: int | None) -> None:
    """Refuses a change made from a stale copy of `row` (its `version` moved on since)."""
    if version is not None and row.version != version:
        raise DomainError(
            "Someone changed this record since you opened it: reload and try again.",
            field="version",
            code="conflict",
        )
