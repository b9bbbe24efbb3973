"""Catch-up behind the webhooks, per tenant: Svenn and Drifti polls, Tripletex's full pass and subscriptions.

Webhooks can be lost (downtime, a delivery the sender gave up on) and Tripletex's can skip
versions, so the ingest also reads each side on a schedule. Both publish the same event ids the
webhooks did for the same record versions, so what was already seen is absorbed downstream and
only what was missed is new. Tripletex also switches off a subscription whose deliveries keep
failing; the subscription check switches it on again and reads what it missed.

The tenant list is read again every round (the shortest of the poll and check intervals): a
tenant added, resumed or given new credentials is caught up without a restart, and one paused,
removed or disconnected stops. Each job of each tenant is a task of its own, so one slow or
failing tenant holds up no other. Poll watermarks live in PostgreSQL when the ingest has the
database (the tenant registry), else in this process's memory (``services/ingest/watermarks.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from services.core import safe_errors
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import SvennAccess, TenantConfig, TenantDirectory
from services.drifti.catch_up import drifti_catch_up_loop
from services.drifti.ingest import DriftiReaders
from services.ingest.watermarks import MemoryWatermarks, PostgresWatermarks, TenantWatermarks, WatermarkStore
from services.svenn.catch_up import SVENN_RESOURCES, poll_svenn_changes
from services.svenn.client import SvennClient
from services.tenants.directory import PostgresTenantDirectory
from services.tripletex.catch_up import SubscriptionGuard, reconcile_tripletex, webhook_url
from services.tripletex.ingest import ClientFactory

log = logging.getLogger(__name__)

SVENN_POLL = "svenn-poll"
DRIFTI_POLL = "drifti-poll"
TRIPLETEX_PASS = "tripletex-pass"
TRIPLETEX_SUBSCRIPTIONS = "tripletex-subscriptions"

JobKey = tuple[str, str]  # (tenant id, job)


def default_watermarks(tenants: TenantDirectory) -> WatermarkStore:
    """PostgreSQL when the tenants come from the registry (the ingest has the database), else memory."""
    if isinstance(tenants, PostgresTenantDirectory):
        return PostgresWatermarks.of(tenants.database)
    return MemoryWatermarks()


class CatchUp:
    def __init__(
        self,
        settings: Settings,
        tenants: TenantDirectory,
        publisher: Publisher,
        tripletex: ClientFactory,
        drifti: DriftiReaders | None = None,
        *,
        watermarks: WatermarkStore | None = None,
    ) -> None:
        self.drifti = drifti
        self.settings = settings
        self.tenants = tenants
        self.publisher = publisher
        self.tripletex = tripletex
        self.watermarks = watermarks or default_watermarks(tenants)
        self.subscriptions = SubscriptionGuard(publisher)
        self._jobs: dict[JobKey, tuple[object, asyncio.Task[None]]] = {}
        self._ensured_secrets: dict[str, SecretStr] = {}
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def round_s(self) -> float:
        """How often the tenant list is read again: the shortest interval of any job."""
        s = self.settings
        shortest = min(
            s.svenn_poll_interval_s, s.drifti_poll_interval_s, s.tripletex_subscription_check_interval_s
        )
        return max(shortest, 0.05)

    async def start(self) -> None:
        if self.settings.public_base_url is None:
            log.warning(
                "PUBLIC_BASE_URL is not set: Tripletex webhook subscriptions are not checked "
                "(one switched off by Tripletex stays off until the nightly pass)"
            )
        log.info("catch-up watermarks", extra={"store": type(self.watermarks).__name__})
        await self.refresh()
        self._supervisor = asyncio.create_task(self._supervise(), name="catch-up-tenants")

    async def stop(self) -> None:
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        for key in list(self._jobs):
            await self._end(key)

    def running(self) -> set[JobKey]:
        """The (tenant id, job) pairs running now."""
        return {key for key, (_, task) in self._jobs.items() if not task.done()}

    async def refresh(self) -> None:
        """Read the tenant list; start the jobs it asks for, stop those it no longer does."""
        try:
            tenants = await self.tenants.all()
        except Exception as exc:  # the registry away: keep the jobs as they are, read it next round
            log.warning(
                "tenant list not read; catch-up jobs unchanged", extra={"error": safe_errors.describe(exc)}
            )
            return
        wanted: dict[JobKey, tuple[object, TenantConfig]] = {}
        for tenant in tenants:
            if not tenant.paused:
                for job, config in self._wanted_jobs(tenant):
                    wanted[(tenant.tenant_id, job)] = (config, tenant)
        for key, (config, task) in list(self._jobs.items()):
            if key not in wanted or wanted[key][0] != config or task.done():
                await self._end(key)
        for key, (config, tenant) in wanted.items():
            if key not in self._jobs:
                task = asyncio.create_task(self._job(key[1], tenant), name=f"{key[1]}-{key[0]}")
                self._jobs[key] = (config, task)
                log.info("catch-up job started", extra={"tenant_id": key[0], "job": key[1]})

    def _wanted_jobs(self, tenant: TenantConfig) -> Iterator[tuple[str, object]]:
        """The tenant's jobs, each with what restarts it when it changes."""
        if tenant.svenn is not None:
            yield SVENN_POLL, tenant.svenn  # the loop holds a client made from these credentials
        if tenant.drifti is not None and self.drifti is not None:
            yield DRIFTI_POLL, tenant.tripletex is not None  # readers and clients follow the registry
        if tenant.tripletex is not None:
            yield TRIPLETEX_PASS, True
            secret = tenant.tripletex.webhook_secret
            if secret is not None and self.settings.public_base_url is not None:
                yield TRIPLETEX_SUBSCRIPTIONS, secret  # a new secret is written to the subscriptions

    def _job(self, job: str, tenant: TenantConfig) -> Coroutine[Any, Any, None]:
        if job == SVENN_POLL:
            assert tenant.svenn is not None
            return self._poll_svenn(tenant.tenant_id, tenant.svenn)
        if job == DRIFTI_POLL:
            tripletex = self.tripletex if tenant.tripletex is not None else None
            assert self.drifti is not None
            return drifti_catch_up_loop(
                self.settings, tenant.tenant_id, self.drifti, tripletex, self.publisher, self.watermarks
            )
        if job == TRIPLETEX_PASS:
            return self._reconcile_tripletex(tenant.tenant_id)
        return self._watch_subscriptions(tenant.tenant_id)

    async def _end(self, key: JobKey) -> None:
        _, task = self._jobs.pop(key)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        log.info("catch-up job stopped", extra={"tenant_id": key[0], "job": key[1]})

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(self.round_s)
            await self.refresh()

    async def _poll_svenn(self, tenant_id: str, access: SvennAccess) -> None:
        interval = self.settings.svenn_poll_interval_s
        overlap = timedelta(seconds=self.settings.svenn_poll_overlap_s)
        # Never polled before: start a little in the past (what changed while the engine was down).
        first = datetime.now(UTC) - timedelta(seconds=self.settings.svenn_poll_lookback_s)
        marks = TenantWatermarks(self.watermarks, tenant_id, "svenn", first)
        async with SvennClient(access.base_url, access.api_key) as client:
            while True:
                await asyncio.sleep(interval)
                try:
                    since = await marks.current(SVENN_RESOURCES)
                    await poll_svenn_changes(
                        client, tenant_id, since, self.publisher, overlap=overlap, advance=marks.advance
                    )
                except Exception as exc:  # the next poll catches up from the same watermarks
                    log.warning(
                        "Svenn poll failed",
                        extra={"tenant_id": tenant_id, "error": safe_errors.describe(exc)},
                    )

    async def _reconcile_tripletex(self, tenant_id: str) -> None:
        while True:
            await asyncio.sleep(self.settings.tripletex_reconcile_interval_s)
            with contextlib.suppress(Exception):  # logged by the check; the pass goes on without it
                await self._check_subscriptions(tenant_id)
            try:
                await reconcile_tripletex(await self.tripletex(tenant_id), tenant_id, self.publisher)
            except Exception as exc:  # try again at the next pass
                log.warning(
                    "Tripletex pass failed",
                    extra={"tenant_id": tenant_id, "error": safe_errors.describe(exc)},
                )

    async def _watch_subscriptions(self, tenant_id: str) -> None:
        """Check at once (start-up, a new tenant, a new secret), then every check interval."""
        try:
            while True:
                with contextlib.suppress(Exception):  # logged; the next round checks again
                    await self._check_subscriptions(tenant_id)
                await asyncio.sleep(self.settings.tripletex_subscription_check_interval_s)
        finally:
            self.subscriptions.forget(tenant_id)

    async def _check_subscriptions(self, tenant_id: str) -> None:
        """Ensure the tenant's subscriptions (the guard re-enables and runs the pass a disabled one owes)."""
        base_url = self.settings.public_base_url
        if base_url is None:
            return
        try:
            tenant = await self.tenants.get(tenant_id)
            if tenant.tripletex is None or tenant.tripletex.webhook_secret is None:
                return
            secret = tenant.tripletex.webhook_secret
            # hmacSharedSecret cannot be read back: after a rotation, rewrite it on every subscription.
            known = self._ensured_secrets.get(tenant_id)
            await self.subscriptions.check(
                await self.tripletex(tenant_id),
                tenant_id,
                webhook_url(base_url, tenant_id),
                secret,
                refresh=known is not None and known != secret,
            )
            self._ensured_secrets[tenant_id] = secret
        except Exception as exc:
            log.warning(
                "Tripletex subscription check failed",
                extra={"tenant_id": tenant_id, "error": safe_errors.describe(exc)},
            )
            raise
