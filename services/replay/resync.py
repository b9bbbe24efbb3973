"""Re-sync of one tenant: list both sides afresh, compare with what the engine believes, and send
only the corrections through the normal pipeline.

What the engine believes is the link table (which record is which, what both held after the
last write, the record's version then) and the open error log. Each record of the fresh
listing becomes the change event ingest would have published for it, and the pure rules
(``services.decision.decide``) are asked about it with the real links. A record the rules would
act on is drift: an update the engine missed (webhooks were off or lost), a create, a pair to
link again, a deletion on one side whose twin still follows (S-P7, S-C5), a rejection the error
log does not show. A record the rules would skip — its content equals what the engine last
wrote, or a rule skips it — is in sync and is left alone.

Why change events, not commands: the decision stays the one place that applies the rules,
the echo and version guards and the write intents; writers match by number before they create
and write nothing when nothing differs, so a correction can never write twice what the rules
would write once. A correction's event id is derived from the record's version *and* the link
row it corrects: the original event id would be recognised downstream as a redelivery of
something already projected (its outcome would not link again), while a second re-sync that
sees the same drift before the first has landed publishes the same ids again.

Other tenants are not read or touched: the listing uses this tenant's connections, the link
table is read for this tenant, every published event is keyed ``tenant|type|id``. No topic is
consumed, so no consumer group moves.

``--since``: Svenn records carry ``updated_at`` and Tripletex customers can be listed
``changedSince``; Tripletex projects and employees carry no change time, so they are always
compared, as are deletions (a deleted record has no listing entry to date it).
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from uuid import uuid5

import asyncpg

from contracts.entities import ProjectSnapshot, ProjectStatus
from contracts.envelope import (
    ChangeEvent,
    ChangeKind,
    EntityType,
    LinkEffect,
    LinkState,
    Operation,
    SourceSystem,
    Verdict,
)
from contracts.ids import NAMESPACE
from contracts.topics import CHANGE_TOPICS, record_key
from projections import decision_state
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import TenantConfig
from services.decision.consumer import link_keys
from services.decision.decide import decide
from services.decision.links import Link, LinkKey, Links
from services.decision.natural_keys import natural_keys
from services.decision.rules.text import text_problem
from services.decision.ruling import Ruling
from services.onboarding.run import Transports, _clients
from services.onboarding.sides import svenn_events, tripletex_events
from services.tripletex.catch_up import list_tripletex_records
from services.tripletex.ingest import tripletex_delete_event
from services.tripletex.mapping import record_id

SVENN, TRIPLETEX = SourceSystem.SVENN, SourceSystem.TRIPLETEX


class Action(StrEnum):
    UPDATE = "update"
    CREATE = "create"
    LINK = "link"
    COMPLETE = "complete"
    DELETE = "delete"
    ASSIGN_NUMBER = "assign number"
    BREAK = "break link"
    REJECT = "reject"  # a rejection the error log does not show yet
    KNOWN_ERROR = "known error"  # rejected, and open in the error log already
    SKIP = "skip"  # a rule skips it (sub-project, internal, inactive …): nothing to correct
    IN_SYNC = "in sync"


CORRECTIONS = frozenset(
    {
        Action.UPDATE,
        Action.CREATE,
        Action.LINK,
        Action.COMPLETE,
        Action.DELETE,
        Action.ASSIGN_NUMBER,
        Action.BREAK,
        Action.REJECT,
    }
)
_BY_OPERATION = {
    Operation.UPDATE: Action.UPDATE,
    Operation.COMPLETE: Action.COMPLETE,
    Operation.DELETE: Action.DELETE,
    Operation.ASSIGN_NUMBER: Action.ASSIGN_NUMBER,
}


@dataclass(frozen=True)
class Item:
    """One record's verdict; ``event`` is the correction to publish (None: nothing to correct)."""

    entity_type: EntityType
    action: Action
    rule_id: str
    reason: str
    side: SourceSystem
    entity_id: str
    other_id: str | None = None  # its twin (linked) or the record it will be linked with
    key: str | None = None
    fields: tuple[str, ...] | None = None  # for an update: the fields that differ
    event: ChangeEvent | None = None


@dataclass
class Resync:
    tenant_id: str
    since: datetime | None
    dry_run: bool
    listed: Counter[SourceSystem] = field(default_factory=Counter)
    items: list[Item] = field(default_factory=list)
    published: int = 0

    @property
    def corrections(self) -> list[Item]:
        return [i for i in self.items if i.action in CORRECTIONS]

    def counts(self) -> Counter[tuple[EntityType, Action]]:
        return Counter((i.entity_type, i.action) for i in self.items)


