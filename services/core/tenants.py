"""Where the engine finds each tenant's connections: base URLs and credentials per side.

Writers and ingest ask a ``TenantDirectory``; they never read credentials from anywhere else.
Today's directory is static (a JSON file named by ``TENANTS_FILE``); the tenant registry in
PostgreSQL with credentials encrypted at rest (issue 6) implements the same protocol.
Credentials are ``SecretStr``: they never appear in reprs, logs or exceptions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, SecretStr


class SvennAccess(BaseModel):
    model_config = ConfigDict(frozen=True)

    base_url: str
    api_key: SecretStr
    webhook_secret: SecretStr | None = None


class TripletexAccess(BaseModel):
    model_config = ConfigDict(frozen=True)

    base_url: str
    consumer_token: SecretStr
    employee_token: SecretStr
    webhook_secret: SecretStr | None = None


class DriftiAccess(BaseModel):
    model_config = ConfigDict(frozen=True)

    base_url: str
    api_key: SecretStr
    webhook_secret: SecretStr | None = None


class TenantConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str
    svenn: SvennAccess | None = None
    drifti: DriftiAccess | None = None
    tripletex: TripletexAccess | None = None
    paused: bool = False


class UnknownTenant(LookupError):
    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id!r} is not registered")
        self.tenant_id = tenant_id


class TenantDirectory(Protocol):
    async def get(self, tenant_id: str) -> TenantConfig:
        """The tenant's configuration; raises ``UnknownTenant``."""
        ...

    async def all(self) -> list[TenantConfig]:
        """Every registered tenant (for the schedules that run per tenant)."""
        ...


class StaticTenantDirectory:
    def __init__(self, tenants: list[TenantConfig] | None = None) -> None:
        self._tenants = {t.tenant_id: t for t in tenants or []}

    @classmethod
    def from_file(cls, path: str | Path | None) -> StaticTenantDirectory:
        """``[{"tenant_id": ..., "svenn": {...}, "tripletex": {...}}, ...]``; no file means no tenants."""
        if path is None:
            return cls()
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls([TenantConfig.model_validate(t) for t in raw])

    def put(self, tenant: TenantConfig) -> None:
        self._tenants[tenant.tenant_id] = tenant

    async def all(self) -> list[TenantConfig]:
        return list(self._tenants.values())

    async def get(self, tenant_id: str) -> TenantConfig:
        try:
            return self._tenants[tenant_id]
        except KeyError:
            raise UnknownTenant(tenant_id) from None
