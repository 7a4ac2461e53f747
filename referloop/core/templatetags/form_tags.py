"""Form helpers for templates."""

from django import template

register = template.Library()


@register.filter
def labelled(error: str, label: str) -> str:
    """An error as the summary at the top of a form lists it: after its field's label, unless
    it already starts with it ("Age: enter a whole number…" stays as it is)."""
    error, label = str(error), str(label)
    return error if error.startswith(f"{label}:") else f"{label}: {error}"
