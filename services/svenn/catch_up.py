"""Svenn catch-up polling: what no webhook brought, read from Svenn's lists onto ``svenn.changes.v1``.

Each resource (projects, customers, employees) has its own watermark, and a watermark is the
time its listing *started*, less an overlap, never the newest ``updated_at`` seen. Svenn lists in
creation order, so a record changed while a listing is under way can come back at its old
version (its page was read already) while records listed later show newer times: a watermark
taken from those would step over the change, and no later poll would see it. A change made after
the listing started has an ``updated_at`` after that start (up to clock skew between the engine
and Svenn, and a commit that becomes visible late, which the overlap covers), so the next poll
reads it. What the overlap reads twice gets the same event ids (same record version, same id),
which everything downstream absorbs as repeats.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.topics import SVENN_CHANGES, record_key
from services.core.publisher import Publisher
from services.svenn.client import SvennClient
from services.svenn.ingest import svenn_change_event
from services.svenn.mapping import SvennRecord, change_kind_of_polled

log = logging.getLogger(__name__)

SVENN_RESOURCES: tuple[str, ...] = ("project", "customer", "employee")
DEFAULT_OVERLAP = timedelta(seconds=60)

Advance = Callable[[str, datetime], Awaitable[None]]
"""Called with (resource, new watermark) once Kafka confirmed that resource's events."""


def _listing(client: SvennClient, resource: str) -> Callable[[datetime], AsyncIterator[SvennRecord]]:
    listings: dict[str, Callable[[datetime], AsyncIterator[Any]]] = {
        "project": client.projects.changed_since,
        "customer": client.customers.changed_since,
        "employee": client.employees.changed_since,
    }
    return listings[resource]


async def poll_svenn_changes(
    client: SvennClient,
    tenant_id: str,
    since: datetime | Mapping[str, datetime],
    publisher: Publisher,
    *,
    overlap: timedelta = DEFAULT_OVERLAP,
    advance: Advance | None = None,
) -> dict[str, datetime]:
    """Publish every record updated at or after its resource's watermark; return the next watermarks.

    ``since`` is one time for every resource or a watermark per resource (``SVENN_RESOURCES``).
    A resource's next watermark is the start of its listing less ``overlap`` (never behind
    ``since``), taken only once Kafka has confirmed every event of that listing; ``advance``
    hears it then, so a poll that fails at customers keeps the progress made on projects.
    """
    watermarks = {
        resource: since if isinstance(since, datetime) else since[resource] for resource in SVENN_RESOURCES
    }
    published = 0
    for resource in SVENN_RESOURCES:
        started = datetime.now(UTC)
        pending: list[asyncio.Future[Any]] = []
        async for record in _listing(client, resource)(watermarks[resource]):
            event = svenn_change_event(tenant_id, record, change_kind_of_polled(record), record.updated_at)
            key = record_key(tenant_id, event.entity_type, event.entity_id)
            pending.append(await publisher.send(SVENN_CHANGES, key, event))
        await asyncio.gather(*pending)
        published += len(pending)
        watermarks[resource] = max(watermarks[resource], started - overlap)
        if advance is not None:
            await advance(resource, watermarks[resource])
    log.info(
        "polled Svenn",
        extra={
            "tenant_id": tenant_id,
            "published": published,
            "watermarks": {resource: at.isoformat() for resource, at in watermarks.items()},
        },
    )
    return watermarks
