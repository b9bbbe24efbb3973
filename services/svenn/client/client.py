"""``SvennClient``: the engine's async connection to one tenant's Svenn account.

One client per tenant (the API key is per tenant). Use it as an async context manager, or
call ``aclose()``. Pass ``transport=httpx.ASGITransport(app=create_app())`` to talk to the
simulator in-process.
"""

from __future__ import annotations

import asyncio
import random
from types import TracebackType

import httpx
from pydantic import SecretStr

from services.svenn.client.http import BearerAuth, Requester, RetryPolicy, Sleep
from services.svenn.client.resources import CustomersAPI, EmployeesAPI, ProjectsAPI, WebhooksAPI


class SvennClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        conflict_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        user_agent: str = "tripletex-sync/0.1 (+svenn-client)",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=BearerAuth(api_key),
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )
        self._requester = Requester(self._http, retry or RetryPolicy(), sleep=sleep, rng=rng)
        self.projects = ProjectsAPI(self._requester, conflict_retries=conflict_retries)
        self.customers = CustomersAPI(self._requester, conflict_retries=conflict_retries)
        self.employees = EmployeesAPI(self._requester, conflict_retries=conflict_retries)
        self.webhooks = WebhooksAPI(self._requester)

    @property
    def rate_limit_remaining(self) -> int | None:
        """Requests left in the tenant's current window, as of the last response."""
        return self._requester.rate_limit_remaining

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> SvennClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"SvennClient(base_url={self.base_url!r}, api_key=**********)"
