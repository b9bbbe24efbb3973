"""The tenant registry in PostgreSQL (``tenant`` table): add, read, pause, replace a credential, re-key.

Base URLs and which credentials are set are plain columns; the credentials themselves are one
sealed blob per tenant (``services.tenants.secret_box``). Reading a tenant's ``TenantConfig``
needs the keys; listing tenants does not. Every change bumps ``revision``, which lets the
cached directory re-open only the tenants that changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

import asyncpg
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from contracts.envelope import TenantId
from services.core.tenants import (
    DriftiAccess,
    InsecureBaseUrl,
    SvennAccess,
    TenantConfig,
    TripletexAccess,
    UnknownTenant,
    check_base_urls,
)
from services.tenants.secret_box import SecretBox, SecretKeysMissing, Secrets, SecretsUnreadable

ACCESS_OF: dict[str, type[BaseModel]] = {
    "svenn": SvennAccess,
    "drifti": DriftiAccess,
    "tripletex": TripletexAccess,
}
SIDES = tuple(ACCESS_OF)
_TENANT_ID: TypeAdapter[str] = TypeAdapter(TenantId)

ACTIVE, PAUSED, RESUMING = "active", "paused", "resuming"

log = logging.getLogger(__name__)


class TenantExists(ValueError):
    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id!r} is already registered")


class InvalidTenant(ValueError):
    """The tenant's configuration is incomplete or malformed (never quotes a secret value)."""


def secret_fields(side: str) -> tuple[str, ...]:
    """The credential fields of a side's access model (``SecretStr`` ones), in declaration order."""
    fields = ACCESS_OF[side].model_fields.items()
    return tuple(n for n, f in fields if f.annotation is SecretStr or SecretStr in get_args(f.annotation))


def check_tenant_id(tenant_id: str) -> str:
    try:
        return _TENANT_ID.validate_python(tenant_id)
    except ValidationError:
        raise InvalidTenant(
            f"tenant id {tenant_id!r} must be lower-case letters, digits, '-' or '_' (at most 63)"
        ) from None


def split(config: TenantConfig) -> tuple[dict[str, str], Secrets]:
    """(base URL per connected side, credentials per side) of a configuration."""
    base_urls: dict[str, str] = {}
    secrets: Secrets = {}
    for side in SIDES:
        access = getattr(config, side)
        if access is None:
            continue
        base_urls[side] = access.base_url
        secrets[side] = {
            name: value.get_secret_value() for name, value in access if isinstance(value, SecretStr)
        }
    return base_urls, secrets


def credential_names(secrets: Secrets) -> list[str]:
    return sorted(f"{side}.{name}" for side, fields in secrets.items() for name in fields)


def assemble(tenant_id: str, base_urls: dict[str, str], secrets: Secrets, state: str) -> TenantConfig:
    sides: dict[str, Any] = {
        side: {"base_url": url, **secrets.get(side, {})} for side, url in base_urls.items()
    }
    try:
        return TenantConfig.model_validate({"tenant_id": tenant_id, "paused": state != ACTIVE, **sides})
    except ValidationError as exc:
        # pydantic's message quotes input values; ours names only the fields.
        raise InvalidTenant(f"tenant {tenant_id!r}: {field_errors(exc)}") from None


