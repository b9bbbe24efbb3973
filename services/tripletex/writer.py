"""The Tripletex writer: consumes ``tripletex.commands.v1`` and applies each command to the
tenant's Tripletex account, idempotently (see ``writer_ops.py`` for what each operation does
and why a command delivered twice can never create a second record).

This module is the consumer shell: it finds the tenant's connections, keeps one Tripletex
client per tenant (all sharing one rate-limiter registry for the process, so each tenant is
paced on its own budget), and registers itself as the Tripletex side's writer on import.
"""

from __future__ import annotations

import logging
from typing import Any

from contracts.envelope import Command, Outcome, SourceSystem
from contracts.error_codes import TENANT_NOT_CONNECTED
from services.core import metrics
from services.core.tenants import (
    DriftiAccess,
    SvennAccess,
    TenantConfig,
    TripletexAccess,
    UnknownTenant,
)
from services.core.writer import CommandWriter
from services.drifti.client import DriftiClient
from services.svenn.client import SvennClient
from services.tripletex.client import ClientSettings, LimiterRegistry, TripletexClient
from services.tripletex.writer_ops import TenantTarget, apply_command, failed

log = logging.getLogger(__name__)

_LIMITERS: LimiterRegistry | None = None


def process_limiters() -> LimiterRegistry:
    """The one limiter registry of this process: every writer instance paces tenants through it.

    Tripletex limits per (consumer, employee token), i.e. per tenant; two clients for the
    same tenant with separate limiters would each think they had the whole budget.
    """
    global _LIMITERS
    if _LIMITERS is None:
        _LIMITERS = LimiterRegistry()
    return _LIMITERS


class TripletexWriter(CommandWriter):
    """Applies engine commands to Tripletex; one cached client per tenant."""

    # Production retry/backoff policy; a deployment (or a test) may subclass and tune it.
    client_settings: ClientSettings = ClientSettings()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._targets: dict[
            str, tuple[tuple[TripletexAccess, SvennAccess | None, DriftiAccess | None], TenantTarget]
        ] = {}

    # ------------------------------------------------------------------- lifecycle
    async def aclose(self) -> None:
        """Stop the probe, close the tenants' HTTP clients (the runtime calls it when the consumer stops)."""
        await super().aclose()
        targets, self._targets = self._targets, {}
        for _, target in targets.values():
            await target.aclose()

    def make_tripletex_client(self, access: TripletexAccess, tenant_id: str) -> TripletexClient:
        """One tenant's Tripletex client (a subclass or a test may tune it here)."""
        return TripletexClient(
            access.base_url,
            tenant_id,
            consumer_token=access.consumer_token,
            employee_token=access.employee_token,
            settings=self.client_settings,
            limiters=process_limiters(),
        )

    def make_svenn_client(self, access: SvennAccess) -> SvennClient:
        """Read-only use: checking that a generated number is free in Svenn too (S-P5, S-E2)."""
        return SvennClient(access.base_url, access.api_key)

    def make_drifti_client(self, access: DriftiAccess) -> DriftiClient:
        """Read-only use: the invoice PDF a Drifti voucher carries as its attachment (D-I1)."""
        return DriftiClient(access.base_url, access.api_key)

    async def target_for(self, tenant: TenantConfig) -> TenantTarget:
        """The tenant's cached clients; rebuilt when its connection details change."""
        assert tenant.tripletex is not None
        key = (tenant.tripletex, tenant.svenn, tenant.drifti)
        cached = self._targets.get(tenant.tenant_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        target = TenantTarget(
            tenant_id=tenant.tenant_id,
            tripletex=self.make_tripletex_client(tenant.tripletex, tenant.tenant_id),
            svenn=self.make_svenn_client(tenant.svenn) if tenant.svenn is not None else None,
            drifti=self.make_drifti_client(tenant.drifti) if tenant.drifti is not None else None,
        )
        # Stored before the old one is closed: lanes of the same tenant share it (no await in between).
        self._targets[tenant.tenant_id] = (key, target)
        if cached is not None:
            await cached[1].aclose()
        return target

    async def probe(self, tenant_id: str, side: SourceSystem) -> None:
        """Whether the tenant's ``side`` answers again (``who_am_i`` / a one-record listing / ``me``)."""
        target = await self.target_for(await self.tenants.get(tenant_id))
        if side is SourceSystem.TRIPLETEX:
            await target.tripletex.who_am_i()
        elif side is SourceSystem.SVENN and target.svenn is not None:
            await target.svenn.projects.page(limit=1)
        elif side is SourceSystem.DRIFTI and target.drifti is not None:
            await target.drifti.me()

    # ------------------------------------------------------------------- applying
    async def apply(self, command: Command) -> Outcome:
        """The command's outcome; a tenant the writer cannot reach is the tenant's error, not a crash.

        An unknown tenant or one without Tripletex access gets a ``failed`` outcome (an
        error-log entry an operator can act on) instead of stopping the partition.
        """
        try:
            tenant = await self.tenants.get(command.tenant_id)
        except UnknownTenant:
            return failed(command, TENANT_NOT_CONNECTED, f"tenant {command.tenant_id!r} is not registered")
        if tenant.tripletex is None:
            return failed(command, TENANT_NOT_CONNECTED, "the tenant has no Tripletex connection configured")
        target = await self.target_for(tenant)
        try:
            return await apply_command(command, target)
        finally:
            remaining = target.tripletex.transport.limiter.state.remaining
            if remaining is not None:
                metrics.RATE_LIMIT_REMAINING.labels(SourceSystem.TRIPLETEX.value).set(remaining)
