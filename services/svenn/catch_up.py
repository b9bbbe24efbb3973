"""Svenn catch-up polling: what no webhook brought, read from Svenn's lists onto ``svenn.changes.v1``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from contracts.topics import SVENN_CHANGES, record_key
from services.core.publisher import Publisher
from services.svenn.client import SvennClient
from services.svenn.ingest import svenn_change_event
from services.svenn.mapping import change_kind_of_polled

log = logging.getLogger(__name__)


async def poll_svenn_changes(
    client: SvennClient, tenant_id: str, since: datetime, publisher: Publisher
) -> datetime:
    """Publish every record changed at or after ``since``; return the next watermark.

    The catch-up net under webhooks (after downtime, or a delivery Svenn gave up on). Svenn's
    ``updated_since`` is inclusive, so the records at the watermark come again next time;
    their event ids repeat, so downstream sees repeats, not new changes. Everything is
    confirmed by Kafka before the watermark moves: a crash mid-poll re-polls, never skips.
    """
    watermark = since
    pending: list[asyncio.Future[Any]] = []
    sources = (client.projects.changed_since, client.customers.changed_since, client.employees.changed_since)
    for changed_since in sources:
        async for record in changed_since(since):
            event = svenn_change_event(tenant_id, record, change_kind_of_polled(record), record.updated_at)
            pending.append(
                await publisher.send(
                    SVENN_CHANGES, record_key(tenant_id, event.entity_type, event.entity_id), event
                )
            )
            watermark = max(watermark, record.updated_at)
    if pending:
        await asyncio.gather(*pending)
    log.info(
        "polled Svenn",
        extra={"tenant_id": tenant_id, "published": len(pending), "watermark": watermark.isoformat()},
    )
    return watermark


async def poll_forever(
    client: SvennClient,
    tenant_id: str,
    since: datetime,
    publisher: Publisher,
    *,
    interval_seconds: float = 300.0,
    stop: asyncio.Event | None = None,
) -> datetime:
    """Poll every ``interval_seconds`` until ``stop`` is set; a failed poll keeps its watermark.

    The watermark lives in memory only: persisting it (and starting the loop per tenant) is
    for the tenant registry (issue 6); until then a restart polls from the ``since`` given.
    """
    stop = stop or asyncio.Event()
    watermark = since
    while not stop.is_set():
        try:
            watermark = await poll_svenn_changes(client, tenant_id, watermark, publisher)
        except Exception as exc:  # one failed poll must not end the loop; the next one catches up
            log.warning("Svenn poll failed", extra={"tenant_id": tenant_id, "error": repr(exc)})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
    return watermark
