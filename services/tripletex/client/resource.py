"""Shared plumbing for the per-entity APIs: get/search/iterate/create/update in one place.

Each entity module then only says *which* paths and filters it uses and what its natural key
is, so the retry, locking and paging rules cannot drift apart between entities.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from .envelopes import DEFAULT_PAGE_SIZE, Page, iterate_pages, parse_page, parse_value
from .locking import Mutate, Updated, update_reporting, update_with_retry
from .models import Entity, write_body
from .natural_keys import Ensured, find_or_create
from .transport import Params, Transport

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=Entity)

Sleep = Callable[[float], Awaitable[None]]


def ids_param(ids: Sequence[int]) -> str:
    """Tripletex "List of IDs" filters take a comma-separated string."""
    return ",".join(str(i) for i in ids)


class Resource:
    def __init__(self, transport: Transport, *, sleep: Sleep = asyncio.sleep) -> None:
        self._t = transport
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tenant={self._t.tenant_id!r})"

    # --- reads ------------------------------------------------------------------------------

    async def _get(
        self, path: str, model: type[M], *, fields: str | None = None, params: Params | None = None
    ) -> M:
        response = await self._t.request("GET", path, params={**(params or {}), "fields": fields})
        return parse_value(response, model)

    async def _page(
        self,
        path: str,
        model: type[M],
        *,
        params: Params | None = None,
        fields: str | None = None,
        from_: int = 0,
        count: int = DEFAULT_PAGE_SIZE,
        sorting: str | None = None,
    ) -> Page[M]:
        query = {**(params or {}), "from": from_, "count": count, "fields": fields, "sorting": sorting}
        response = await self._t.request("GET", path, params=query)
        return parse_page(response, model)

    def _iterate(
        self,
        path: str,
        model: type[M],
        *,
        params: Params | None = None,
        fields: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        sorting: str | None = "id",
    ) -> AsyncIterator[M]:
        """All matches; sorted by id by default so pages stay stable while we read them."""

        async def fetch(start: int, count: int) -> Page[M]:
            return await self._page(
                path, model, params=params, fields=fields, from_=start, count=count, sorting=sorting
            )

        return iterate_pages(fetch, page_size=page_size)

    async def _all(
        self, path: str, model: type[M], *, params: Params | None = None, fields: str | None = None
    ) -> list[M]:
        return [item async for item in self._iterate(path, model, params=params, fields=fields)]

    # --- writes -----------------------------------------------------------------------------

    async def _post(self, path: str, obj: BaseModel, model: type[M], *, params: Params | None = None) -> M:
        response = await self._t.request("POST", path, params=params, json=write_body(obj, for_create=True))
        return parse_value(response, model)

    async def _post_list(self, path: str, objs: Sequence[BaseModel], model: type[M]) -> list[M]:
        body = [write_body(o, for_create=True) for o in objs]
        response = await self._t.request("POST", path, json=body)
        return parse_page(response, model).values

    async def _put(
        self,
        path: str,
        body: Any,
        model: type[M],
        *,
        params: Params | None = None,
        idempotent: bool = True,
    ) -> M:
        response = await self._t.request("PUT", path, params=params, json=body, idempotent=idempotent)
        return parse_value(response, model)

    async def _delete(self, path: str, *, params: Params | None = None) -> None:
        await self._t.request("DELETE", path, params=params)

    async def _update(
        self,
        path: str,
        model: type[E],
        mutate: Mutate[E],
        *,
        fields: str | None = None,
        always_send: tuple[str, ...] = (),
    ) -> E:
        """Read ``path``, apply ``mutate``, PUT the changed fields with ``version``."""

        async def read() -> E:
            return await self._get(path, model, fields=fields)

        async def write(body: dict[str, Any]) -> E:
            return await self._put(path, body, model)

        return await update_with_retry(
            read, write, mutate, max_attempts=self._t.retry.revision_max_attempts, always_send=always_send
        )

    async def _update_reporting(
        self, path: str, model: type[E], mutate: Mutate[E], *, fields: str | None = None
    ) -> Updated[E]:
        """:meth:`_update`, also saying what was sent (nothing when already up to date)."""

        async def read() -> E:
            return await self._get(path, model, fields=fields)

        async def write(body: dict[str, Any]) -> E:
            return await self._put(path, body, model)

        return await update_reporting(read, write, mutate, max_attempts=self._t.retry.revision_max_attempts)

    async def _ensure(
        self, key: str, find: Callable[[], Awaitable[M | None]], create: Callable[[], Awaitable[M]]
    ) -> Ensured[M]:
        return await find_or_create(
            find,
            create,
            key=key,
            max_attempts=self._t.retry.create_max_attempts,
            sleep=self._sleep,
            settle_seconds=self._t.retry.server_error_base_seconds,
        )
