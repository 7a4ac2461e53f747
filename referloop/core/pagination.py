"""How the API pages every list (`@paginate` takes this class from NINJA_PAGINATION_CLASS)."""

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# Far past any agency's list; an unbounded offset reached the database as it was, and one past
# its 64-bit integers was a 500 instead of a 422 naming `offset`.
MAX_OFFSET = 1_000_000


class LimitOffset(LimitOffsetPagination):
    """ninja's `limit` and `offset`, each with an upper bound (stated in the OpenAPI document):
    a larger value is a 422 naming the parameter, never clamped in silence."""

    class Input(Schema):
        limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page")
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Items to skip")
