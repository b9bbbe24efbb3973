"""Tripletex response envelopes and paging.

Single objects arrive as ``{"value": {...}}``; lists as ``{"fullResultSize", "from", "count",
"versionDigest", "values": [...]}`` (some searches add fields such as ``sumAllHours``).
``fullResultSize`` is deprecated and "not exact", so paging stops on a short page instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from .errors import TripletexError

M = TypeVar("M", bound=BaseModel)

DEFAULT_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Page(Generic[M]):
    values: list[M]
    count: int
    from_: int
    full_result_size: int | None = None
    version_digest: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise TripletexError(
            "response is not JSON", status=response.status_code, path=response.request.url.path
        ) from None
    if not isinstance(body, dict):
        raise TripletexError("response is not a JSON object", status=response.status_code)
    return body


def parse_value(response: httpx.Response, model: type[M]) -> M:
    """Unwrap ``{"value": ...}``."""
    body = _json_object(response)
    if "value" not in body:
        raise TripletexError("response has no 'value'", status=response.status_code)
    return model.model_validate(body["value"])


def parse_page(response: httpx.Response, model: type[M]) -> Page[M]:
    """Unwrap a ``ListResponse*`` envelope."""
    body = _json_object(response)
    values = [model.model_validate(v) for v in body.get("values") or []]
    known = {"fullResultSize", "from", "count", "versionDigest", "values"}
    return Page(
        values=values,
        count=int(body.get("count") or len(values)),
        from_=int(body.get("from") or 0),
        full_result_size=body.get("fullResultSize"),
        version_digest=body.get("versionDigest"),
        extra={k: v for k, v in body.items() if k not in known},
    )


FetchPage = Callable[[int, int], Awaitable[Page[M]]]


async def iterate_pages(fetch: FetchPage[M], *, page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[M]:
    """Yield every object, one page at a time, until a page comes back shorter than asked.

    ``fetch(from, count)`` returns one page. An empty page also stops, so a server that
    ignores ``count`` cannot make this loop forever.
    """
    start = 0
    while True:
        page = await fetch(start, page_size)
        for value in page.values:
            yield value
        if len(page.values) < page_size or not page.values:
            return
        start += len(page.values)
