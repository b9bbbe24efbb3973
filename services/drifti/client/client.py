"""``DriftiClient``: the engine's async connection to one tenant's Drifti account.

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

from services.drifti.client.http import BearerAuth, Requester, RetryPolicy, Sleep
from services.drifti.client.models import Me
from services.drifti.client.resources import (
    CustomersAPI,
    HourlyRatesAPI,
    InvoicesAPI,
    JobsAPI,
    LedgerAccountsAPI,
    PaymentsAPI,
    TimeEntriesAPI,
    UsersAPI,
    WebhooksAPI,
)


class DriftiClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        user_agent: str = "tripletex-sync/0.1 (+drifti-client)",
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
        self.customers = CustomersAPI(self._requester)
        self.jobs = JobsAPI(self._requester)
        self.invoices = InvoicesAPI(self._requester)
        self.payments = PaymentsAPI(self._requester)
        self.users = UsersAPI(self._requester)
        self.hourly_rates = HourlyRatesAPI(self._requester)
        self.time_entries = TimeEntriesAPI(self._requester)
        self.ledger_accounts = LedgerAccountsAPI(self._requester)
        self.webhooks = WebhooksAPI(self._requester)

    async def me(self) -> Me:
        """The tenant this key belongs to; check it before trusting a configured key."""
        response = await self._requester.request("GET", "/api/v1/me")
        return Me.model_validate(response.json())

    @property
    def rate_limit_remaining(self) -> int | None:
        """Requests left in the tenant's current window, as of the last response."""
        return self._requester.rate_limit_remaining

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> DriftiClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"DriftiClient(base_url={self.base_url!r}, api_key=**********)"
