"""A whole two-way sync in one process: both simulators, the engine, and the webhooks between them.

``Sandbox`` is for anyone who wants to *see* the engine work without Svenn or Tripletex
accounts: the end-to-end tests, ``tsync demo``, and load tests or demos of your own. It runs,
on the current event loop and on free 127.0.0.1 ports (real HTTP, nothing mocked):

* the Tripletex simulator and the Svenn simulator (each behind uvicorn, via ``serve_asgi``);
* the engine, ``Runtime(settings, ALL_ROLES)``, with its ``http_app()`` (``engine_url``: webhooks,
  panel) and its ``internal_app()`` (``internal_url``: metrics, the token-guarded ingest API)
  behind uvicorn, against the Kafka and PostgreSQL that ``settings`` name (real ones: the sandbox
  fakes nothing);
* per tenant: a Tripletex company and a Svenn tenant, registered in a ``StaticTenantDirectory``
  with webhook secrets, and the webhooks of both sides pointed at the engine's receivers;
* the Drifti simulator too: ``add_drifti(tenant, demo=...)`` gives a tenant a Drifti account
  (optionally a demo month) whose webhooks reach the engine (Drifti → Tripletex, Part 2).

    async with Sandbox(Settings()) as sandbox:
        t = sandbox.tenant                      # one tenant is made up front; add_tenant() adds more
        await t.svenn.projects.create({"display_id": "2024.17", "name": "Bad", "start_date": "2026-01-05"})
        await sandbox.wait_until(lambda: t.tripletex_project("2024.17"), timeout=20)

User actions go through ``t.svenn`` / ``t.tripletex_api(...)``: clients with their own
User-Agent, so the simulators can tell them from the engine's writers. That is how
``engine_writes()`` counts what the *engine* wrote (successful POST/PUT/PATCH/DELETE with the
engine's User-Agent), which is what a ping-pong check needs: ``sync_outcome`` cannot serve,
because a writer that finds nothing to change still reports ``applied``.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

import asyncpg
import httpx

from services.core.settings import Settings
from services.core.tenants import (
    DriftiAccess,
    StaticTenantDirectory,
    SvennAccess,
    TenantConfig,
    TripletexAccess,
)
from services.drifti.client import DriftiClient
from services.drifti.client import RetryPolicy as DriftiRetry
from services.drifti.simulator.app import create_app as create_drifti_app
from services.drifti.simulator.state import SimState as DriftiSimState
from services.drifti.simulator.webhooks import WebhookSettings as DriftiWebhookSettings
from services.runtime import ALL_ROLES, Runtime
from services.svenn.client import RetryPolicy as SvennRetry
from services.svenn.client import SvennClient
from services.svenn.simulator.app import create_app as create_svenn_app
from services.svenn.simulator.state import SimState
from services.svenn.simulator.testing import serve_asgi
from services.svenn.simulator.webhooks import WebhookSettings
from services.tripletex.catch_up import ensure_subscriptions, webhook_url
from services.tripletex.client import ClientSettings, TripletexClient
from services.tripletex.simulator.app import create_app as create_tripletex_app
from services.tripletex.simulator.state import SimulatorState
from services.tripletex.simulator.webhooks import WebhookConfig

Side = Literal["svenn", "tripletex"]
T = TypeVar("T")

ENGINE_USER_AGENT = "tripletex-sync/"
"""Both engine clients' User-Agent starts with this (``ClientSettings`` and ``SvennClient``)."""
USER_AGENT = "sandbox-user/1.0"
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Set-up calls the engine makes that are not sync writes: sessions and webhook subscriptions.
_NOT_SYNC_WRITES = ("/v2/token/session", "/v2/event/subscription", "/api/v1/webhooks")


@dataclass(frozen=True)
class Write:
    """One successful mutating request the engine made to a simulator."""

    side: Side
    tenant_id: str
    method: str
    path: str
    status: int