LinkRow = tuple[EntityType, SourceSystem, str, SourceSystem, str]
"""A linked row of the link table: (type, side, id, other side, other id)."""

Report = Callable[[str, int, int | None], None]
"""Progress: (phase, done, total or None while unknown)."""


def _quiet(_phase: str, _done: int, _total: int | None) -> None:
    return None


# --------------------------------------------------------------------------- the comparison (pure)
@dataclass(frozen=True)
class Listing:
    """Both sides as change events; ``svenn_deleted`` are Svenn records marked deleted."""

    svenn: list[ChangeEvent]
    tripletex: list[ChangeEvent]
    svenn_deleted: list[ChangeEvent] = field(default_factory=list)
    # Tripletex customers changed since ``since`` ((type, id)); None: no ``since`` given.
    tripletex_changed: frozenset[tuple[EntityType, str]] | None = None


def compare(
    tenant_id: str,
    listing: Listing,
    links: Links,
    link_rows: Sequence[LinkRow],
    open_errors: set[tuple[str, str, str, str]],
    since: datetime | None = None,
) -> list[Item]:
    """Every record's verdict, given both sides now and what the engine believes; pure.

    ``link_rows`` are the tenant's linked rows (type, side, id, other side, other id);
    ``open_errors`` the open error-log entries as (side, type, id, code).
    """
    live = {SVENN: listing.svenn, TRIPLETEX: listing.tripletex}
    index = {side: _index(events) for side, events in live.items()}
    items: list[Item] = []
    paired: set[tuple[SourceSystem, str]] = set()
    # Tripletex first: of a pair to link again, its record is the one sent (it keeps its values, S-P4).
    for side in (TRIPLETEX, SVENN):
        other = SVENN if side is TRIPLETEX else TRIPLETEX
        for event in live[side]:
            if not _in_window(event, listing, since):
                continue
            item = _classify(event, decide(event, links), links, index[other], open_errors)
            if item.action is Action.LINK:
                if (side, event.entity_id) in paired:
                    continue
                paired.update({(side, event.entity_id), (other, item.other_id or "")})
            items.append(item)
    items += _missing_twins(tenant_id, listing, links, link_rows, open_errors)
    return items


def _in_window(event: ChangeEvent, listing: Listing, since: datetime | None) -> bool:
    if since is None:
        return True
    if event.source is SVENN:
        return event.occurred_at >= since
    if listing.tripletex_changed is not None and event.entity_type is EntityType.CUSTOMER:
        return (event.entity_type, event.entity_id) in listing.tripletex_changed
    return True  # Tripletex projects and employees carry no change time


def _index(events: Iterable[ChangeEvent]) -> dict[tuple[EntityType, str], set[str]]:
    """Natural key -> ids, top-level records only (writers never match a Svenn sub-project)."""
    index: dict[tuple[EntityType, str], set[str]] = defaultdict(set)
    for e in events:
        if isinstance(e.snapshot, ProjectSnapshot) and e.snapshot.parent_id is not None:
            continue
        for key in natural_keys(e.snapshot):
            index[(e.entity_type, key)].add(e.entity_id)
    return index


def _classify(
    event: ChangeEvent,
    ruling: Ruling,
    links: Links,
    other_index: dict[tuple[EntityType, str], set[str]],
    open_errors: set[tuple[str, str, str, str]],
) -> Item:
    link = links.of(event.tenant_id, event.entity_type, event.source, event.entity_id)
    keys = natural_keys(event.snapshot)
    action, reason, other_id, fields = _verdict(event, ruling, link, keys, other_index, open_errors)
    return Item(
        event.entity_type,
        action,
        ruling.rule_id,
        reason,
        event.source,
        event.entity_id,
        other_id=other_id,
        key=keys[0] if keys else None,
        fields=fields,
        event=correction_event(event, link) if action in CORRECTIONS else None,
    )


