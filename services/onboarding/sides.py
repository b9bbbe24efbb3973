"""Reading both sides of a tenant in full, as the change events ingest would publish for them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError

from contracts.envelope import ChangeEvent, ChangeKind
from services.core import safe_errors
from services.svenn.client import SvennClient
from services.svenn.ingest import svenn_change_event
from services.svenn.mapping import change_kind_of_polled
from services.tripletex.catch_up import list_tripletex_records
from services.tripletex.client import TripletexClient
from services.tripletex.ingest import tripletex_change_event
from services.tripletex.mapping import MappingError

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def svenn_events(
    client: SvennClient,
    tenant_id: str,
    *,
    include_deleted: bool = False,
    on_record: Callable[[], None] | None = None,
) -> list[ChangeEvent]:
    """Every live project, customer and employee in Svenn (deleted ones are not there to sync;
    a re-sync asks for them too, to notice a deletion it missed). ``on_record`` counts progress."""
    events = []
    for changed_since in (
        client.projects.changed_since,
        client.customers.changed_since,
        client.employees.changed_since,
    ):
        async for record in changed_since(EPOCH):
            if on_record is not None:
                on_record()
            kind = change_kind_of_polled(record)
            if kind is not ChangeKind.DELETED or include_deleted:
                events.append(svenn_change_event(tenant_id, record, kind, record.updated_at))
    return events


async def tripletex_events(
    client: TripletexClient, tenant_id: str, *, on_record: Callable[[], None] | None = None
) -> list[ChangeEvent]:
    """Every project, customer (inactive ones too) and employee in Tripletex."""
    events = []
    async for entity_type, record in list_tripletex_records(client):
        if on_record is not None:
            on_record()
        try:
            events.append(tripletex_change_event(tenant_id, entity_type, record, ChangeKind.UPDATED))
        except (MappingError, ValidationError) as exc:
            log.warning(
                "a Tripletex record does not map",
                extra={
                    "tenant_id": tenant_id,
                    "entity_type": entity_type.value,
                    "error": safe_errors.describe(exc),
                },
            )
    return events
