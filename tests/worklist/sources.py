"""Reading a worklist source in tests."""

from referloop.core.due import due_count_of, due_items_of


def source_items(due_rows, **kwargs):
    """The items of the worklist source `due_rows`, checking that its count -- what the
    navigation badge shows -- agrees with them."""
    sources = due_rows(**kwargs)
    items = due_items_of(sources)
    assert due_count_of(sources) == len(items)
    return items
