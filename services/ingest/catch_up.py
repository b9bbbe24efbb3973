"""Catch-up behind the webhooks, per tenant: Svenn polling and Tripletex's nightly full pass.

Webhooks can be lost (downtime, a delivery the sender gave up on) and Tripletex's can skip
versions, so the ingest also reads each side on a schedule. Both publish the same event ids the
webhooks did for the same record versions, so what was already seen is absorbed downstream and
only what was missed is new.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import TenantConfig, TenantDirectory
from services.drifti.catch_up import drifti_catch_up_loop
from services.drifti.ingest import DriftiReaders
from services.svenn.catch_up import poll_svenn_changes
from services.svenn.client import SvennClient
from services.tripletex.catch_up import reconcile_tripletex
from services.tripletex.ingest import ClientFactory

log = logging.getLogger(__name__)


class CatchUp:
    def __init__(
        self,
        settings: Settings,
        tenants: TenantDirectory,
        publisher: Publisher,
        tripletex: ClientFactory,
        drifti: DriftiReaders | None = None,
    ) -> None:
        self.drifti = drifti
        self.settings = settings
        self.tenants = tenants
        self.publisher = publisher
        self.tripletex = tripletex
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for tenant in await self.tenants.all():
            if tenant.paused:
                continue
            if tenant.svenn is not None:
                self._tasks.append(
                    asyncio.create_task(self._poll_svenn(tenant), name=f"svenn-poll-{tenant.tenant_id}")
                )
            if tenant.drifti is not None and self.drifti is not None:
                self._tasks.append(
                    asyncio.create_task(self._poll_drifti(tenant), name=f"drifti-poll-{tenant.tenant_id}")
                )
            if tenant.tripletex is not None:
                self._tasks.append(
                    asyncio.create_task(
                        self._reconcile_tripletex(tenant), name=f"tripletex-pass-{tenant.tenant_id}"
                    )
                )

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll_svenn(self, tenant: TenantConfig) -> None:
        assert tenant.svenn is not None
        interval = self.settings.svenn_poll_interval_s
        # Start a little in the past: a restart must not miss what changed while it was down.
        watermark = datetime.now(UTC) - timedelta(seconds=self.settings.svenn_poll_lookback_s)
        async with SvennClient(tenant.svenn.base_url, tenant.svenn.api_key) as client:
            while True:
                await asyncio.sleep(interval)
                try:
                    watermark = await poll_svenn_changes(client, tenant.tenant_id, watermark, self.publisher)
                except Exception as exc:  # the next poll catches up from the same watermark
                    log.warning(
                        "Svenn poll failed", extra={"tenant_id": tenant.tenant_id, "error": repr(exc)}
                    )

    async def _poll_drifti(self, tenant: TenantConfig) -> None:
        assert self.drifti is not None
        tripletex = self.tripletex if tenant.tripletex is not None else None
        await drifti_catch_up_loop(self.settings, tenant.tenant_id, self.drifti, tripletex, self.publisher)

    async def _reconcile_tripletex(self, tenant: TenantConfig) -> None:
        while True:
            await asyncio.sleep(self.settings.tripletex_reconcile_interval_s)
            try:
                await reconcile_tripletex(
                    await self.tripletex(tenant.tenant_id), tenant.tenant_id, self.publisher
                )
            except Exception as exc:  # try again at the next pass
                log.warning(
                    "Tripletex pass failed", extra={"tenant_id": tenant.tenant_id, "error": repr(exc)}
                )
