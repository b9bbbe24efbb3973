"""``TenantDirectory`` backed by the registry, cached for ``TENANT_CACHE_TTL_S``.

Writers ask the directory for every command, so it must not cost a database round trip per
message; a pause or a new credential therefore reaches a running process within the TTL. One
refresh reads every tenant's row and re-opens only the credentials whose revision changed.
"""

from __future__ import annotations

import asyncio
import logging
import time

from projections.database import UNAVAILABLE_ERRORS, Database
from services.core.errors import TransientError
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, TenantConfig, UnknownTenant
from services.tenants.registry import InvalidTenant, TenantRegistry
from services.tenants.secret_box import SecretBox, SecretsUnreadable

log = logging.getLogger(__name__)


class PostgresTenantDirectory:
    def __init__(self, database: Database, box: SecretBox, ttl_s: float = 5.0) -> None:
        self.database = database
        self.box = box
        self.ttl_s = ttl_s
        self._tenants: dict[str, tuple[int, TenantConfig]] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PostgresTenantDirectory(tenants={len(self._tenants)}, ttl_s={self.ttl_s})"

    async def get(self, tenant_id: str) -> TenantConfig:
        await self._fresh()
        try:
            return self._tenants[tenant_id][1]
        except KeyError:
            raise UnknownTenant(tenant_id) from None

    async def all(self) -> list[TenantConfig]:
        await self._fresh()
        return [config for _, config in self._tenants.values()]

    def invalidate(self) -> None:
        """The next look-up reads the registry again (after a change made in this process)."""
        self._loaded_at = None

    async def _fresh(self) -> None:
        if self._loaded_at is not None and time.monotonic() - self._loaded_at < self.ttl_s:
            return
        async with self._lock:
            if self._loaded_at is not None and time.monotonic() - self._loaded_at < self.ttl_s:
                return
            try:
                await self._refresh()
            except UNAVAILABLE_ERRORS as exc:
                if self._loaded_at is None:
                    raise TransientError(f"tenant registry unavailable: {exc}") from exc
                # Keep serving the last copy (writes go on) and try again after the TTL.
                log.warning("tenant registry unavailable; using the last copy", extra={"error": repr(exc)})
                self._loaded_at = time.monotonic()

    async def _refresh(self) -> None:
        registry = TenantRegistry(self.database.pool, self.box)
        records = await self.database.pool.fetch(
            """SELECT tenant_id, state, svenn_base_url, drifti_base_url, tripletex_base_url,
                      credentials_set, secrets_key_id, revision, updated_at, secrets
               FROM tenant"""
        )
        tenants: dict[str, tuple[int, TenantConfig]] = {}
        for record in records:
            tenant_id, revision = record["tenant_id"], record["revision"]
            cached = self._tenants.get(tenant_id)
            if cached is not None and cached[0] == revision:
                tenants[tenant_id] = cached
                continue
            try:
                tenants[tenant_id] = (revision, registry.config_of(record))
            except (SecretsUnreadable, InvalidTenant) as exc:
                # The tenant's writes fail as "not connected" (an error-log entry) until it is fixed.
                log.error("tenant skipped", extra={"tenant": tenant_id, "error": str(exc)})
        self._tenants = tenants
        self._loaded_at = time.monotonic()


def registry_configured(settings: Settings) -> bool:
    """The registry is the directory when keys are set and no ``TENANTS_FILE`` takes precedence."""
    return settings.tenants_file is None and settings.tenant_secret_keys is not None


def registry_directory(settings: Settings, database: Database) -> PostgresTenantDirectory:
    return PostgresTenantDirectory(database, SecretBox.from_settings(settings), settings.tenant_cache_ttl_s)


async def find_tenant(settings: Settings, tenant_id: str) -> TenantConfig:
    """One tenant for a command-line tool: from ``TENANTS_FILE`` when set, else from the registry."""
    if not registry_configured(settings):
        return await StaticTenantDirectory.from_file(
            settings.tenants_file, allow_plain_http=settings.allow_plain_http
        ).get(tenant_id)
    database = Database(settings.database_url)
    await database.start()
    try:
        return await TenantRegistry(database.pool, SecretBox.from_settings(settings)).get(tenant_id)
    finally:
        await database.stop()