def field_errors(exc: ValidationError) -> str:
    """Which fields are wrong and why, without pydantic's quoting of the (secret) input values."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(tenant)'}: {e['msg']}" for e in exc.errors()[:10]
    )


@dataclass(frozen=True)
class TenantRow:
    """What may be shown about a tenant: no credential, only which ones are set."""

    tenant_id: str
    state: str
    base_urls: dict[str, str]
    credentials_set: tuple[str, ...]
    key_id: str
    revision: int
    updated_at: datetime
    parked: int = 0  # commands parked while paused, not yet written

    @property
    def sides(self) -> tuple[str, ...]:
        return tuple(s for s in SIDES if s in self.base_urls)


_COLUMNS = """tenant_id, state, svenn_base_url, drifti_base_url, tripletex_base_url, credentials_set,
    secrets_key_id, revision, updated_at"""


def _row(record: asyncpg.Record) -> TenantRow:
    return TenantRow(
        tenant_id=record["tenant_id"],
        state=record["state"],
        base_urls={s: record[f"{s}_base_url"] for s in SIDES if record[f"{s}_base_url"] is not None},
        credentials_set=tuple(record["credentials_set"]),
        key_id=record["secrets_key_id"],
        revision=record["revision"],
        updated_at=record["updated_at"],
        parked=record.get("parked") or 0,
    )


class TenantRegistry:
    def __init__(
        self, pool: asyncpg.Pool, box: SecretBox | None = None, *, allow_plain_http: bool = False
    ) -> None:
        self.pool = pool
        self._box = box
        self._allow_plain_http = allow_plain_http  # ALLOW_PLAIN_HTTP, for new tenants' base URLs
        self._warned_unbound: set[str] = set()

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            raise SecretKeysMissing()
        return self._box

    # ------------------------------------------------------------------- reading
    async def rows(self) -> list[TenantRow]:
        records = await self.pool.fetch(
            f"""SELECT {_COLUMNS}, (SELECT count(*) FROM parked_command p
                    WHERE p.tenant_id = tenant.tenant_id AND p.written_at IS NULL) AS parked
                FROM tenant ORDER BY tenant_id"""
        )
        return [_row(r) for r in records]

    async def row(self, tenant_id: str) -> TenantRow:
        record = await self.pool.fetchrow(f"SELECT {_COLUMNS} FROM tenant WHERE tenant_id = $1", tenant_id)
        if record is None:
            raise UnknownTenant(tenant_id)
        return _row(record)

    async def get(self, tenant_id: str) -> TenantConfig:
        record = await self.pool.fetchrow(
            f"SELECT {_COLUMNS}, secrets FROM tenant WHERE tenant_id = $1", tenant_id
        )
        if record is None:
            raise UnknownTenant(tenant_id)
        return self.config_of(record)

    def config_of(self, record: asyncpg.Record) -> TenantConfig:
        row = _row(record)
        secrets, bound = self.box.unseal(record["secrets"], tenant_id=row.tenant_id)
        if not bound and row.tenant_id not in self._warned_unbound:
            self._warned_unbound.add(row.tenant_id)
            log.warning(
                "tenant credentials are sealed without their tenant id: run `tsync tenants rotate-key`",
                extra={"tenant_id": row.tenant_id},
            )
        return assemble(row.tenant_id, row.base_urls, secrets, row.state)

    # ------------------------------------------------------------------- changing
    async def add(self, config: TenantConfig) -> TenantRow:
        check_tenant_id(config.tenant_id)
        try:
            check_base_urls(config, allow_plain_http=self._allow_plain_http)
        except InsecureBaseUrl as exc:
            raise InvalidTenant(str(exc)) from None
        base_urls, secrets = split(config)
        if not base_urls:
            raise InvalidTenant(f"tenant {config.tenant_id!r} connects no side (svenn, drifti, tripletex)")
        try:
            record = await self.pool.fetchrow(
                f"""INSERT INTO tenant (tenant_id, svenn_base_url, drifti_base_url, tripletex_base_url,
                        secrets, secrets_key_id, credentials_set, state)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_COLUMNS}""",
                config.tenant_id,
                *(base_urls.get(s) for s in SIDES),
                self.box.seal(secrets, tenant_id=config.tenant_id),
                self.box.key_id,
                credential_names(secrets),
                PAUSED if config.paused else ACTIVE,
            )
        except asyncpg.UniqueViolationError:
            raise TenantExists(config.tenant_id) from None
        assert record is not None
        return _row(record)

    async def set_credential(self, tenant_id: str, side: str, field: str, value: SecretStr) -> TenantRow:
        """Replace (or set) one credential; the tenant's writers pick it up with their next look-up."""
        if side not in ACCESS_OF or field not in secret_fields(side):
            choices = ", ".join(f"{s}.{f}" for s in SIDES for f in secret_fields(s))
            raise InvalidTenant(f"{side}.{field} is not a credential; choose one of {choices}")
        if not value.get_secret_value():
            raise InvalidTenant(f"the new {side}.{field} is empty")
        async with self.pool.acquire() as connection, connection.transaction():
            record = await connection.fetchrow(
                f"SELECT {_COLUMNS}, secrets FROM tenant WHERE tenant_id = $1 FOR UPDATE", tenant_id
            )
            if record is None:
                raise UnknownTenant(tenant_id)
            row = _row(record)
            if side not in row.base_urls:
                raise InvalidTenant(f"tenant {tenant_id!r} has no {side} connection")
            secrets = self.box.open(record["secrets"], tenant_id=tenant_id)
            secrets.setdefault(side, {})[field] = value.get_secret_value()
            assemble(tenant_id, row.base_urls, secrets, row.state)  # still a valid configuration
            updated = await connection.fetchrow(
                f"""UPDATE tenant SET secrets = $2, secrets_key_id = $3, credentials_set = $4,
                        revision = revision + 1, updated_at = now()
                    WHERE tenant_id = $1 RETURNING {_COLUMNS}""",
                tenant_id,
                self.box.seal(secrets, tenant_id=tenant_id),
                self.box.key_id,
                credential_names(secrets),
            )
        assert updated is not None
        return _row(updated)

    async def pause(self, tenant_id: str) -> TenantRow:
        """Writers park the tenant's commands from now on (within ``TENANT_CACHE_TTL_S``)."""
        record = await self.pool.fetchrow(
            f"""UPDATE tenant SET state = '{PAUSED}', revision = revision + 1, updated_at = now()
                WHERE tenant_id = $1 RETURNING {_COLUMNS}""",
            tenant_id,
        )
        if record is None:
            raise UnknownTenant(tenant_id)
        return _row(record)

    async def rotate_key(self) -> tuple[int, int, list[str]]:
        """Re-seal every tenant not sealed with the first key, or sealed before blobs were bound to
        their tenant (so every blob names its tenant afterwards).

        Returns (re-sealed, total, tenants none of the keys opens or sealed for another tenant):
        one unreadable tenant does not stop the others from moving to the new key.
        """
        resealed, unreadable = 0, []
        async with self.pool.acquire() as connection, connection.transaction():
            records = await connection.fetch(
                "SELECT tenant_id, secrets, secrets_key_id FROM tenant ORDER BY tenant_id FOR UPDATE"
            )
            for record in records:
                try:
                    secrets, bound = self.box.unseal(record["secrets"], tenant_id=record["tenant_id"])
                except SecretsUnreadable:
                    unreadable.append(record["tenant_id"])
                    continue
                if bound and record["secrets_key_id"] == self.box.key_id:
                    continue
                sealed = self.box.seal(secrets, tenant_id=record["tenant_id"])
                await connection.execute(
                    """UPDATE tenant SET secrets = $2, secrets_key_id = $3, revision = revision + 1,
                           updated_at = now() WHERE tenant_id = $1""",
                    record["tenant_id"],
                    sealed,
                    self.box.key_id,
                )
                resealed += 1
        return resealed, len(records), unreadable
