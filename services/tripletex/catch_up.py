"""Tripletex catch-up: the full pass over a tenant's records and its webhook subscriptions.

The pass (``reconcile_tripletex``) publishes every project, customer and employee onto
``tripletex.changes.v1`` with the event ids the webhooks gave the same versions (``ingest.py``),
so downstream absorbs what it already had and only what the webhooks missed is new. The
subscriptions (``ensure_subscriptions``) are what makes Tripletex send those webhooks at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pydantic import SecretStr, ValidationError

from contracts.envelope import ChangeEvent, ChangeKind, EntityType, SideStatus, SourceSystem
from contracts.ids import side_status_id
from contracts.topics import SYNC_OUTCOMES, TRIPLETEX_CHANGES, record_key
from services.core import metrics, safe_errors, tracing
from services.core.publisher import Publisher
from services.tripletex.client import TripletexClient, TripletexError
from services.tripletex.ingest import WEBHOOK_ROUTE, tripletex_change_event
from services.tripletex.mapping import (
    CUSTOMER_FIELDS,
    EMPLOYEE_FIELDS,
    ENTITY_OF_SUBJECT,
    FIELDS_OF,
    PROJECT_FIELDS,
    MappingError,
    as_json,
)

log = logging.getLogger(__name__)

OSLO = ZoneInfo("Europe/Oslo")
# What the engine subscribes to: every verb of every synced subject (each verb is its own subscription).
SUBSCRIBED_EVENTS: tuple[str, ...] = tuple(
    f"{subject}.{verb}" for subject in ENTITY_OF_SUBJECT for verb in ("create", "update", "delete")
)


def _key(event: ChangeEvent) -> bytes:
    return record_key(event.tenant_id, event.entity_type, event.entity_id)


# --------------------------------------------------------------------------- reconciliation
@dataclass
class ReconcileReport:
    """What one reconciliation pass published (``skipped``: records that could not be mapped)."""

    tenant_id: str
    projects: int = 0
    customers: int = 0
    employees: int = 0
    skipped: int = 0
    event_ids: list[str] = field(default_factory=list, repr=False)

    @property
    def published(self) -> int:
        return self.projects + self.customers + self.employees


_FLUSH_EVERY = 500


async def reconcile_tripletex(
    client: TripletexClient,
    tenant_id: str,
    publisher: Publisher,
    *,
    customers_changed_since: datetime | None = None,
) -> ReconcileReport:
    """Publish an ``updated`` change event for every project, customer and employee.

    Tripletex's webhooks may skip versions and are retried for an undocumented while only, so
    Tripletex recommends a nightly full sync (REFERENCE §5.9); this is it. Records the
    webhooks already brought produce the ids they produced then, so downstream absorbs them;
    only what was missed is new. Deletions are not seen here (a listing cannot show absence).
    ``customers_changed_since`` narrows customers (the only one of the three with
    ``changedSince``); projects and employees are always listed in full. Every event is
    confirmed by Kafka before this returns.
    """
    report = ReconcileReport(tenant_id)
    pending: list[asyncio.Future[Any]] = []
    with tracing.tracer().start_as_current_span(
        "tripletex reconcile", attributes={"tsync.tenant_id": tenant_id}
    ) as span:
        seen: set[tuple[EntityType, str]] = set()
        async for entity_type, record in list_tripletex_records(
            client, customers_changed_since=customers_changed_since
        ):
            try:
                event = tripletex_change_event(tenant_id, entity_type, record, ChangeKind.UPDATED)
            except (MappingError, ValidationError) as exc:
                report.skipped += 1
                log.warning(
                    "skipped a Tripletex record that does not map",
                    extra={
                        "tenant_id": tenant_id,
                        "entity_type": entity_type.value,
                        "error": safe_errors.describe(exc),
                    },
                )
                continue
            if (entity_type, event.entity_id) in seen:
                continue  # a record that moved between pages while we read them
            seen.add((entity_type, event.entity_id))
            pending.append(await publisher.send(TRIPLETEX_CHANGES, _key(event), event))
            report.event_ids.append(str(event.event_id))
            _count(report, entity_type)
            if len(pending) >= _FLUSH_EVERY:
                await asyncio.gather(*pending)
                pending.clear()
        if pending:
            await asyncio.gather(*pending)
        span.set_attribute("tsync.published", report.published)
    log.info(
        "reconciled Tripletex",
        extra={
            "tenant_id": tenant_id,
            "projects": report.projects,
            "customers": report.customers,
            "employees": report.employees,
            "skipped": report.skipped,
        },
    )
    return report


async def list_tripletex_records(
    client: TripletexClient, *, customers_changed_since: datetime | None = None
) -> AsyncIterator[tuple[EntityType, dict[str, Any]]]:
    """Every project (with participants), customer (active and inactive) and employee, as JSON."""
    sources: list[tuple[EntityType, AsyncIterator[Any]]] = [
        (EntityType.PROJECT, client.projects.iterate(fields=PROJECT_FIELDS)),
        (EntityType.CUSTOMER, _all_customers(client, customers_changed_since)),
        (EntityType.EMPLOYEE, client.employees.iterate(fields=EMPLOYEE_FIELDS)),
    ]
    for entity_type, records in sources:
        async for model in records:
            yield entity_type, as_json(model)


async def _all_customers(client: TripletexClient, changed_since: datetime | None) -> AsyncIterator[Any]:
    """Active and inactive customers: ``isInactive`` defaults to false and hides inactive ones."""
    for inactive in (False, True):
        if changed_since is None:
            pages = client.customers.iterate(fields=CUSTOMER_FIELDS, isInactive=inactive)
        else:
            # Tripletex's DateTime is local (Europe/Oslo) without an offset.
            local = changed_since.astimezone(OSLO) if changed_since.tzinfo else changed_since
            since = local.strftime("%Y-%m-%dT%H:%M:%S")
            pages = client.customers.iterate(fields=CUSTOMER_FIELDS, isInactive=inactive, changedSince=since)
        async for customer in pages:
            yield customer


def _count(report: ReconcileReport, entity_type: EntityType) -> None:
    if entity_type is EntityType.PROJECT:
        report.projects += 1
    elif entity_type is EntityType.CUSTOMER:
        report.customers += 1
    else:
        report.employees += 1


# --------------------------------------------------------------------------- subscriptions
MISSING = "MISSING"  # the status the engine reports for a subscription that does not exist


@dataclass
class SubscriptionReport:
    """What one ``ensure_subscriptions`` did; ``found_disabled``: event -> the status it was found in."""

    created: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    found_disabled: dict[str, str] = field(default_factory=dict)

    @property
    def not_active(self) -> dict[str, str]:
        """Subscriptions left disabled (a write failed before them) or missing (not created)."""
        left = {e: s for e, s in self.found_disabled.items() if e not in self.reactivated}
        return left | dict.fromkeys(self.missing, MISSING)


class SubscriptionsNotActive(Exception):
    """Tripletex refused or did not answer a write; ``report`` says how far it got."""

    def __init__(self, report: SubscriptionReport, cause: Exception) -> None:
        super().__init__(f"could not make every Tripletex subscription active: {cause}")
        self.report = report


def webhook_url(public_base_url: str, tenant_id: str) -> str:
    """The tenant's receiver URL as Tripletex must call it (HTTPS in production)."""
    return public_base_url.rstrip("/") + WEBHOOK_ROUTE.format(tenant_id=tenant_id)