@dataclass
class SandboxTenant:
    """One tenant connected on both sides, with *user* clients (not the engine's) for each."""

    tenant_id: str
    company_id: int
    svenn_api_key: str
    svenn: SvennClient
    tripletex: TripletexClient
    api_employee_id: int
    department_id: int
    # Set by ``Sandbox.add_drifti``: a user's client of the tenant's Drifti account.
    drifti: DriftiClient | None = None

    async def tripletex_api(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """A Tripletex call as a user would make it (``path`` under ``/v2``); returns the JSON body."""
        response = await self.tripletex.transport.request(method, path, json=body, params=params or None)
        return response.json() if response.content else None

    async def tripletex_list(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every row of a Tripletex listing (``/project``, ``/customer`` …), fields ``*``."""
        params.setdefault("fields", "*")
        params.setdefault("count", 1000)
        rows: list[dict[str, Any]] = (await self.tripletex_api("GET", path, **params))["values"]
        return rows

    async def tripletex_project(self, number: str) -> dict[str, Any] | None:
        rows = await self.tripletex_list("/project", number=number)
        return next((r for r in rows if r.get("number") == number), None)

    async def tripletex_customer(self, customer_number: int | str) -> dict[str, Any] | None:
        """Active or inactive (Tripletex hides inactive customers unless asked)."""
        for inactive in ("false", "true"):
            rows = await self.tripletex_list(
                "/customer", customerAccountNumber=str(customer_number), isInactive=inactive
            )
            match = next((r for r in rows if str(r.get("customerNumber")) == str(customer_number)), None)
            if match is not None:
                return match
        return None

    async def new_tripletex_project(self, number: str, name: str, **extra: Any) -> dict[str, Any]:
        """Create a project in Tripletex as a user (manager: the API user, start date today)."""
        body = {
            "name": name,
            "number": number,
            "startDate": date.today().isoformat(),
            "projectManager": {"id": self.api_employee_id},
            "isInternal": False,
            **extra,
        }
        created: dict[str, Any] = (await self.tripletex_api("POST", "/project", body))["value"]
        return created


class _WriteCounter:
    """ASGI wrapper around a simulator that records the engine's successful writes.

    Counting at the simulator's door sees what really changed hands over HTTP, which is the
    only honest measure of "the engine stopped writing" (see the module docstring).
    """

    def __init__(self, app: Any, side: Side, tenant_of: Callable[[dict[str, str]], str | None]) -> None:
        self.app, self.side, self.tenant_of = app, side, tenant_of
        self.writes: list[Write] = []

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http" or scope["method"] not in _MUTATING:
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        path: str = scope["path"]
        counted = headers.get("user-agent", "").startswith(ENGINE_USER_AGENT) and not path.startswith(
            _NOT_SYNC_WRITES
        )
        tenant = self.tenant_of(headers) if counted else None

        async def recording_send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start" and tenant and 200 <= message["status"] < 300:
                self.writes.append(Write(self.side, tenant, scope["method"], path, message["status"]))
            await send(message)

        await self.app(scope, receive, recording_send)


@dataclass
class Sandbox:
    """Both simulators and the engine, wired together; see the module docstring.

    ``webhook_retry_delays`` are the simulators' redelivery delays (short, so a sandbox run
    recovers from a hiccup in seconds, not the minutes real providers wait).
    """

    settings: Settings
    tenant_prefix: str = "sandbox"
    webhook_retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0)
    tenants: StaticTenantDirectory = field(init=False, default_factory=StaticTenantDirectory)
    connected: dict[str, SandboxTenant] = field(init=False, default_factory=dict)
    engine_url: str = field(init=False, default="")
    internal_url: str = field(init=False, default="")
    svenn_url: str = field(init=False, default="")
    tripletex_url: str = field(init=False, default="")
    drifti_url: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.svenn_state = SimState(
            webhook_settings=WebhookSettings(retry_delays=self.webhook_retry_delays, timeout_seconds=10)
        )
        self.tripletex_state = SimulatorState(
            webhook_config=WebhookConfig(retry_delays=self.webhook_retry_delays, timeout_seconds=10)
        )
        self._company_tenant: dict[int, str] = {}
        self.svenn_counter = _WriteCounter(create_svenn_app(self.svenn_state), "svenn", self._svenn_tenant)
        self.tripletex_counter = _WriteCounter(
            create_tripletex_app(self.tripletex_state), "tripletex", self._tripletex_tenant
        )
        self.drifti_state = DriftiSimState(
            webhook_settings=DriftiWebhookSettings(retry_delays=self.webhook_retry_delays, timeout_seconds=10)
        )
        # Everything here is plain http on loopback: a Secure panel cookie would never come back.
        self.settings = self.settings.model_copy(update={"panel_cookie_secure": False})
        self.runtime = Runtime(self.settings, ALL_ROLES, tenants=self.tenants)
        self._stack = AsyncExitStack()
        self._pool: asyncpg.Pool | None = None
        self._admin = httpx.AsyncClient(timeout=10)

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Sandbox:
        try:
            self.tripletex_url = await self._stack.enter_async_context(serve_asgi(self.tripletex_counter))
            self.svenn_url = await self._stack.enter_async_context(serve_asgi(self.svenn_counter))
            self.drifti_url = await self._stack.enter_async_context(
                serve_asgi(create_drifti_app(self.drifti_state))
            )
            # The engine serves once topics, migrations and the publisher are up; wait for its consumers too.
            self.engine_url = await self._stack.enter_async_context(serve_asgi(self.runtime.http_app()))
            await self.wait_until(lambda: self.runtime.started or self.runtime.failed, timeout=60)
            if self.runtime.failed is not None:
                raise RuntimeError("the engine's roles did not start") from self.runtime.failed
            # The internal listener serves the roles the public app's lifespan started.
            self.internal_url = await self._stack.enter_async_context(
                serve_asgi(self.runtime.internal_app(), lifespan="off")
            )
            self._pool = await asyncpg.create_pool(self.settings.database_url, min_size=1, max_size=3)
            await self.add_tenant()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for tenant in self.connected.values():
            await tenant.svenn.aclose()
            await tenant.tripletex.aclose()
            if tenant.drifti is not None:
                await tenant.drifti.aclose()
        self.svenn_state.dispatcher.cancel_all()
        self.drifti_state.dispatcher.cancel_all()
        self.tripletex_state.webhooks.reset()
        if self._pool is not None:
            await self._pool.close()
        await self._admin.aclose()
        await self._stack.aclose()

    # ------------------------------------------------------------------ tenants
    @property
    def tenant(self) -> SandboxTenant:
        """The tenant made when the sandbox started."""
        return next(iter(self.connected.values()))

    async def add_tenant(self, tenant_id: str | None = None, *, webhooks: bool = True) -> SandboxTenant:
        """Create a company in Tripletex and a tenant in Svenn, register both, connect the webhooks.

        ``webhooks=False`` leaves them unconnected (``connect_webhooks`` does it later): the state
        of a tenant that has data on both sides before switching the integration on.
        """
        tenant_id = tenant_id or f"{self.tenant_prefix}-{uuid.uuid4().hex[:8]}"
        company = (
            await self._admin.post(f"{self.tripletex_url}/_sim/companies", json={"name": tenant_id})
        ).json()
        r = await self._admin.post(f"{self.svenn_url}/_sim/tenants", json={"name": tenant_id})
        r.raise_for_status()  # the Svenn tenant is named like the engine's: its webhooks say so
        api_key: str = r.json()["api_key"]
        svenn_secret, tripletex_secret = (f"whsec_{secrets.token_urlsafe(24)}" for _ in range(2))
        self._company_tenant[int(company["id"])] = tenant_id
        self.tenants.put(
            TenantConfig(
                tenant_id=tenant_id,
                svenn=SvennAccess(base_url=self.svenn_url, api_key=api_key, webhook_secret=svenn_secret),
                tripletex=TripletexAccess(
                    base_url=f"{self.tripletex_url}/v2",
                    consumer_token=company["consumerToken"],
                    employee_token=company["employeeToken"],
                    webhook_secret=tripletex_secret,
                ),
            )
        )
        svenn = SvennClient(
            self.svenn_url, api_key, user_agent=USER_AGENT, retry=SvennRetry(backoff_base=0.05)
        )
        tripletex = TripletexClient(
            f"{self.tripletex_url}/v2",
            tenant_id,
            consumer_token=company["consumerToken"],
            employee_token=company["employeeToken"],
            settings=ClientSettings(user_agent=USER_AGENT),
        )
        company_state = self.tripletex_state.companies[int(company["id"])]
        sandbox_tenant = SandboxTenant(
            tenant_id=tenant_id,
            company_id=int(company["id"]),
            svenn_api_key=api_key,
            svenn=svenn,
            tripletex=tripletex,
            api_employee_id=int(company["apiEmployeeId"]),
            department_id=next(iter(company_state.table("Department"))),
        )
        self.connected[tenant_id] = sandbox_tenant
        if webhooks:
            await self.connect_webhooks(sandbox_tenant)
        return sandbox_tenant

    async def add_drifti(
        self, tenant: SandboxTenant, *, demo: dict[str, Any] | None = None, webhooks: bool = True
    ) -> DriftiClient:
        """Give the tenant a Drifti account (``demo={"seed": 1, "month": "2026-10"}`` fills it with a
        demo month, back-dated, no webhooks sent for it), register it, and point its webhooks at the
        engine. Returns a user's client of that account (also ``tenant.drifti``)."""
        body: dict[str, Any] = {"name": tenant.tenant_id}
        if demo is not None:
            body["demo"] = demo
        r = await self._admin.post(f"{self.drifti_url}/_sim/tenants", json=body)
        r.raise_for_status()
        api_key: str = r.json()["api_key"]
        secret = f"whsec_{secrets.token_urlsafe(24)}"
        config = await self.tenants.get(tenant.tenant_id)
        access = DriftiAccess(base_url=self.drifti_url, api_key=api_key, webhook_secret=secret)
        self.tenants.put(config.model_copy(update={"drifti": access}))
        tenant.drifti = DriftiClient(
            self.drifti_url, api_key, user_agent=USER_AGENT, retry=DriftiRetry(backoff_base=0.05)
        )
        if webhooks:
            await tenant.drifti.webhooks.create(
                f"{self.engine_url}/webhooks/drifti/{tenant.tenant_id}", secret=secret
            )
        return tenant.drifti

    async def svenn_faults(self, tenant_id: str, **config: Any) -> None:
        """Set the Svenn simulator's faults or rate limit for a tenant (see services/svenn/API.md §9)."""
        response = await self._admin.put(f"{self.svenn_url}/_sim/tenants/{tenant_id}/faults", json=config)
        response.raise_for_status()

    async def connect_webhooks(self, tenant: SandboxTenant) -> None:
        """Point both sides' webhooks at the engine (Svenn subscription, Tripletex subscriptions)."""
        config = await self.tenants.get(tenant.tenant_id)
        assert config.svenn is not None and config.tripletex is not None
        assert config.svenn.webhook_secret is not None and config.tripletex.webhook_secret is not None
        await tenant.svenn.webhooks.create(
            f"{self.engine_url}/webhooks/svenn/{tenant.tenant_id}",
            secret=config.svenn.webhook_secret.get_secret_value(),
        )
        # Subscribed with the engine's own client, as the engine would do when a tenant connects.
        await ensure_subscriptions(
            await self.runtime.tripletex_clients(tenant.tenant_id),
            tenant.tenant_id,
            webhook_url(self.engine_url, tenant.tenant_id),
            hmac_secret=config.tripletex.webhook_secret.get_secret_value(),
        )

    def _svenn_tenant(self, headers: dict[str, str]) -> str | None:
        scheme, _, key = headers.get("authorization", "").partition(" ")
        found = self.svenn_state.tenant_for_key(key) if scheme.lower() == "bearer" else None
        return found.name if found else None

    def _tripletex_tenant(self, headers: dict[str, str]) -> str | None:
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        token = base64.b64decode(encoded).decode().partition(":")[2]
        session = self.tripletex_state.sessions.get(token)
        return self._company_tenant.get(session.company_id) if session else None

    # ------------------------------------------------------------------ what each side holds
    async def svenn_dump(self, tenant_id: str | None = None) -> dict[str, Any]:
        """Svenn's records of the tenant (projects, customers, employees, webhooks)."""
        r = await self._admin.get(f"{self.svenn_url}/_sim/tenants/{self._id(tenant_id)}/dump")
        r.raise_for_status()
        dump: dict[str, Any] = r.json()
        return dump

    async def tripletex_dump(self, tenant_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Tripletex's objects of the tenant's company, by schema (``Project``, ``Customer`` …)."""
        company_id = self.connected[self._id(tenant_id)].company_id
        r = await self._admin.get(f"{self.tripletex_url}/_sim/companies/{company_id}")
        r.raise_for_status()
        data: dict[str, list[dict[str, Any]]] = r.json()["data"]
        return data

    # ------------------------------------------------------------------ what the engine holds
    async def decisions(self, tenant_id: str | None = None) -> list[asyncpg.Record]:
        """The tenant's decision log (rule id, verdict, reason per change), oldest first."""
        return await self._fetch("SELECT * FROM decision_log WHERE tenant_id = $1 ORDER BY seq", tenant_id)

    async def links(self, tenant_id: str | None = None) -> list[asyncpg.Record]:
        """The tenant's link table, one row per direction (Svenn → Tripletex and back)."""
        return await self._fetch(
            "SELECT * FROM link WHERE tenant_id = $1 ORDER BY entity_type, system, entity_id", tenant_id
        )

    async def errors(self, tenant_id: str | None = None, *, open_only: bool = False) -> list[asyncpg.Record]:
        """The tenant's error log (S-X1), oldest first."""
        where = " AND resolved_at IS NULL" if open_only else ""
        return await self._fetch(
            f"SELECT * FROM error_log WHERE tenant_id = $1{where} ORDER BY first_seen", tenant_id
        )

    async def outcomes(self, tenant_id: str | None = None) -> list[asyncpg.Record]:
        """Every writer outcome of the tenant (``sync_outcome``), in the order they were recorded."""
        return await self._fetch(
            "SELECT * FROM sync_outcome WHERE tenant_id = $1 ORDER BY recorded_at", tenant_id
        )

    def engine_writes(self, tenant_id: str | None = None, side: Side | None = None) -> int:
        """How many writes the engine has made to the tenant's records (both sides, or one)."""
        tenant = self._id(tenant_id)
        counters = [c for c in (self.svenn_counter, self.tripletex_counter) if side in (None, c.side)]
        return sum(1 for c in counters for w in c.writes if w.tenant_id == tenant)

    def write_log(self, tenant_id: str | None = None) -> list[Write]:
        tenant = self._id(tenant_id)
        return sorted(
            (
                w
                for c in (self.svenn_counter, self.tripletex_counter)
                for w in c.writes
                if w.tenant_id == tenant
            ),
            key=lambda w: w.side,
        )

    # ------------------------------------------------------------------ waiting
    @overload
    async def wait_until(
        self,
        predicate: Callable[[], Awaitable[T | None]],
        timeout: float = ...,  # noqa: ASYNC109
        interval: float = ...,
    ) -> T: ...
    @overload
    async def wait_until(
        self,
        predicate: Callable[[], T | None],
        timeout: float = ...,  # noqa: ASYNC109
        interval: float = ...,
    ) -> T: ...
    async def wait_until(
        self,
        predicate: Callable[[], Any],
        timeout: float = 20.0,  # noqa: ASYNC109 (a deadline per condition reads better than a scope)
        interval: float = 0.1,
    ) -> Any:
        """Poll ``predicate`` (sync or async) until it returns something truthy; return that.

        Everything in the sandbox is eventually consistent (webhooks, Kafka, projections), so
        asserting means waiting for a state, with a deadline that fails loudly.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"condition not met within {timeout:.0f}s: {getattr(predicate, '__name__', predicate)}"
                )
            await asyncio.sleep(interval)

    async def settle(
        self,
        tenant_id: str | None = None,
        *,
        quiet: float = 3.0,
        timeout: float = 30.0,  # noqa: ASYNC109 (as in wait_until)
    ) -> int:
        """Wait until no webhook is in flight and the engine has not written for ``quiet`` seconds.

        Returns the tenant's engine write count then: the figure a ping-pong check compares.
        """
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = self.engine_writes(tenant_id)
            busy = (
                self.svenn_state.dispatcher.pending
                or self.drifti_state.dispatcher.pending
                or any(d.status == "PENDING" for d in self.tripletex_state.webhooks.deliveries)
            )
            if count != last or busy:
                last, since = count, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return count
            await asyncio.sleep(0.1)
        raise TimeoutError(f"the engine kept writing for {timeout:.0f}s (writes: {last})")

    # ------------------------------------------------------------------ helpers
    def _id(self, tenant_id: str | None) -> str:
        return tenant_id or self.tenant.tenant_id

    async def _fetch(self, sql: str, tenant_id: str | None) -> list[asyncpg.Record]:
        assert self._pool is not None, "the sandbox is not running"
        rows: list[asyncpg.Record] = await self._pool.fetch(sql, self._id(tenant_id))
        return rows
