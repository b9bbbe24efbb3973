"""Builds and runs any set of the engine's roles in one process.

Each role can run alone (``tsync run decision``) or all together (``tsync run all``); either
way the process has one Kafka broker connection, two HTTP listeners and, for projections, one
database pool:

* the public one (``HTTP_PORT``, ``http_app``): ``/healthz``, ``/readyz``, with the ingest role
  the signed webhooks under ``/webhooks/``, with the projections role the panel (own login);
* the internal one (``INTERNAL_HTTP_PORT``, ``internal_app``), never behind the public Ingress:
  ``/metrics``, and with the ingest role the ingest API ``POST /v1/changes`` (a producer's token
  from ``INGEST_API_TOKENS``) and ``GET /tenants/{t}/readiness`` (an ``OPERATOR_TOKENS`` token).

Both refuse a body over ``MAX_BODY_BYTES`` with 413 before reading it in full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from enum import StrEnum
from types import FrameType
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from faststream import FastStream
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from contracts.envelope import SourceSystem
from projections import consumer as projections_consumer
from projections import open_errors
from projections.database import Database
from services.core import kafka_security, metrics
from services.core.batch_consumer import BatchConsumer
from services.core.http_edge import BearerTokens, BodyLimit, RecentAnswers, TokenListError
from services.core.lag import measure_lag
from services.core.logs import configure_logging
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import InsecureBaseUrl, StaticTenantDirectory, TenantDirectory
from services.core.topic_admin import ensure_topics
from services.core.tracing import configure_tracing
from services.core.writer import CommandWriter
from services.decision import consumer as decision
from services.drifti.hours.http import hours_export_routes
from services.drifti.ingest import DriftiReaders, drifti_webhook_routes
from services.ingest.catch_up import CatchUp
from services.ingest.http import change_routes
from services.ingest.watermarks import PostgresWatermarks
from services.onboarding.http import readiness_routes
from services.panel.routes import panel_routes
from services.svenn.ingest import svenn_webhook_routes
from services.tenants.directory import registry_configured, registry_directory
from services.tenants.parking import gate_for
from services.tripletex.ingest import TripletexClients, client_fetcher, tripletex_webhook_routes
from services.tripletex.writer import process_limiters
from services.writers import registry as writers

log = logging.getLogger(__name__)


class Role(StrEnum):
    INGEST = "ingest"
    DECISION = "decision"
    TRIPLETEX_WRITER = "tripletex-writer"
    SVENN_WRITER = "svenn-writer"
    PROJECTIONS = "projections"


ALL_ROLES = tuple(Role)


class Runtime:
    def __init__(
        self, settings: Settings, roles: Iterable[Role], tenants: TenantDirectory | None = None
    ) -> None:
        self.settings = settings
        self.tenants = tenants or StaticTenantDirectory.from_file(
            settings.tenants_file, allow_plain_http=settings.allow_plain_http
        )
        self.roles = tuple(dict.fromkeys(roles))
        self.broker = kafka_security.broker(
            settings,
            client_id=f"{settings.service_name}-{'-'.join(self.roles)}",
            # FastStream's service messages go through our logging set-up (JSON, levels) ...
            logger=logging.getLogger("tripletex_sync.kafka"),
            # ... and its per-message lines sit at DEBUG: the hot path logs per batch instead.
            log_level=logging.DEBUG,
        )
        # The tenant registry (TENANT_SECRET_KEYS set, no TENANTS_FILE) puts every role on the database.
        uses_registry = tenants is None and registry_configured(settings)
        # Writers park the commands of a tenant whose side does not answer (services/tenants/outages.py).
        writes = Role.TRIPLETEX_WRITER in self.roles or Role.SVENN_WRITER in self.roles
        needs_database = (
            Role.PROJECTIONS in self.roles or Role.DECISION in self.roles or writes or uses_registry
        )
        self.database = Database(settings.database_url) if needs_database else None
        if uses_registry and self.database is not None:
            self.tenants = registry_directory(settings, self.database)
        # Writers park a paused tenant's commands when the tenants come from the registry.
        self.write_gate = gate_for(self.tenants)
        self.publisher = Publisher(settings)
        # Parsed here, so a malformed token list stops the process at start-up, naming the variable.
        self.producers = BearerTokens.parse("INGEST_API_TOKENS", settings.ingest_api_tokens)
        self.operators = BearerTokens.parse("OPERATOR_TOKENS", settings.operator_tokens)
        self._database_lock = asyncio.Lock()
        self.consumers: list[BatchConsumer[Any]] = []
        if self.database is not None and Role.DECISION in self.roles:
            self.consumers.append(decision.register(self.broker, self.publisher, settings, self.database))
        for role, side in (
            (Role.TRIPLETEX_WRITER, SourceSystem.TRIPLETEX),
            (Role.SVENN_WRITER, SourceSystem.SVENN),
        ):
            if role in self.roles:
                self.consumers.append(
                    writers.register(
                        self.broker,
                        self.publisher,
                        settings,
                        side,
                        self.tenants,
                        gate=self.write_gate,
                        database=self.database,
                    )
                )
        if self.database is not None and Role.PROJECTIONS in self.roles:
            self.consumers.append(
                projections_consumer.register(self.broker, self.publisher, settings, self.database)
            )
        # One Tripletex client per tenant for the ingest's record fetches (webhooks may carry only an id).
        self.tripletex_clients = TripletexClients(self.tenants, limiters=process_limiters())
        # One Drifti reader per tenant: webhooks and polls embed customers and jobs in snapshots.
        self.drifti_readers = DriftiReaders(self.tenants)
        catch_up = Role.INGEST in self.roles and settings.catch_up
        # Watermarks in PostgreSQL whatever the tenants come from: a restart (or an outage of the
        # ingest itself) of any length is then caught up, not only one within the lookback.
        self.catch_up = (
            CatchUp(
                settings,
                self.tenants,
                self.publisher,
                self.tripletex_clients,
                self.drifti_readers,
                watermarks=PostgresWatermarks(self.database_pool),
            )
            if catch_up
            else None
        )
        self.started = False
        self.failed: BaseException | None = None

    async def start(self) -> None:
        await self._prepare()
        await self._start_consumers()

    async def _start_consumers(self) -> None:
        """Join the consumer groups (seconds, while the group rebalances) and start the catch-up."""
        await self.broker.start()
        if self.catch_up is not None:
            await self.catch_up.start()
        self.started = True
        log.info("started", extra={"roles": list(self.roles)})

    async def _consumers_in_background(self) -> None:
        try:
            await self._start_consumers()
        except Exception as exc:  # the process is not healthy: /healthz and /readyz say so
            self.failed = exc
            log.exception("the roles did not start")
            raise

    async def stop(self) -> None:
        self.started = False
        if self.catch_up is not None:
            await self.catch_up.stop()
        await self.broker.stop()
        await self._release()
        await self.publisher.stop()
        if self.database is not None:
            await self.database.stop()

    def consumer_topics(self) -> dict[str, list[str]]:
        """The consumer groups this process runs and the (prefixed) topics each reads."""
        groups: dict[str, list[str]] = {}
        for subscriber in self.broker.subscribers:
            group = getattr(subscriber, "group_id", None) or ""
            topics = list(getattr(subscriber, "topic_names", ()) or ())
            consumer = group.removeprefix(self.settings.topic_prefix)
            if consumer:
                groups.setdefault(consumer, []).extend(topics)
        return groups

    def faststream(self) -> FastStream:
        """The roles as a FastStream application (for ``faststream run`` and AsyncAPI documents)."""
        return FastStream(self.broker, on_startup=[self._prepare], after_shutdown=[self._close])

    async def database_pool(self) -> asyncpg.Pool:
        """The process's database pool; a role without one (the ingest alone) opens it on first use, once."""
        async with self._database_lock:
            if self.database is None:
                self.database = Database(self.settings.database_url)
            await self.database.start()  # opens and migrates only the first time
        return self.database.pool

    async def _prepare(self) -> None:
        if self.settings.create_topics:
            await ensure_topics(self.settings)
        if self.database is not None:
            await self.database.start()
        await self.publisher.start()
        for consumer in self.consumers:
            if isinstance(consumer, CommandWriter):
                await consumer.start()  # the probe of tenants whose side does not answer

    async def _release(self) -> None:
        for consumer in self.consumers:
            await consumer.aclose()
        await self.tripletex_clients.aclose()
        await self.drifti_readers.aclose()

    async def _close(self) -> None:
        await self._release()
        await self.publisher.stop()
        if self.database is not None:
            await self.database.stop()

    def http_app(self) -> FastAPI:
        """The public listener: health, readiness, webhooks, panel. Its lifespan runs the roles."""

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            # What a webhook needs (topics, database, publisher) first; the consumer groups join
            # while the webhooks are already served, so a restart does not refuse deliveries for
            # the seconds a rebalance takes.
            await self._prepare()
            consumers = asyncio.create_task(self._consumers_in_background(), name="start-consumers")
            try:
                yield
            finally:
                if not consumers.done():
                    consumers.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await consumers
                await self.stop()

        # FastAPI's own request spans would be a second server span (and trace) per webhook: the
        # receivers make theirs, with the tenant, continuing the caller's traceparent (STYLE: one mechanism).
        api = FastAPI(title="tripletex-sync", lifespan=lifespan, telemetry={"tracing": False})
        api.add_middleware(BodyLimit, max_bytes=self.settings.max_body_bytes)
        api.add_api_route("/healthz", self._healthz, methods=["GET"])

        @api.get("/readyz")
        async def readyz() -> JSONResponse:
            ready = self.started and await self.broker.ping(timeout=2.0)
            return JSONResponse(
                {"ready": ready, "roles": list(self.roles)}, status_code=200 if ready else 503
            )

        if Role.INGEST in self.roles:
            api.include_router(svenn_webhook_routes(self.publisher, self.tenants))
            api.include_router(drifti_webhook_routes(self.publisher, self.tenants, self.drifti_readers))
            api.include_router(hours_export_routes(self.tenants, self.publisher, self.database_pool))
            api.include_router(
                tripletex_webhook_routes(
                    self.publisher,
                    self.tenants,
                    client_fetcher(self.tripletex_clients),
                    recent=RecentAnswers(self.settings.tripletex_dedupe_window_s),
                )
            )
        if self.database is not None and Role.PROJECTIONS in self.roles:
            secret = self.settings.panel_session_secret
            api.include_router(
                panel_routes(
                    self.database,
                    self.tenants,
                    self.publisher,
                    self.tripletex_clients,
                    secret.get_secret_value() if secret else None,
                    cookie_secure=self.settings.panel_cookie_secure,
                )
            )
        return api

    def internal_app(self) -> FastAPI:
        """The internal listener: metrics, and with the ingest role the ingest API and readiness.

        No lifespan: it serves the roles the public app's lifespan runs (``serve`` starts it after).
        """
        api = FastAPI(title="tripletex-sync internal", telemetry={"tracing": False})
        api.add_middleware(BodyLimit, max_bytes=self.settings.max_body_bytes)
        api.add_api_route("/healthz", self._healthz, methods=["GET"])
        api.add_api_route("/metrics", self._metrics, methods=["GET"])
        if Role.INGEST in self.roles:
            api.include_router(change_routes(self.publisher, self.producers))
            api.include_router(readiness_routes(self.tenants, self.operators))
        return api

    async def _healthz(self) -> JSONResponse:
        """Alive unless the roles failed to start (then the orchestrator restarts the process)."""
        if self.failed is not None:
            return JSONResponse({"status": "failed", "error": type(self.failed).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def _metrics(self) -> Response:
        if self.started:
            for (consumer, topic), value in (
                await measure_lag(self.settings, self.consumer_topics())
            ).items():
                metrics.CONSUMER_LAG.labels(consumer, topic).set(value)
        if self.started and self.database is not None and Role.PROJECTIONS in self.roles:
            await open_errors.refresh_gauge(self.database.pool)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def serve(roles: Iterable[Role], settings: Settings | None = None) -> None:
    """Run the roles until SIGINT/SIGTERM: both listeners in one event loop (see ``serve_both``)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing(settings.service_name)
    try:
        runtime = Runtime(settings, roles)
    except (TokenListError, kafka_security.KafkaSecurityError, InsecureBaseUrl) as exc:
        raise SystemExit(f"tsync: {exc}") from None  # one line, naming the variable, never a secret
    if Role.INGEST in runtime.roles and not runtime.producers:
        log.warning("INGEST_API_TOKENS is not set: the ingest API refuses every change")
    asyncio.run(serve_both(runtime))


def server_options(settings: Settings) -> dict[str, Any]:
    """What both listeners share. ``X-Forwarded-For``/``-Proto`` count only from the proxies named
    in ``FORWARDED_ALLOW_IPS``: anyone else could claim another address or HTTPS with them."""
    return {
        "host": settings.http_host,
        "log_config": None,
        "access_log": False,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
    }


async def serve_both(runtime: Runtime) -> None:
    """The public and the internal listener of ``runtime`` until a signal stops them.

    Both ports are bound first (a port in use fails before anything starts). The public app's
    lifespan prepares what requests need and then joins the consumer groups in the background; the
    internal listener opens once the public one serves. On SIGINT/SIGTERM the
    internal listener stops first and the public one waits for it before its lifespan stops the
    roles, so no change is taken by a process that is stopping its publisher.
    """
    settings = runtime.settings
    options = server_options(settings)
    internal = _InternalServer(
        uvicorn.Config(runtime.internal_app(), port=settings.internal_http_port, lifespan="off", **options)
    )
    public = _PublicServer(uvicorn.Config(runtime.http_app(), port=settings.http_port, **options), internal)
    sockets = (public.config.bind_socket(), internal.config.bind_socket())
    try:
        serving = asyncio.create_task(public.serve(sockets=[sockets[0]]))
        while not public.started:  # uvicorn exposes a flag, not an event
            if serving.done():
                await serving  # start-up failed (uvicorn logged why)
                return
            await asyncio.sleep(0.05)
        public.internal_serving = asyncio.create_task(internal.serve(sockets=[sockets[1]]))
        await serving
    finally:
        for sock in sockets:
            sock.close()


class _InternalServer(uvicorn.Server):
    """Leaves signals to the public server, which stops this one."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _PublicServer(uvicorn.Server):
    """Stops the internal server with itself, and waits for it before the lifespan stops the roles."""

    def __init__(self, config: uvicorn.Config, internal: uvicorn.Server) -> None:
        super().__init__(config)
        self.internal = internal
        self.internal_serving: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.internal.should_exit = True
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        self.internal.should_exit = True
        if self.internal_serving is not None:
            await self.internal_serving
        await super().shutdown(sockets=sockets)
