"""Where the engine finds each tenant's connections: base URLs and credentials per side.

Writers and ingest ask a ``TenantDirectory``; they never read credentials from anywhere else.
Today's directory is static (a JSON file named by ``TENANTS_FILE``); the tenant registry in
PostgreSQL with credentials encrypted at rest (issue 6) implements the same protocol.
Credentials are ``SecretStr``: they never appear in reprs, logs or exceptions.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

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


class InsecureBaseUrl(ValueError):
    """A tenant's base URL would carry its credentials in clear (or is not an http(s) URL at all)."""


_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(tenant_id: str, side: str, url: str, *, allow_plain_http: bool = False) -> str:
    """``https://``; plain ``http://`` only to a loopback address (the local simulators) or when
    ``ALLOW_PLAIN_HTTP`` is set: the tenant's credentials (Bearer/Basic) go to this URL."""
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname
        has_login = "@" in parts.netloc
    except ValueError:
        scheme, host, has_login = "", None, "@" in url
    if has_login:  # never echoed: it may hold a password
        raise InsecureBaseUrl(f"tenant {tenant_id!r}: {side} base URL must not carry a user or password")
    where = f"tenant {tenant_id!r}: {side} base URL {url!r}"
    if scheme not in ("https", "http") or not host:
        raise InsecureBaseUrl(f"{where} is not an https:// URL")
    if scheme == "http" and not allow_plain_http and not is_loopback(host):
        raise InsecureBaseUrl(
            f"{where} must be https:// (it carries the tenant's credentials); plain http is allowed "
            "only to a loopback address, or to any host with ALLOW_PLAIN_HTTP=true"
        )
    return url


def check_base_urls(config: TenantConfig, *, allow_plain_http: bool = False) -> TenantConfig:
    """Every connected side's base URL passes ``check_base_url``."""
    for side in ("svenn", "drifti", "tripletex"):
        access = getattr(config, side)
        if access is not None:
            check_base_url(config.tenant_id, side, access.base_url, allow_plain_http=allow_plain_http)
    return config


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
    def from_file(cls, path: str | Path | None, *, allow_plain_http: bool = False) -> StaticTenantDirectory:
        """``[{"tenant_id": ..., "svenn": {...}, "tripletex": {...}}, ...]``; no file means no tenants.

        Refuses (``InsecureBaseUrl``) a base URL that is not https:// (see ``check_base_urls``)."""
        if path is None:
            return cls()
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            [check_base_urls(TenantConfig.model_validate(t), allow_plain_http=allow_plain_http) for t in raw]
        )

    def put(self, tenant: TenantConfig) -> None:
        self._tenants[tenant.tenant_id] = tenant

    async def all(self) -> list[TenantConfig]:
        return list(self._tenants.values())

    async def get(self, tenant_id: str) -> TenantConfig:
        try:
            return self._tenants[tenant_id]
        except KeyError:
            raise UnknownTenant(tenant_id) from None
