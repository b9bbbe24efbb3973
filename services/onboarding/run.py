"""Readiness report and initial sync for one tenant, against its real Svenn and Tripletex.

The dry run (``readiness``) reads both sides and changes nothing. The initial sync publishes
every record of both sides as change events; the rules and writers then do exactly what they
do for live changes (match by number before creating, skip, reject into the error log), so the
first sync and every later one follow one set of rules, and running it twice changes nothing
(same record versions, same event ids).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

import httpx

from contracts.envelope import SourceSystem
from contracts.topics import CHANGE_TOPICS, record_key
from services.core.publisher import Publisher
from services.core.tenants import TenantConfig
from services.onboarding.readiness import Action, Readiness, plan
from services.onboarding.sides import svenn_events, tripletex_events
from services.svenn.client import SvennClient
from services.tripletex.client import TripletexClient


class NotConnected(ValueError):
    pass


@dataclass(frozen=True)
class Transports:
    """Where the clients send their requests; tests point them at the simulators in-process."""

    svenn: httpx.AsyncBaseTransport | None = None
    tripletex: httpx.AsyncBaseTransport | None = None


def _clients(tenant: TenantConfig, transports: Transports) -> tuple[SvennClient, TripletexClient]:
    if tenant.svenn is None or tenant.tripletex is None:
        raise NotConnected(f"tenant {tenant.tenant_id!r} needs both a Svenn and a Tripletex connection")
    svenn = SvennClient(tenant.svenn.base_url, tenant.svenn.api_key, transport=transports.svenn)
    tripletex = TripletexClient(
        tenant.tripletex.base_url,
        tenant.tenant_id,
        consumer_token=tenant.tripletex.consumer_token,
        employee_token=tenant.tripletex.employee_token,
        transport=transports.tripletex,
    )
    return svenn, tripletex


async def readiness(tenant: TenantConfig, transports: Transports = Transports()) -> Readiness:
    svenn, tripletex = _clients(tenant, transports)
    async with svenn, tripletex:
        return plan(
            tenant.tenant_id,
            await svenn_events(svenn, tenant.tenant_id),
            await tripletex_events(tripletex, tenant.tenant_id),
        )


@dataclass(frozen=True)
class InitialSync:
    svenn_published: int
    tripletex_published: int


async def initial_sync(
    tenant: TenantConfig, publisher: Publisher, transports: Transports = Transports()
) -> InitialSync:
    """Publish every record of both sides (the same events the readiness report looked at)."""
    svenn, tripletex = _clients(tenant, transports)
    async with svenn, tripletex:
        events = await svenn_events(svenn, tenant.tenant_id) + await tripletex_events(
            tripletex, tenant.tenant_id
        )
    pending = [
        await publisher.send(CHANGE_TOPICS[e.source], record_key(e.tenant_id, e.entity_type, e.entity_id), e)
        for e in events
    ]
    await asyncio.gather(*pending)
    counts = Counter(e.source for e in events)
    return InitialSync(counts[SourceSystem.SVENN], counts[SourceSystem.TRIPLETEX])


def render(readiness: Readiness, samples: int = 5) -> str:
    """The report as plain text: counts per entity type and action, then samples with reasons."""
    lines = [f"Readiness of tenant {readiness.tenant_id} (dry run: nothing was changed)", ""]
    counts = readiness.counts()
    lines.append(f"{'entity':<10}" + "".join(f"{a.value:>20}" for a in Action))
    for entity in sorted({e for e, _ in counts}):
        lines.append(f"{entity.value:<10}" + "".join(f"{counts[(entity, a)]:>20}" for a in Action))
    for action in Action:
        items = readiness.of(action)
        if not items:
            continue
        lines += ["", f"{action.value} ({len(items)}):"]
        reasons = Counter(f"{i.rule_id}: {i.reason}" for i in items)
        for reason, n in reasons.most_common():
            lines.append(f"  {n:>5} x {reason}")
        for item in items[:samples]:
            ids = f"svenn={item.svenn_id} tripletex={item.tripletex_id}"
            code = f" [{item.error_code}]" if item.error_code else ""
            lines.append(f"        e.g. {item.entity_type.value} {item.key or ''} {ids}{code}")
    return "\n".join(lines)
