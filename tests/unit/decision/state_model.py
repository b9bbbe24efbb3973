"""An in-memory model of what the decision keeps in PostgreSQL between batches, for property tests.

``Store`` holds the rows of ``link``, ``write_intent``, ``deleted_record`` and ``seen_version``;
``save`` and ``load`` do what ``projections.decision_state.save`` / ``load`` (and
``projections.links.record_intents`` / ``load`` / ``apply_outcomes``) do with them, read from
their SQL: an intent newer than the link's last projected write is what the record holds next
(``synced``; ``projected`` is the link's own content then), the other side's newer intent is
``other_synced``, upserts keep the newest intent, the greatest version, and a deletion's
natural key and twin by ``coalesce``. Time is a logical clock (one tick per command issued or
outcome projected), so every new intent is newer than every projected write before it.

Left out: the 600 s windows (pending creates, deletions found by natural key) never expire here;
``load`` returns every row, not only those the batch's probes name (the rules read only rows
the probes name, so the rulings are the same).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from contracts.entities import EntitySnapshot, ProjectSnapshot, ProjectStatus
from contracts.envelope import (
    ChangeEvent,
    ChangeKind,
    Command,
    EntityType,
    LinkState,
    Operation,
    Outcome,
    OutcomeStatus,
    SourceSystem,
)
from contracts.ids import change_event_id
from projections.decision_state import seen_key
from projections.links import CREATED_FROM
from services.decision.decide import decide
from services.decision.links import Link, LinkKey, Links, source_version_number
from services.decision.natural_keys import natural_keys
from services.decision.ruling import Ruling

_LINKING = (Operation.CREATE, Operation.UPDATE, Operation.ASSIGN_NUMBER)
TENANT = "acme"
START = date(2026, 1, 5)


def project(number: str, name: str = "Roof", end: date | None = None, done: bool = False) -> ProjectSnapshot:
    status = ProjectStatus.COMPLETED if done else ProjectStatus.ACTIVE
    return ProjectSnapshot(number=number, name=name, start_date=START, end_date=end, status=status)


def change(side: SourceSystem, entity_id: str, version: int, snapshot: ProjectSnapshot | None) -> ChangeEvent:
    """A project's change as the ingest publishes it (event id from the record's version)."""
    event_id = change_event_id(TENANT, side.value, EntityType.PROJECT.value, entity_id, str(version))
    return ChangeEvent(
        tenant_id=TENANT,
        correlation_id=uuid.uuid5(event_id, "correlation"),
        event_id=event_id,
        source=side,
        entity_type=EntityType.PROJECT,
        entity_id=entity_id,
        change_kind=ChangeKind.UPDATED if snapshot is not None else ChangeKind.DELETED,
        occurred_at=datetime(2026, 12, 1, tzinfo=UTC),
        source_version=str(version),
        snapshot=snapshot,
    )


@dataclass
class LinkRow:
    state: LinkState
    other_system: SourceSystem
    other_id: str
    synced: EntitySnapshot | None
    synced_at: int
    synced_version: int | None = None


@dataclass
class Store:
    links: dict[LinkKey, LinkRow] = field(default_factory=dict)
    # (tenant, type, system, entity id or ``key:…`` or ``from:…``) -> (snapshot, issued at)
    intents: dict[LinkKey, tuple[EntitySnapshot, int]] = field(default_factory=dict)
    # (tenant, type, system, entity id) -> (natural key, other id)
    deleted: dict[LinkKey, tuple[str | None, str | None]] = field(default_factory=dict)
    seen: dict[LinkKey, int] = field(default_factory=dict)
    clock: int = 0

    def tick(self) -> int:
        self.clock += 1
        return self.clock


def link_pair(store: Store, key: LinkKey, other: LinkKey, synced: EntitySnapshot, version: int) -> None:
    """Two directed rows of a link projected at time 0 (``version``: each record's own version)."""
    for mine, theirs in ((key, other), (other, key)):
        store.links[mine] = LinkRow(LinkState.LINKED, theirs[2], theirs[3], synced, 0, version)


def load(store: Store) -> Links:
    """``decision_state.load``: links (with intents), creates in flight, deletions, versions seen."""
    known: dict[LinkKey, Link] = {}
    for key, row in store.links.items():
        own = store.intents.get(key)
        theirs = store.intents.get((key[0], key[1], row.other_system, row.other_id))
        newer = own is not None and own[1] > row.synced_at
        known[key] = Link(
            row.state,
            row.other_id,
            own[0] if own is not None and newer else row.synced,
            row.synced_version,
            projected=row.synced if newer else None,
            other_synced=theirs[0] if theirs is not None and theirs[1] > row.synced_at else row.synced,
        )
    pending: dict[LinkKey, EntitySnapshot] = {}
    creates_from: dict[LinkKey, EntitySnapshot] = {}
    for (tenant, entity_type, system, entity_id), (snapshot, _) in store.intents.items():
        if entity_id.startswith("key:"):
            pending[(tenant, entity_type, system, entity_id.removeprefix("key:"))] = snapshot
        elif entity_id.startswith(CREATED_FROM):
            creates_from[(tenant, entity_type, system, entity_id.removeprefix(CREATED_FROM))] = snapshot
    deleted: dict[LinkKey, str] = {}
    for (tenant, entity_type, system, entity_id), (natural_key, other_id) in store.deleted.items():
        for probe in (entity_id, other_id, natural_key):
            if probe is not None:
                deleted[(tenant, entity_type, system, probe)] = entity_id
    return Links(known, pending, creates_from=creates_from, deleted=deleted, seen_versions=dict(store.seen))


def save(store: Store, decided: Sequence[tuple[ChangeEvent, Ruling]]) -> None:
    """``decision_state.save``: the batch's write intents, deletions and newest versions."""
    issued = [c for _, ruling in decided for c in ruling.commands if c.source is not SourceSystem.DRIFTI]
    for c in issued:  # links.record_intents; ``issued_at`` is the command's creation time
        at = store.tick()
        if c.payload is None:
            continue
        rows: list[LinkKey] = []
        if c.operation is Operation.UPDATE and c.expected_link.target_entity_id:
            rows.append((c.tenant_id, c.entity_type, c.target, c.expected_link.target_entity_id))
        elif c.operation is Operation.CREATE:
            rows += [(c.tenant_id, c.entity_type, c.target, f"key:{k}") for k in natural_keys(c.payload)]
            rows.append((c.tenant_id, c.entity_type, c.source, f"{CREATED_FROM}{c.source_entity_id}"))
        for row in rows:
            old = store.intents.get(row)
            if old is None or old[1] <= at:
                store.intents[row] = (c.payload, at)
    for event, ruling in decided:
        d = ruling.deleted
        if d is not None:
            key = (d.tenant_id, d.entity_type, d.side, d.entity_id)
            old_key, old_other = store.deleted.get(key, (None, None))
            store.deleted[key] = (d.natural_key or old_key, d.other_id or old_other)
        seen = seen_key(event)
        if seen is not None and seen[1] > store.seen.get(seen[0], -1):
            store.seen[seen[0]] = seen[1]


def decide_batch(store: Store, events: Iterable[ChangeEvent]) -> list[Ruling]:
    """What ``DecisionConsumer.handle_batch`` does: load, decide each (``remember`` between), save."""
    links = load(store)
    decided: list[tuple[ChangeEvent, Ruling]] = []
    for event in events:
        ruling = decide(event, links)
        links = links.remember(ruling.commands, ruling.deleted, seen_key(event))
        decided.append((event, ruling))
    save(store, decided)
    return [ruling for _, ruling in decided]


def project_outcome(store: Store, outcome: Outcome) -> None:
    """``projections.links.apply_outcomes`` for one applied create/update (both directed rows)."""
    if (
        outcome.status is not OutcomeStatus.APPLIED
        or outcome.operation not in _LINKING
        or not outcome.target_entity_id
        or outcome.source is outcome.target
    ):
        return
    at = store.tick()
    source: LinkKey = (outcome.tenant_id, outcome.entity_type, outcome.source, outcome.source_entity_id)
    target: LinkKey = (outcome.tenant_id, outcome.entity_type, outcome.target, outcome.target_entity_id)
    version = source_version_number(outcome.target_version)
    for mine, theirs, side_version in ((source, target, None), (target, source, version)):
        row = store.links.get(mine)
        if row is None:
            store.links[mine] = LinkRow(
                LinkState.LINKED, theirs[2], theirs[3], outcome.written, at, side_version
            )
        elif row.state is LinkState.LINKED and row.synced_at <= at:
            row.other_system, row.other_id = theirs[2], theirs[3]
            if outcome.written is not None:
                row.synced, row.synced_at = outcome.written, at
            if side_version is not None:
                row.synced_version = max(side_version, row.synced_version or side_version)


def key_of(command: Command) -> LinkKey:
    return (command.tenant_id, command.entity_type, command.source, command.source_entity_id)
