"""One "Export hours to Tripletex" for a tenant: connect both sides, export, record the decisions.

The CLI (``tsync export-hours``) and the HTTP route Drifti's button calls both come here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from contracts.envelope import DecisionRecord
from services.core.publisher import Publisher
from services.core.tenants import TenantConfig
from services.core.tracing import current_trace_context, tracer
from services.drifti.client import DriftiClient
from services.drifti.hours.decisions import export_decisions, publish
from services.drifti.hours.export import Progress, export_hours
from services.drifti.hours.result import HoursExport
from services.drifti.hours.store import LinkStore
from services.tripletex.client import TripletexClient


class NotConnected(ValueError):
    pass


@dataclass(frozen=True)
class Transports:
    """Where the clients send their requests; tests may point them at the simulators in-process."""

    drifti: httpx.AsyncBaseTransport | None = None
    tripletex: httpx.AsyncBaseTransport | None = None


@dataclass(frozen=True)
class ExportRun:
    export: HoursExport
    decisions: list[DecisionRecord]


def _no_progress(_stage: str, _done: int, _total: int) -> None:
    return None


async def run_export(
    tenant: TenantConfig,
    start: dt.date,
    end: dt.date,
    *,
    store: LinkStore,
    publisher: Publisher | None,
    dry_run: bool = False,
    progress: Progress = _no_progress,
    transports: Transports = Transports(),
) -> ExportRun:
    """Export the period; unless it is a dry run, publish what it did on ``sync.decisions.v1``."""
    if tenant.drifti is None or tenant.tripletex is None:
        raise NotConnected(f"tenant {tenant.tenant_id!r} needs both a Drifti and a Tripletex connection")
    drifti = DriftiClient(tenant.drifti.base_url, tenant.drifti.api_key, transport=transports.drifti)
    tripletex = TripletexClient(
        tenant.tripletex.base_url,
        tenant.tenant_id,
        consumer_token=tenant.tripletex.consumer_token,
        employee_token=tenant.tripletex.employee_token,
        transport=transports.tripletex,
    )
    attributes = {
        "tsync.tenant": tenant.tenant_id,
        "tsync.from": start.isoformat(),
        "tsync.to": end.isoformat(),
    }
    # One trace per export: the Drifti and Tripletex calls and the decisions it publishes.
    with tracer().start_as_current_span("drifti.hours.export", attributes=attributes) as span:
        async with drifti, tripletex, store.exclusive(tenant.tenant_id):
            export = await export_hours(
                drifti,
                tripletex,
                tenant.tenant_id,
                start,
                end,
                store=store,
                dry_run=dry_run,
                progress=progress,
            )
        span.set_attribute("tsync.timesheet_writes", export.written.total)
        decisions: list[DecisionRecord] = []
        if not dry_run:
            decisions = export_decisions(export, uuid.uuid4(), datetime.now(UTC), current_trace_context())
            if publisher is not None:
                await publish(publisher, decisions)
    return ExportRun(export, decisions)
