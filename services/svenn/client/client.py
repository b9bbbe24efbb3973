"""``SvennClient``: the engine's async connection to one tenant's Svenn account.

One client per tenant (the API key is per tenant). Use it as an async context manager, or
call ``aclose()``. Pass ``transport=httpx.ASGITransport(app=create_app())`` to talk to the
simulator in-process.
"""

from __future__ import annotations

from typing import Unpack

from pydantic import SecretStr

from services.restclient.tenant_client import ConnectionOptions, TenantApiClient
from services.svenn.client.http import DIALECT
from services.svenn.client.resources import CustomersAPI, EmployeesAPI, ProjectsAPI, WebhooksAPI


class SvennClient(TenantApiClient):
    """Options (``timeout``, ``retry``, ``transport``, ``sleep``, ``rng``, ``user_agent``) are
    ``services.restclient.tenant_client.ConnectionOptions``."""

    dialect = DIALECT
    default_user_agent = "tripletex-sync/0.1 (+svenn-client)"

    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr,
        *,
        conflict_retries: int = 3,
        **options: Unpack[ConnectionOptions],
    ) -> None:
        super().__init__(base_url, api_key, **options)
        self.projects = ProjectsAPI(self._requester, conflict_retries=conflict_retries)
        self.customers = CustomersAPI(self._requester, conflict_retries=conflict_retries)
        self.employees = EmployeesAPI(self._requester, conflict_retries=conflict_retries)
        self.webhooks = WebhooksAPI(self._requester)
