"""``DriftiClient``: the engine's async connection to one tenant's Drifti account.

One client per tenant (the API key is per tenant). Use it as an async context manager, or
call ``aclose()``. Pass ``transport=httpx.ASGITransport(app=create_app())`` to talk to the
simulator in-process.
"""

from __future__ import annotations

from typing import Unpack

from pydantic import SecretStr

from services.drifti.client.http import DIALECT
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
from services.restclient.tenant_client import ConnectionOptions, TenantApiClient


class DriftiClient(TenantApiClient):
    """Options (``timeout``, ``retry``, ``transport``, ``sleep``, ``rng``, ``user_agent``) are
    ``services.restclient.tenant_client.ConnectionOptions``."""

    dialect = DIALECT
    default_user_agent = "tripletex-sync/0.1 (+drifti-client)"

    def __init__(self, base_url: str, api_key: str | SecretStr, **options: Unpack[ConnectionOptions]) -> None:
        super().__init__(base_url, api_key, **options)
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
