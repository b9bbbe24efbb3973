"""The tenant-scoped Tripletex client: one object per tenant, with one attribute per area.

Construct it with the tenant's tokens; pass ``http_client`` or ``transport`` to run it against
an in-process simulator (``httpx.ASGITransport(app=...)``) or a mock. Share one
:class:`LimiterRegistry` between all tenants' clients in a process, so each tenant is paced
on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType

import httpx
from pydantic import SecretStr

from services.core.http_spans import traced

from .activities import ActivitiesApi
from .config import ClientSettings, TripletexCredentials
from .customers import CustomersApi
from .employees import EmployeesApi
from .envelopes import parse_value
from .errors import Redactor
from .invoices import InvoicesApi
from .ledger import LedgerApi
from .models import LoggedInUserInfo
from .projects import ProjectsApi
from .rate_limit import LimiterRegistry
from .rates import HourlyRatesApi
from .session import Clock, SessionManager, utc_now
from .timesheet import TimesheetApi
from .transport import Transport

Sleep = Callable[[float], Awaitable[None]]


class TripletexClient:
    """Async Tripletex API v2 client for one tenant."""

    def __init__(
        self,
        base_url: str,
        tenant_id: str,
        *,
        consumer_token: str | SecretStr,
        employee_token: str | SecretStr,
        company_id: str = "0",
        settings: ClientSettings | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limiters: LimiterRegistry | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = utc_now,
        rand: Callable[[], float] | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.settings = settings or ClientSettings()
        self._credentials = TripletexCredentials(
            consumer_token=SecretStr(consumer_token) if isinstance(consumer_token, str) else consumer_token,
            employee_token=SecretStr(employee_token) if isinstance(employee_token, str) else employee_token,
            company_id=company_id,
        )
        self._redactor = Redactor(
            [
                self._credentials.consumer_token.get_secret_value(),
                self._credentials.employee_token.get_secret_value(),
            ]
        )
        self._owns_http = http_client is None
        self._http = http_client or traced(
            httpx.AsyncClient(
                transport=transport,
                timeout=self.settings.timeout_seconds,
                headers={"User-Agent": self.settings.user_agent},
            )
        )
        limiters = limiters or LimiterRegistry(self.settings.limiter, sleep=sleep)
        self.sessions = SessionManager(
            self._http,
            base_url,
            self._credentials,
            policy=self.settings.session,
            redactor=self._redactor,
            tenant_id=tenant_id,
            retry=self.settings.retry,
            sleep=sleep,
            clock=clock,
        )
        self.transport = Transport(
            self._http,
            base_url,
            tenant_id=tenant_id,
            company_id=company_id,
            sessions=self.sessions,
            limiter=limiters.for_tenant(tenant_id),
            retry=self.settings.retry,
            redactor=self._redactor,
            sleep=sleep,
            rand=rand,
        )
        self.projects = ProjectsApi(self.transport, sleep=sleep)
        self.customers = CustomersApi(self.transport, sleep=sleep)
        self.employees = EmployeesApi(self.transport, sleep=sleep)
        self.activities = ActivitiesApi(self.transport, sleep=sleep)
        self.hourly_rates = HourlyRatesApi(self.transport, sleep=sleep)
        self.timesheet = TimesheetApi(self.transport, sleep=sleep)
        self.ledger = LedgerApi(self.transport, sleep=sleep)
        self.invoices = InvoicesApi(self.transport, sleep=sleep)

    def __repr__(self) -> str:
        return f"TripletexClient(tenant={self.tenant_id!r}, credentials=**********)"

    async def who_am_i(self) -> LoggedInUserInfo:
        """Cheap identity and health check (``GET /token/session/>whoAmI``)."""
        response = await self.transport.request("GET", "/token/session/>whoAmI")
        return parse_value(response, LoggedInUserInfo)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> TripletexClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