async def read_subscriptions(client: TripletexClient, target_url: str) -> dict[str, dict[str, Any]]:
    """The engine's subscription to ``target_url`` per event; of two for one event, an active one."""
    response = await client.transport.request(
        "GET", "/event/subscription", params={"fields": "id,version,event,targetUrl,status", "count": 1000}
    )
    existing: dict[str, dict[str, Any]] = {}
    for row in response.json().get("values") or []:
        if row.get("targetUrl") == target_url and row.get("event") in SUBSCRIBED_EVENTS:
            previous = existing.get(row["event"])
            if previous is None or (previous.get("status") != "ACTIVE" and row.get("status") == "ACTIVE"):
                existing[row["event"]] = row
    return existing


async def ensure_subscriptions(
    client: TripletexClient,
    tenant_id: str,
    target_url: str,
    *,
    hmac_secret: str | SecretStr | None = None,
    refresh: bool = False,
    create_missing: bool = True,
) -> SubscriptionReport:
    """Subscribe ``target_url`` to project/customer/employee create/update/delete, idempotently.

    A subscription for the same event and URL that exists is kept; a disabled one
    (``DISABLED_TOO_MANY_ERRORS`` after an outage …) is switched back on. ``hmacSharedSecret``
    is write-only, so whether an existing subscription has the current secret cannot be
    read: pass ``refresh=True`` after rotating the secret to rewrite it (and ``fields``) on
    every existing one. Each subscription asks for the mapping's ``fields`` so webhook values
    arrive complete and need no fetch. ``create_missing=False`` only reports missing ones: a
    switch-on is a PUT of a known version, safe when two processes do it at once (one gets a
    conflict), while two creating at once would subscribe twice. The client has no
    event-subscription API yet, so this goes through its transport (same auth, retries and
    rate limits). A failed write raises ``SubscriptionsNotActive`` with the report so far.
    """
    secret = hmac_secret.get_secret_value() if isinstance(hmac_secret, SecretStr) else hmac_secret
    existing = await read_subscriptions(client, target_url)
    report = SubscriptionReport(
        found_disabled={
            event: str(row.get("status")) for event, row in existing.items() if row.get("status") != "ACTIVE"
        }
    )
    try:
        for event_name in SUBSCRIBED_EVENTS:
            subject = event_name.split(".")[0]
            wanted: dict[str, Any] = {"event": event_name, "targetUrl": target_url}
            if not event_name.endswith(".delete"):  # a delete's value is null: fields mean nothing
                wanted["fields"] = FIELDS_OF[ENTITY_OF_SUBJECT[subject]]
            if secret:
                wanted["hmacSharedSecret"] = secret
            row = existing.get(event_name)
            if row is None and not create_missing:
                report.missing.append(event_name)
            elif row is None:
                await client.transport.request("POST", "/event/subscription", json=wanted)
                report.created.append(event_name)
            elif row.get("status") != "ACTIVE" or refresh:
                body = {**wanted, "id": row["id"], "version": row.get("version"), "status": "ACTIVE"}
                await client.transport.request("PUT", f"/event/subscription/{row['id']}", json=body)
                (report.reactivated if row.get("status") != "ACTIVE" else report.kept).append(event_name)
            else:
                report.kept.append(event_name)
    except (TripletexError, httpx.HTTPError) as exc:
        raise SubscriptionsNotActive(report, exc) from exc
    log.info(
        "ensured Tripletex subscriptions",
        extra={
            "tenant_id": tenant_id,
            "subscriptions_created": len(report.created),  # not "created": a LogRecord attribute
            "reactivated": len(report.reactivated),
            "missing": len(report.missing),
        },
    )
    return report


