"""Retry from the panel: read the record again from its own side and publish it as a fresh change.

The decision then rules on the record as it is *now* (the user may have fixed it), under the
same rules as any change: a fixed record syncs and its error resolves, an unfixed one is
rejected again (the entry counts one more occurrence), a failed write is attempted again. The
event carries the record's real source version, so echo and out-of-order checks work as usual,
but a new event id: a retry is a new cause, so its decision and commands get new ids too
(the same version's event id would be absorbed downstream as a repeat).
"""

from __future__ import annotations

import uuid

from contracts.envelope import ChangeEvent, ChangeKind, EntityType, SourceSystem
from contracts.topics import CHANGE_TOPICS, record_key
from services.core.publisher import Publisher
from services.core.tenants import TenantConfig, TenantDirectory
from services.drifti.client import DriftiClient
from services.drifti.client.errors import DriftiNotFoundError
from services.drifti.ingest import DriftiReader, event_of
from services.drifti.snapshots import DriftiRecord
from services.svenn.client import SvennClient, SvennNotFoundError
from services.svenn.client.models import Customer, Employee, Project
from services.svenn.ingest import svenn_change_event
from services.svenn.mapping import change_kind_of_polled
from services.tripletex.ingest import ClientFactory, client_fetcher, tripletex_change_event

# What Svenn and Tripletex sync both ways, and so what retry can read back from either side.
_TWO_WAY = (EntityType.PROJECT, EntityType.CUSTOMER, EntityType.EMPLOYEE)
RETRYABLE_SIDES = (SourceSystem.SVENN.value, SourceSystem.TRIPLETEX.value, SourceSystem.DRIFTI.value)


class CannotRetry(Exception):
    """Why a record cannot be retried (said to the user as is)."""


async def fetch_event(
    tenants: TenantDirectory,
    tripletex: ClientFactory,
    tenant_id: str,
    side: SourceSystem,
    entity_type: EntityType,
    entity_id: str,
) -> ChangeEvent:
    """The record as its side holds it now, as the change event the ingest would publish for it."""
    tenant = await tenants.get(tenant_id)
    if side is SourceSystem.DRIFTI:
        return await _drifti_event(tenant, entity_type, entity_id)
    if entity_type not in _TWO_WAY:
        raise CannotRetry(f"{entity_type.value} records cannot be retried yet")
    if side is SourceSystem.SVENN:
        if tenant.svenn is None:
            raise CannotRetry("the tenant has no Svenn connection")
        async with SvennClient(tenant.svenn.base_url, tenant.svenn.api_key) as client:
            try:
                record: Project | Customer | Employee
                if entity_type is EntityType.PROJECT:
                    record = await client.projects.get(entity_id)
                elif entity_type is EntityType.CUSTOMER:
                    record = await client.customers.get(entity_id)
                else:
                    record = await client.employees.get(entity_id)
            except SvennNotFoundError:
                raise CannotRetry(f"Svenn no longer has {entity_type.value} {entity_id}") from None
        return svenn_change_event(tenant_id, record, change_kind_of_polled(record), record.updated_at)
    if side is SourceSystem.TRIPLETEX:
        if tenant.tripletex is None:
            raise CannotRetry("the tenant has no Tripletex connection")
        if not entity_id.isdigit():
            raise CannotRetry(f"{entity_id!r} is not a Tripletex id")
        found = await client_fetcher(tripletex)(tenant_id, entity_type, int(entity_id))
        if found is None:
            raise CannotRetry(f"Tripletex no longer has {entity_type.value} {entity_id}")
        return tripletex_change_event(tenant_id, entity_type, found, ChangeKind.UPDATED)
    raise CannotRetry(f"records from {side.value} cannot be retried yet")


async def _drifti_event(tenant: TenantConfig, entity_type: EntityType, entity_id: str) -> ChangeEvent:
    """A Drifti record (customer, job, invoice, payment) read afresh, as the Drifti ingest publishes it."""
    if tenant.drifti is None:
        raise CannotRetry("the tenant has no Drifti connection")
    # A reader of its own: nothing cached, so the record and what it embeds are read as they are now.
    async with DriftiClient(tenant.drifti.base_url, tenant.drifti.api_key) as client:
        try:
            record: DriftiRecord
            if entity_type is EntityType.CUSTOMER:
                record = await client.customers.get(entity_id)
            elif entity_type is EntityType.PROJECT:
                record = await client.jobs.get(entity_id)
            elif entity_type is EntityType.INVOICE:
                record = await client.invoices.get(entity_id)
            elif entity_type is EntityType.PAYMENT:
                record = await client.payments.get(entity_id)
            else:
                raise CannotRetry(f"Drifti {entity_type.value} records cannot be retried")
        except DriftiNotFoundError:
            raise CannotRetry(f"Drifti no longer has {entity_type.value} {entity_id}") from None
        return await event_of(DriftiReader(client), tenant.tenant_id, record)


async def retry(
    tenants: TenantDirectory,
    tripletex: ClientFactory,
    publisher: Publisher,
    tenant_id: str,
    side: SourceSystem,
    entity_type: EntityType,
    entity_id: str,
) -> ChangeEvent:
    """Publish the record's current state under a new event id; returns the event once Kafka has it."""
    current = await fetch_event(tenants, tripletex, tenant_id, side, entity_type, entity_id)
    fresh = uuid.uuid4()
    event = current.model_copy(update={"event_id": fresh, "correlation_id": fresh})
    key = record_key(tenant_id, entity_type, entity_id)
    await publisher.store(CHANGE_TOPICS[side], key, event)
    return event
