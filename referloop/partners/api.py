"""The partners API: relationships, people, interactions, meetings, materials."""

from ninja import Router

router = Router(tags=["partners"])