async def _looked_at_again(
    client: TripletexClient, target_url: str, report: SubscriptionReport
) -> SubscriptionReport:
    """After a failed write: what is not active now. Another ingest replica may have won the same
    switch-on (its PUT first, ours a version conflict); then nothing is left to do."""
    with contextlib.suppress(Exception):  # Tripletex away: the report as it was
        now = await read_subscriptions(client, target_url)
        ours = {e: s for e, s in report.found_disabled.items() if e in report.reactivated}
        left = {e: str(row.get("status")) for e, row in now.items() if row.get("status") != "ACTIVE"}
        report.found_disabled = ours | left
        report.missing = [e for e in SUBSCRIBED_EVENTS if e not in now]
    return report


class SubscriptionGuard:
    """Keeps tenants' subscriptions on: checks them, switches disabled ones on, reads what they missed.

    Tripletex disables a subscription whose deliveries keep failing (the engine unreachable for
    a while) and sends nothing more to it; only the nightly pass would bring those changes. So
    every check switches a disabled subscription on again and runs a full pass for the tenant
    right away; a pass that fails is owed, and run by the tenant's next check. Missing ones are
    reported, not created (every ingest replica checks; see ``ensure_subscriptions``). Each one
    switched on is a log line and counts in ``tsync_tripletex_subscriptions_reenabled_total``;
    one disabled or missing after the check stays in ``tsync_tripletex_subscriptions_disabled``
    (status ``MISSING`` for a missing one) until a check finds it active.
    """

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self._off_since: dict[str, datetime] = {}  # tenants whose webhooks are off, since when
        self._reported: dict[str, bool] = {}  # what the error log was last told: all active or not
        self._not_active: dict[str, dict[str, str]] = {}
        self._owed: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._labels: set[tuple[str, str]] = set()

    async def check(
        self,
        client: TripletexClient,
        tenant_id: str,
        target_url: str,
        secret: str | SecretStr,
        *,
        refresh: bool = False,
    ) -> SubscriptionReport:
        """Check the tenant's subscriptions; raises what ``ensure_subscriptions`` or the pass raise."""
        async with self._locks.setdefault(tenant_id, asyncio.Lock()):
            try:
                report = await ensure_subscriptions(
                    client, tenant_id, target_url, hmac_secret=secret, refresh=refresh, create_missing=False
                )
            except SubscriptionsNotActive as exc:
                report = await _looked_at_again(client, target_url, exc.report)
                if report.not_active:
                    self._note(tenant_id, report)
                    await self._tell_error_log(tenant_id, report.not_active)
                    raise
            self._note(tenant_id, report)
            await self._tell_error_log(tenant_id, report.not_active)
            if tenant_id in self._owed:
                await reconcile_tripletex(client, tenant_id, self.publisher)
                self._owed.discard(tenant_id)
            return report

    async def _tell_error_log(self, tenant_id: str, not_active: dict[str, str]) -> None:
        """One ``TRIPLETEX_WEBHOOKS_OFF`` entry per tenant while a subscription stays off or missing
        after the check, resolved once a check finds all active (S-X1). Published when that changes
        (and once per process, which resolves an entry a restart left open); a failed publish is
        tried again at the next check."""
        ok = not not_active
        if self._reported.get(tenant_id) == ok:
            return
        now = datetime.now(UTC)  # since when they are off: the entry's opening, also when it resolves
        when = self._off_since.pop(tenant_id, now) if ok else self._off_since.setdefault(tenant_id, now)
        listed = ", ".join(f"{event} ({status})" for event, status in sorted(not_active.items()))
        detail = (
            "Tripletex sends webhooks again: every subscription is active"
            if ok
            else f"Tripletex sends no webhooks for {listed}; its changes arrive with the nightly pass only"
        )
        status = SideStatus(
            tenant_id=tenant_id,
            correlation_id=side_status_id(tenant_id, "webhooks", "tripletex", when, False),
            status_id=side_status_id(tenant_id, "webhooks", "tripletex", when, ok),
            target=SourceSystem.TRIPLETEX,
            side=SourceSystem.TRIPLETEX,
            reachable=ok,
            problem="webhooks_off",
            since=when,
            detail=detail,
        )
        try:
            await self.publisher.store(
                SYNC_OUTCOMES, record_key(tenant_id, "connection", "tripletex"), status
            )
        except Exception as exc:  # Kafka away: the next check says it again
            log.warning(
                "could not report the Tripletex subscriptions' state",
                extra={"tenant_id": tenant_id, "error": safe_errors.describe(exc)},
            )
            if ok:
                self._off_since[tenant_id] = when
            return
        self._reported[tenant_id] = ok

    def forget(self, tenant_id: str) -> None:
        """The tenant is no longer checked here (removed, paused, disconnected): drop its figures."""
        self._not_active.pop(tenant_id, None)
        self._reported.pop(tenant_id, None)
        self._owed.discard(tenant_id)
        self._set_gauge()

    def _note(self, tenant_id: str, report: SubscriptionReport) -> None:
        for event_name in report.reactivated:
            status = report.found_disabled[event_name]
            metrics.SUBSCRIPTIONS_REENABLED.labels(event_name, status).inc()
            log.warning(
                "a Tripletex webhook subscription was disabled; switched it on again",
                extra={"tenant_id": tenant_id, "event": event_name, "status": status},
            )
        not_active = report.not_active
        if not_active:  # its changes come with the nightly pass only: say so at every check
            log.error(
                "Tripletex webhook subscriptions are not active and were not switched on",
                extra={"tenant_id": tenant_id, "subscriptions": not_active},
            )
        if report.reactivated:
            self._owed.add(tenant_id)  # what Tripletex did not send meanwhile: a full pass reads it
        self._not_active[tenant_id] = not_active
        self._set_gauge()

    def _set_gauge(self) -> None:
        counts: dict[tuple[str, str], int] = {}
        for not_active in self._not_active.values():
            for labels in not_active.items():
                counts[labels] = counts.get(labels, 0) + 1
        self._labels |= set(counts)
        for event_name, status in self._labels:
            metrics.SUBSCRIPTIONS_DISABLED.labels(event_name, status).set(counts.get((event_name, status), 0))


__all__ = [
    "MISSING",
    "SUBSCRIBED_EVENTS",
    "ReconcileReport",
    "SubscriptionGuard",
    "SubscriptionReport",
    "SubscriptionsNotActive",
    "ensure_subscriptions",
    "list_tripletex_records",
    "read_subscriptions",
    "reconcile_tripletex",
    "webhook_url",
]
