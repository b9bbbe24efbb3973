"""Builds and runs any set of the engine's roles in one process.

Each role can run alone (``tsync run decision``) or all together (``tsync run all``); either
way the process has one Kafka broker connection, one HTTP server (health, readiness, and the
ingest API when the ingest role is there) and, for projections, one database pool.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from faststream import FastStream
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from contracts.envelope import SourceSystem
from projections import consumer as projections_consumer
from projections import open_errors
from projections.database import Database
from services.core import metrics
from services.core.batch_consumer import BatchConsumer
from services.core.lag import measure_lag
from services.core.logs import configure_logging
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, TenantDirectory
from services.core.topic_admin import ensure_topics
from services.core.tracing import configure_tracing
from services.decision import consumer as decision
from services.drifti.hours.http import hours_export_routes
from services.drifti.ingest import DriftiReaders, drifti_webhook_routes
from services.ingest.catch_up import CatchUp
from services.ingest.http import change_routes
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
        self.tenants = tenants or StaticTenantDirectory.from_file(settings.tenants_file)
        self.roles = tuple(dict.fromkeys(roles))
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            client_id=f"{settings.service_name}-{'-'.join(self.roles)}",
            # FastStream's service messages go through our logging set-up (JSON, levels) ...
            logger=logging.getLogger("tripletex_sync.kafka"),
            # ... and its per-message lines sit at DEBUG: the hot path logs per batch instead.
            log_level=logging.DEBUG,
        )
        # The tenant registry (TENANT_SECRET_KEYS set, no TENANTS_FILE) puts every role on the database.
        uses_registry = tenants is None and registry_configured(settings)
        needs_database = Role.PROJECTIONS in self.roles or Role.DECISION in self.roles or uses_registry
        self.database = Database(settings.database_url) if needs_database else None
        if uses_registry and self.database is not None:
            self.tenants = registry_directory(settings, self.database)
        # Writers park a paused tenant's commands when the tenants come from the registry.
        self.write_gate = gate_for(self.tenants)
        self.publisher = Publisher(settings)
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
                        self.broker, self.publisher, settings, side, self.tenants, gate=self.write_gate
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
        self.catch_up = (
            CatchUp(settings, self.tenants, self.publisher, self.tripletex_clients, self.drifti_readers)
            if catch_up
            else None
        )
        self.started = False

    async def start(self) -> None:
        await self._prepare()
        await self.broker.start()
        if self.catch_up is not None:
            await self.catch_up.start()
        self.started = True
        log.info("started", extra={"roles": list(self.roles)})

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

    async def _prepare(self) -> None:
        if self.settings.create_topics:
            await ensure_topics(self.settings)
        if self.database is not None:
            await self.database.start()
        await self.publisher.start()

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
        """Health, readiness and (with the ingest role) the ingest API; its lifespan runs the roles."""

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        # FastAPI's own request spans would be a second server span (and trace) per webhook: the
        # receivers make theirs, with the tenant, continuing the caller's traceparent (STYLE: one mechanism).
        api = FastAPI(title="tripletex-sync", lifespan=lifespan, telemetry={"tracing": False})

        @api.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @api.get("/metrics")
        async def metrics_endpoint() -> Response:
            if self.started:
                for (consumer, topic), value in (
                    await measure_lag(self.settings, self.consumer_topics())
                ).items():
                    metrics.CONSUMER_LAG.labels(consumer, topic).set(value)
            if self.started and self.database is not None and Role.PROJECTIONS in self.roles:
                await open_errors.refresh_gauge(self.database.pool)
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        @api.get("/readyz")
        async def readyz() -> JSONResponse:
            ready = self.started and await self.broker.ping(timeout=2.0)
            return JSONResponse(
                {"ready": ready, "roles": list(self.roles)}, status_code=200 if ready else 503
            )

        if Role.INGEST in self.roles:
            api.include_router(change_routes(self.publisher))
            api.include_router(svenn_webhook_routes(self.publisher, self.tenants))
            api.include_router(drifti_webhook_routes(self.publisher, self.tenants, self.drifti_readers))
            api.include_router(readiness_routes(self.tenants))
            api.include_router(hours_export_routes(self.tenants, self.publisher, self.settings.database_url))
            api.include_router(
                tripletex_webhook_routes(self.publisher, self.tenants, client_fetcher(self.tripletex_clients))
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
                )
            )
        return api


def serve(roles: Iterable[Role], settings: Settings | None = None) -> None:
    """Run the roles until SIGINT/SIGTERM (uvicorn handles the signals and the lifespan)."""
    import uvicorn

    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing(settings.service_name)
    runtime = Runtime(settings, roles)
    uvicorn.run(
        runtime.http_app(),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )
