"""The connection half of a per-tenant API client: httpx session, auth, retrying requester.

Svenn's and Drifti's clients are one client per tenant (the API key is per tenant), used as
an async context manager or closed with ``aclose()``; this base holds that lifecycle once, and
each product's client adds its resource APIs. Pass ``transport=httpx.ASGITransport(app=…)``
to talk to a simulator in-process.
"""

from __future__ import annotations

import asyncio
import random
from types import TracebackType
from typing import ClassVar, Self, TypedDict, Unpack

import httpx
from pydantic import SecretStr

from services.core.http_spans import traced
from services.restclient.bearer_auth import BearerAuth
from services.restclient.requester import ApiDialect, Requester
from services.restclient.retry_policy import RetryPolicy, Sleep


class ConnectionOptions(TypedDict, total=False):
    timeout: float  # seconds per request (default 10)
    retry: RetryPolicy | None
    transport: httpx.AsyncBaseTransport | None
    sleep: Sleep  # asyncio.sleep unless a test records the waits
    rng: random.Random | None
    user_agent: str  # the product client's ``default_user_agent`` unless given


class TenantApiClient:
    dialect: ClassVar[ApiDialect]
    default_user_agent: ClassVar[str]

    def __init__(self, base_url: str, api_key: str | SecretStr, **options: Unpack[ConnectionOptions]) -> None:
        unknown = set(options) - set(ConnectionOptions.__annotations__)
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments {sorted(unknown)}")
        self.base_url = base_url.rstrip("/")
        user_agent = options.get("user_agent", self.default_user_agent)
        self._http = traced(
            httpx.AsyncClient(
                base_url=self.base_url,
                auth=BearerAuth(api_key),
                timeout=options.get("timeout", 10.0),
                transport=options.get("transport"),
                headers={"User-Agent": user_agent, "Accept": "application/json"},
            )
        )
        self._requester = Requester(
            self._http,
            options.get("retry") or RetryPolicy(),
            self.dialect,
            sleep=options.get("sleep", asyncio.sleep),
            rng=options.get("rng"),
        )

    @property
    def rate_limit_remaining(self) -> int | None:
        """Requests left in the tenant's current window, as of the last response."""
        return self._requester.rate_limit_remaining

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=**********)"
