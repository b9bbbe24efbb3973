"""Everything the simulator remembers, per tenant, in memory.

Tenants share nothing but the process: each has its own records, API key, webhooks, fault
settings, rate window and idempotency cache, so a test that breaks one tenant cannot leak
into another. Handlers mutate state synchronously (no ``await`` in between), which makes
every API call atomic on the single event loop without locks.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from services.restsim.error_envelope import ApiError
from services.restsim.faults import TenantFaults
from services.restsim.idempotent_replay import IdempotentReply
from services.svenn.simulator.models import CustomerRecord, EmployeeRecord, ProjectRecord, WebhookRecord
from services.svenn.simulator.webhooks import WebhookDispatcher, WebhookSettings

ResourceType = Literal["project", "customer", "employee"]
TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _key_digest(api_key: str) -> str:
    # Keys are looked up by digest, so the table never holds a usable key as a dict key and
    # the lookup cost does not depend on how much of a guessed key matches.
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


@dataclass
class TenantState:
    name: str
    api_key: str
    projects: dict[str, ProjectRecord] = field(default_factory=dict)
    customers: dict[str, CustomerRecord] = field(default_factory=dict)
    employees: dict[str, EmployeeRecord] = field(default_factory=dict)
    webhooks: dict[str, WebhookRecord] = field(default_factory=dict)
    faults: TenantFaults = field(default_factory=TenantFaults)
    idempotency: dict[str, IdempotentReply] = field(default_factory=dict)
    seq: int = 0
    last_ts: datetime = field(default_factory=lambda: datetime.min.replace(tzinfo=UTC))
    events_emitted: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def now(self) -> datetime:
        """A strictly increasing timestamp, so ``updated_since`` never misses a same-microsecond write."""
        ts = datetime.now(UTC)
        if ts <= self.last_ts:
            ts = self.last_ts + timedelta(microseconds=1)
        self.last_ts = ts
        return ts

    def clear_data(self) -> None:
        for hook in self.webhooks.values():
            hook.active = False  # retries already queued for it stop too
        self.projects.clear()
        self.customers.clear()
        self.employees.clear()
        self.webhooks.clear()
        self.idempotency.clear()
        self.faults = TenantFaults()
        self.seq = 0

    def dump(self) -> dict[str, Any]:
        return {
            "tenant": self.name,
            "projects": [r.model_dump(mode="json") for r in self.projects.values()],
            "customers": [r.model_dump(mode="json") for r in self.customers.values()],
            "employees": [r.model_dump(mode="json") for r in self.employees.values()],
            "webhooks": [w.model_dump(mode="json") for w in self.webhooks.values()],
            "faults": self.faults.snapshot(),
            "events_emitted": self.events_emitted,
        }


class SimState:
    """The simulator's whole world; pass one to ``create_app`` to share or inspect it in tests."""

    def __init__(
        self,
        *,
        webhook_settings: WebhookSettings | None = None,
        delivery_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.tenants: dict[str, TenantState] = {}
        self._by_key: dict[str, str] = {}
        self.dispatcher = WebhookDispatcher(
            settings=webhook_settings or WebhookSettings(), client=delivery_client
        )

    def create_tenant(self, name: str, api_key: str | None = None) -> TenantState:
        if not TENANT_PATTERN.match(name):
            raise ApiError(
                422,
                "VALIDATION_FAILED",
                "Invalid tenant name.",
                details=[
                    {"field": "name", "message": "Use 1-63 of a-z, 0-9, '_' and '-', starting alphanumeric."}
                ],
            )
        if name in self.tenants:
            raise ApiError(409, "TENANT_EXISTS", f"Tenant {name!r} already exists.")
        key = api_key or f"svn_test_{secrets.token_urlsafe(24)}"
        if _key_digest(key) in self._by_key:
            raise ApiError(409, "API_KEY_IN_USE", "That API key belongs to another tenant.")
        tenant = TenantState(name=name, api_key=key)
        self.tenants[name] = tenant
        self._by_key[_key_digest(key)] = name
        return tenant

    def tenant_for_key(self, api_key: str) -> TenantState | None:
        name = self._by_key.get(_key_digest(api_key))
        return self.tenants.get(name) if name else None

    def get_tenant(self, name: str) -> TenantState:
        tenant = self.tenants.get(name)
        if tenant is None:
            raise ApiError(404, "NOT_FOUND", f"No tenant {name!r}.")
        return tenant

    def reset(self) -> None:
        self.dispatcher.cancel_all()
        self.dispatcher.forget()
        self.tenants.clear()
        self._by_key.clear()

    def emit(
        self, tenant: TenantState, resource_type: ResourceType, record: Any, event_type: str | None
    ) -> None:
        """Publish one change to every subscribed webhook of the tenant."""
        if event_type is None:
            return
        full_type = f"{resource_type}.{event_type}"
        tenant.events_emitted += 1
        event = {
            "event_id": new_id("evt"),
            "event_type": full_type,
            "occurred_at": record.updated_at.isoformat().replace("+00:00", "Z"),
            "tenant": tenant.name,
            "resource_type": resource_type,
            "resource_id": record.id,
            "resource_version": record.version,
            "data": record.model_dump(mode="json"),
        }
        for webhook in tenant.webhooks.values():
            if webhook.active and webhook.wants(full_type):
                self.dispatcher.enqueue(tenant.name, webhook, event)
