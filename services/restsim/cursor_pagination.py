"""Cursor pagination over records in creation order.

A cursor is the creation sequence number of the last record on the page, wrapped so
clients treat it as opaque. Unlike offsets, it does not skip or repeat records when others
are created or deleted between page requests, and creation order never changes when a
record is updated, so a full listing always ends.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from services.restsim.error_envelope import validation_error

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": seq}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded))["after"]
        if not isinstance(after, int) or after < 0:
            raise ValueError(after)
        return after
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise validation_error("cursor", "Not a cursor this API issued.") from exc


def paginate(
    records: Iterable[T], seq_of: Callable[[T], int], limit: int, cursor: str | None
) -> dict[str, Any]:
    after = decode_cursor(cursor)
    ordered = sorted((r for r in records if seq_of(r) > after), key=seq_of)
    page = ordered[:limit]
    has_more = len(ordered) > limit
    return {
        "data": [r.model_dump(mode="json") for r in page],  # type: ignore[attr-defined]
        "has_more": has_more,
        "next_cursor": encode_cursor(seq_of(page[-1])) if has_more else None,
    }