def _verdict(
    event: ChangeEvent,
    ruling: Ruling,
    link: Link,
    keys: list[str],
    other_index: dict[tuple[EntityType, str], set[str]],
    open_errors: set[tuple[str, str, str, str]],
) -> tuple[Action, str, str | None, tuple[str, ...] | None]:
    """(action, reason, the other record's id, fields that differ) for one record's ruling."""
    twin = link.target_entity_id
    if ruling.verdict is Verdict.REJECT:
        known = (event.source.value, event.entity_type.value, event.entity_id, ruling.error_code or "")
        return (Action.KNOWN_ERROR if known in open_errors else Action.REJECT), ruling.reason, twin, None
    if ruling.verdict is Verdict.SKIP:
        if ruling.link_effect is LinkEffect.BREAK and link.state is LinkState.LINKED:
            return Action.BREAK, ruling.reason, twin, None
        return (Action.IN_SYNC if link.state is LinkState.LINKED else Action.SKIP), ruling.reason, twin, None
    first = ruling.commands[0]
    if first.operation is Operation.CREATE:
        matches = next((m for k in keys if (m := other_index.get((event.entity_type, k)))), set())
        if len(matches) == 1:
            reason = "not linked, and the other side has a record with the same number: the writer links them"
            return Action.LINK, reason, next(iter(matches)), None
        if matches:
            return Action.CREATE, f"more than one candidate: {', '.join(sorted(matches))}", None, None
        return Action.CREATE, ruling.reason, None, None
    fields = first.changed_fields
    reason = f"{ruling.reason} (differs: {', '.join(fields)})" if fields else ruling.reason
    return _BY_OPERATION.get(first.operation, Action.UPDATE), reason, twin, fields


def twin_deletions(
    tenant_id: str, listing: Listing, link_rows: Iterable[LinkRow]
) -> list[tuple[LinkRow, ChangeEvent | None]]:
    """Linked records whose twin is gone from its side (the deletion was missed), each with the
    deletion event ingest would have published for the twin (None: its side does not say)."""
    live = {SVENN: listing.svenn, TRIPLETEX: listing.tripletex}
    ids = {side: {(e.entity_type, e.entity_id) for e in events} for side, events in live.items()}
    deleted_in_svenn = {(e.entity_type, e.entity_id): e for e in listing.svenn_deleted}
    found: list[tuple[LinkRow, ChangeEvent | None]] = []
    seen: set[tuple[SourceSystem, EntityType, str]] = set()
    for row in link_rows:
        entity_type, side, entity_id, other, other_id = row
        if (entity_type, entity_id) not in ids[side] or (entity_type, other_id) in ids[other]:
            continue
        if (other, entity_type, other_id) in seen:
            continue
        seen.add((other, entity_type, other_id))
        if other is TRIPLETEX:
            found.append((row, tripletex_delete_event(tenant_id, entity_type, other_id)))
        else:
            found.append((row, deleted_in_svenn.get((entity_type, other_id))))
    return found


def _missing_twins(
    tenant_id: str,
    listing: Listing,
    links: Links,
    link_rows: Sequence[LinkRow],
    open_errors: set[tuple[str, str, str, str]],
) -> list[Item]:
    completed = {
        (e.entity_type, e.entity_id)
        for e in [*listing.svenn, *listing.tripletex]
        if isinstance(e.snapshot, ProjectSnapshot) and e.snapshot.status is ProjectStatus.COMPLETED
    }
    items = []
    for (entity_type, _, entity_id, other, other_id), gone in twin_deletions(tenant_id, listing, link_rows):
        if gone is None:
            reason = (
                f"its twin {other.value} {other_id} is gone and {other.value} does not say it was deleted"
            )
            items.append(Item(entity_type, Action.SKIP, "-", reason, other, other_id, other_id=entity_id))
            continue
        if links.deleted_record(tenant_id, entity_type, other, [other_id]) is not None:
            reason = "deleted; the engine knows it already (S-P7): its twin is no longer synced"
            items.append(
                Item(entity_type, Action.IN_SYNC, "S-P7", reason, other, other_id, other_id=entity_id)
            )
            continue
        item = _classify(gone, decide(gone, links), links, {}, open_errors)
        if item.action is Action.COMPLETE and (entity_type, entity_id) in completed:
            # S-P7 has nothing left to do: the twin was completed already (by an earlier re-sync).
            item = replace(item, action=Action.IN_SYNC, reason="deleted; its twin is completed", event=None)
        items.append(item)
    return items


def correction_event(event: ChangeEvent, link: Link) -> ChangeEvent:
    """The change event to publish: same record and version, an id of its own (module docstring)."""
    synced = link.synced.model_dump_json() if link.synced is not None else ""
    basis = f"{link.state.value}|{link.target_entity_id}|{link.synced_version}|{synced}"
    event_id = uuid5(NAMESPACE, f"resync|{event.event_id}|{basis}")
    return event.model_copy(update={"event_id": event_id, "correlation_id": event_id, "causation_id": None})


