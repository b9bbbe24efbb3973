"""Svenn's cursor pagination: the shared one in ``services.restsim.cursor_pagination``, re-exported."""

from services.restsim.cursor_pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    decode_cursor,
    encode_cursor,
    paginate,
)

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "decode_cursor", "encode_cursor", "paginate"]
