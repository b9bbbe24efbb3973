"""Everything the simulator remembers, per tenant, in memory.

Tenants share nothing but the process: each has its own records, API key, webhooks, fault
settings, rate window and idempotency cache. Handlers mutate state synchronously (no
``await`` in between), so every API call is atomic on the single event loop without locks.

Record ids come from a per-tenant RNG. A tenant created with a seed therefore gets the same
ids every time, which is what makes the demo month reproducible down to the byte (the
engine's link table and a test's expectations can both name records by id).
"""

from __future__ import annotations

import hashlib
import random
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from services.drifti.simulator.models import (
    CustomerRecord,
    HourlyRateRecord,
    InvoiceRecord,
    JobRecord,
    LedgerAccountRecord,
    PaymentRecord,
    TimeEntryRecord,
    UserRecord,
    VatRate,
    WebhookRecord,
)
from services.drifti.simulator.webhooks import WebhookDispatcher, WebhookSettings

# Generic pieces shared with the Svenn simulator (error envelope, fault injection): one
# behaviour for every simulated system, so the engine's clients meet the same failures.
from services.restsim.error_envelope import ApiError
from services.restsim.faults import TenantFaults
from services.restsim.idempotent_replay import IdempotentReply

StreamedType = Literal["customer", "job", "invoice", "payment"]
TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

# Drifti ships every new account with its own small chart of sales accounts. The numbers
# are Drifti's, not NS 4102: D-L1 exists because they have to be mapped to Tripletex's.
DEFAULT_CHART: tuple[tuple[str, str, VatRate | None], ...] = (
    ("3000", "Salg arbeid, høy sats", 25),
    ("3005", "Salg materiell, høy sats", 25),
    ("3015", "Salg servering, middels sats", 15),
    ("3025", "Persontransport, lav sats", 12),
    ("3100", "Salg avgiftsfritt", 0),
    ("3600", "Utleie utstyr", 25),
)


def _key_digest(api_key: str) -> str:
    # Keys are looked up by digest: the table never holds a usable key as a dict key.
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass
class TenantState:
    name: str
    api_key: str
    company_name: str
    id_rng: random.Random
    integration_enabled_at: datetime | None = None
    customers: dict[str, CustomerRecord] = field(default_factory=dict)
    jobs: dict[str, JobRecord] = field(default_factory=dict)
    invoices: dict[str, InvoiceRecord] = field(default_factory=dict)
    payments: dict[str, PaymentRecord] = field(default_factory=dict)
    users: dict[str, UserRecord] = field(default_factory=dict)
    hourly_rates: dict[str, HourlyRateRecord] = field(default_factory=dict)
    time_entries: dict[str, TimeEntryRecord] = field(default_factory=dict)
    ledger_accounts: dict[str, LedgerAccountRecord] = field(default_factory=dict)
    webhooks: dict[str, WebhookRecord] = field(default_factory=dict)
    faults: TenantFaults = field(default_factory=TenantFaults)
    idempotency: dict[str, IdempotentReply] = field(default_factory=dict)
    seq: int = 0
    next_invoice_number: int = 50001
    last_ts: datetime = field(default_factory=lambda: datetime.min.replace(tzinfo=UTC))
    events_emitted: int = 0

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{self.id_rng.getrandbits(80):020x}"

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def now(self, at: datetime | None = None) -> datetime:
        """A strictly increasing timestamp, so ``updated_since`` never misses a same-microsecond write.

        ``at`` back-dates a write (the demo seed); later writes still sort after it.
        """
        ts = at if at is not None else datetime.now(UTC)
        if ts <= self.last_ts:
            ts = self.last_ts + timedelta(microseconds=1)
        self.last_ts = ts
        return ts

    def install_default_chart(self, at: datetime | None = None) -> None:
        for number, name, vat in DEFAULT_CHART:
            ts = self.now(at)
            account = LedgerAccountRecord(
                id=self.new_id("acc"),
                number=number,
                name=name,
                default_vat_rate=vat,
                created_at=ts,
                updated_at=ts,
                seq=self.next_seq(),
            )
            self.ledger_accounts[account.id] = account

    def clear_data(self) -> None:
        for hook in self.webhooks.values():
            hook.active = False  # retries already queued for it stop too
        for table in self.tables().values():
            table.clear()
        self.webhooks.clear()
        self.idempotency.clear()
        self.faults = TenantFaults()
        self.seq = 0
        self.next_invoice_number = 50001
        self.install_default_chart()

    def tables(self) -> dict[str, dict[str, Any]]:
        return {
            "customers": self.customers,
            "jobs": self.jobs,
            "invoices": self.invoices,
            "payments": self.payments,
            "users": self.users,
            "hourly_rates": self.hourly_rates,
            "time_entries": self.time_entries,
            "ledger_accounts": self.ledger_accounts,
        }

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tenant": self.name,
            "company_name": self.company_name,
            "integration_enabled_at": _iso(self.integration_enabled_at),
        }
        for name, table in self.tables().items():
            out[name] = [r.model_dump(mode="json") for r in table.values()]
        out["webhooks"] = [w.model_dump(mode="json") for w in self.webhooks.values()]
        out["faults"] = self.faults.snapshot()
        out["events_emitted"] = self.events_emitted
        return out


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts is not None else None


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

    def create_tenant(
        self,
        name: str,
        api_key: str | None = None,
        *,
        company_name: str | None = None,
        id_seed: int | None = None,
        created_at: datetime | None = None,
    ) -> TenantState:
        """A new Drifti account with the default chart; ``id_seed`` makes its ids reproducible."""
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
        key = api_key or f"drf_test_{secrets.token_urlsafe(24)}"
        if _key_digest(key) in self._by_key:
            raise ApiError(409, "API_KEY_IN_USE", "That API key belongs to another tenant.")
        rng = (
            random.Random(f"{name}:{id_seed}") if id_seed is not None else random.Random(secrets.randbits(64))
        )
        tenant = TenantState(name=name, api_key=key, company_name=company_name or name, id_rng=rng)
        tenant.install_default_chart(created_at)
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

    def emit(self, tenant: TenantState, resource_type: StreamedType, record: Any, change: str | None) -> None:
        """Publish one change of a streamed record to every subscribed webhook of the tenant.

        ``change`` is ``created``/``updated``, or ``None`` for a no-op write (nothing sent).
        """
        if change is None:
            return
        full_type = f"{resource_type}.{change}"
        tenant.events_emitted += 1
        event = {
            "event_id": f"evt_{uuid.uuid4().hex[:20]}",
            "event_type": full_type,
            "occurred_at": _iso(record.updated_at),
            "tenant": tenant.name,
            "resource_type": resource_type,
            "resource_id": record.id,
            "resource_version": record.version,
            "data": record.model_dump(mode="json"),
        }
        for webhook in tenant.webhooks.values():
            if webhook.active and webhook.wants(full_type):
                self.dispatcher.enqueue(tenant.name, webhook, event)