# --------------------------------------------------------------------------- the run (I/O)
async def list_both_sides(
    tenant: TenantConfig, since: datetime | None, transports: Transports, progress: Report
) -> Listing:
    svenn_client, tripletex_client = _clients(tenant, transports)
    counted: Counter[str] = Counter()

    def counter(phase: str) -> Callable[[], None]:
        def tick() -> None:
            counted[phase] += 1
            progress(phase, counted[phase], None)

        return tick

    async with svenn_client, tripletex_client:
        svenn_all = await svenn_events(
            svenn_client, tenant.tenant_id, include_deleted=True, on_record=counter("listing Svenn")
        )
        tripletex = await tripletex_events(
            tripletex_client, tenant.tenant_id, on_record=counter("listing Tripletex")
        )
        changed = None
        if since is not None:
            customers = {
                (entity_type, record_id(record))
                async for entity_type, record in list_tripletex_records(
                    tripletex_client, customers_changed_since=since
                )
                if entity_type is EntityType.CUSTOMER
            }
            changed = frozenset(customers)
    return Listing(
        svenn=[e for e in svenn_all if e.change_kind is not ChangeKind.DELETED],
        tripletex=tripletex,
        svenn_deleted=[e for e in svenn_all if e.change_kind is ChangeKind.DELETED],
        tripletex_changed=changed,
    )


async def what_the_engine_believes(
    connection: asyncpg.Connection, tenant_id: str, listing: Listing
) -> tuple[Links, list[LinkRow], set[tuple[str, str, str, str]]]:
    """The link table, creates in flight, deletions, versions seen (loaded as the decision loads
    them, so a dry run decides exactly what the decision will) and the open error log."""
    rows = await connection.fetch(
        "SELECT entity_type, system, entity_id, other_system, other_id FROM link"
        " WHERE tenant_id = $1 AND state = 'linked'",
        tenant_id,
    )
    link_rows: list[LinkRow] = [
        (
            EntityType(r["entity_type"]),
            SourceSystem(r["system"]),
            r["entity_id"],
            SourceSystem(r["other_system"]),
            r["other_id"],
        )
        for r in rows
    ]
    twins = [e for _, e in twin_deletions(tenant_id, listing, link_rows) if e is not None]
    events = [*listing.svenn, *listing.tripletex, *twins]
    # As the decision does: a record whose text cannot be stored is rejected by S-X2 without its
    # natural keys ever reaching a query (a NUL in a number would make the load itself fail).
    events = [e for e in events if text_problem(e.snapshot) is None]
    keys: list[LinkKey] = [k for e in events for k in link_keys(e)]
    links = await decision_state.load(connection, events, list(dict.fromkeys(keys)))
    errors = await connection.fetch(
        "SELECT system, entity_type, entity_id, error_code FROM error_log"
        " WHERE tenant_id = $1 AND resolved_at IS NULL",
        tenant_id,
    )
    open_errors = {(r["system"], r["entity_type"], r["entity_id"], r["error_code"]) for r in errors}
    return links, link_rows, open_errors


async def resync(
    settings: Settings,
    tenant: TenantConfig,
    *,
    since: datetime | None = None,
    dry_run: bool = False,
    transports: Transports | None = None,
    progress: Report = _quiet,
) -> Resync:
    """Compare the tenant's two sides with the engine's view and publish the corrections (unless dry)."""
    report = Resync(tenant.tenant_id, since, dry_run)
    listing = await list_both_sides(tenant, since, transports or Transports(), progress)
    report.listed.update({SVENN: len(listing.svenn), TRIPLETEX: len(listing.tripletex)})
    connection: asyncpg.Connection = await asyncpg.connect(settings.database_url)
    try:
        links, link_rows, open_errors = await what_the_engine_believes(connection, tenant.tenant_id, listing)
    finally:
        await connection.close()
    progress("comparing", 0, 1)
    report.items = compare(tenant.tenant_id, listing, links, link_rows, open_errors, since)
    progress("comparing", 1, 1)
    if dry_run:
        return report
    corrections = [i.event for i in report.corrections if i.event is not None]
    async with Publisher(settings) as publisher:
        pending = []
        for n, event in enumerate(corrections, 1):
            key = record_key(event.tenant_id, event.entity_type, event.entity_id)
            pending.append(await publisher.send(CHANGE_TOPICS[event.source], key, event))
            progress("publishing", n, len(corrections))
        await asyncio.gather(*pending)
    report.published = len(corrections)
    return report
