"""What the decision remembers between batches besides the link table, and loading it all at once.

Per batch, before deciding: the links of its records (and of project members, S-P8), creates
in flight (by natural key and by the record they copy), records deleted on their side (S-P7)
and the newest version decided about per record. After deciding, before anything is published:
the write intents, deletions and versions it learnt, in one transaction (all or nothing, so a
batch that fails here can be decided again in parts without a trace of the failed attempt).
Like ``write_intent``, these are the decision's working tables; the change topics rebuild them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeAlias

import asyncpg

from contracts.entities import ProjectSnapshot
from contracts.envelope import ChangeEvent, Command, EntityType, LinkState, SourceSystem
from projections import links
from services.decision.links import Deleted, LinkKey, Links, source_version_number
from services.decision.natural_keys import natural_keys
from services.decision.ruling import Ruling

Pool: TypeAlias = asyncpg.Connection | asyncpg.Pool
# How long a deletion is found by its natural key alone: long enough for the twin's link to be
# projected (seconds), short enough that a new project may soon reuse the number.
DELETED_BY_KEY_S = 600.0


async def load(pool: Pool, events: Sequence[ChangeEvent], keys: Sequence[LinkKey]) -> Links:
    known = await links.load(pool, keys)
    # S-P8: the employees a linked Svenn project had at the last sync, so removed members'
    # participants can be named (the members it has now are among ``keys`` already).
    former = [
        (e.tenant_id, EntityType.EMPLOYEE, e.source, m)
        for e in events
        if e.entity_type is EntityType.PROJECT and e.source is SourceSystem.SVENN
        for synced in [known.of(e.tenant_id, e.entity_type, e.source, e.entity_id).synced]
        if isinstance(synced, ProjectSnapshot)
        for m in synced.member_ids
    ]
    if former:
        known = Links({**known.known, **(await links.load(pool, former)).known})
    # Creates pending on either side: this side's (an echo) and the other's (still in flight).
    probes = [
        (e.tenant_id, e.entity_type, side, key)
        for e in events
        for key in natural_keys(e.snapshot)
        for side in (SourceSystem.SVENN, SourceSystem.TRIPLETEX)
    ]
    own = [(e.tenant_id, e.entity_type, e.source, e.entity_id) for e in events]
    pending = await links.load_pending_creates(pool, probes)
    creates_from = await links.load_creates_from(pool, own)
    deleted = await load_deleted(pool, _deletion_probes(events, Links(known.known)))
    return Links(
        known.known,
        pending,
        creates_from=creates_from,
        deleted=deleted,
        seen_versions=await load_seen_versions(pool, own + _linked_records(events, known)),
    )


def _linked_records(events: Iterable[ChangeEvent], known: Links) -> list[LinkKey]:
    """The records on the other side that the batch's records are linked to (``Command.base_version``)."""
    found: list[LinkKey] = []
    for e in events:
        target = known.of(e.tenant_id, e.entity_type, e.source, e.entity_id).target_entity_id
        if target is not None:
            other = SourceSystem.TRIPLETEX if e.source is SourceSystem.SVENN else SourceSystem.SVENN
            found.append((e.tenant_id, e.entity_type, other, target))
    return found


def _deletion_probes(events: Iterable[ChangeEvent], known: Links) -> list[LinkKey]:
    """For each Svenn project: its id, its linked Tripletex project, its number (S-P7); for each
    Tripletex project: its id and its linked Svenn project (S-P7a, a Svenn twin deleted)."""
    probes: list[LinkKey] = []
    for e in events:
        if e.entity_type is not EntityType.PROJECT:
            continue
        link = known.of(e.tenant_id, e.entity_type, e.source, e.entity_id)
        if e.source is SourceSystem.TRIPLETEX:
            twins = [e.entity_id, link.target_entity_id]
            probes += [(e.tenant_id, e.entity_type, SourceSystem.SVENN, i) for i in twins if i is not None]
            continue
        if e.source is not SourceSystem.SVENN:
            continue
        ids = [e.entity_id, link.target_entity_id]
        if link.state is not LinkState.LINKED and isinstance(e.snapshot, ProjectSnapshot):
            ids += natural_keys(e.snapshot)
        probes += [(e.tenant_id, e.entity_type, SourceSystem.TRIPLETEX, i) for i in ids if i is not None]
    return probes


async def load_deleted(pool: Pool, probes: Sequence[LinkKey]) -> dict[LinkKey, str]:
    if not probes:
        return {}
    rows = await pool.fetch(
        """SELECT k.t, k.e, k.s, k.i, d.entity_id
           FROM deleted_record d JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(t, e, s, i)
             ON d.tenant_id = k.t AND d.entity_type = k.e AND d.system = k.s
            AND (d.entity_id = k.i OR d.other_id = k.i
                 OR (d.natural_key = k.i AND d.deleted_at > now() - make_interval(secs => $5)))""",
        [p[0] for p in probes],
        [p[1].value for p in probes],
        [p[2].value for p in probes],
        [p[3] for p in probes],
        DELETED_BY_KEY_S,
    )
    return {(r["t"], EntityType(r["e"]), SourceSystem(r["s"]), r["i"]): r["entity_id"] for r in rows}


async def load_seen_versions(pool: Pool, keys: Sequence[LinkKey]) -> dict[LinkKey, int]:
    if not keys:
        return {}
    rows = await pool.fetch(
        """SELECT v.tenant_id, v.entity_type, v.system, v.entity_id, v.version
           FROM seen_version v JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(t, e, s, i)
             ON v.tenant_id = k.t AND v.entity_type = k.e AND v.system = k.s AND v.entity_id = k.i""",
        [k[0] for k in keys],
        [k[1].value for k in keys],
        [k[2].value for k in keys],
        [k[3] for k in keys],
    )
    return {
        (r["tenant_id"], EntityType(r["entity_type"]), SourceSystem(r["system"]), r["entity_id"]): r[
            "version"
        ]
        for r in rows
    }


def seen_key(event: ChangeEvent) -> tuple[LinkKey, int] | None:
    """The record and the ordering part of its version, when the side gives one (S-X ordering)."""
    version = source_version_number(event.source_version)
    if version is None:
        return None
    return (event.tenant_id, event.entity_type, event.source, event.entity_id), version


_DELETED = """
INSERT INTO deleted_record (tenant_id, entity_type, system, entity_id, natural_key, other_id, deleted_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (tenant_id, entity_type, system, entity_id) DO UPDATE
SET natural_key = coalesce(EXCLUDED.natural_key, deleted_record.natural_key),
    other_id = coalesce(EXCLUDED.other_id, deleted_record.other_id)
"""

_SEEN = """
INSERT INTO seen_version (tenant_id, entity_type, system, entity_id, version, seen_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (tenant_id, entity_type, system, entity_id) DO UPDATE
SET version = EXCLUDED.version, seen_at = EXCLUDED.seen_at
WHERE seen_version.version < EXCLUDED.version
"""


async def save(
    pool: asyncpg.Pool, decided: Iterable[tuple[ChangeEvent, Ruling]], issued: Iterable[Command] = ()
) -> None:
    """Remember a batch's write intents (``links.record_intents``), deletions and newest versions."""
    async with pool.acquire() as connection, connection.transaction():
        await links.record_intents(connection, issued)
        await _save_learnt(connection, decided)


async def _save_learnt(connection: asyncpg.Connection, decided: Iterable[tuple[ChangeEvent, Ruling]]) -> None:
    gone: list[Deleted] = []
    newest: dict[LinkKey, int] = {}
    for event, ruling in decided:
        if ruling.deleted is not None:
            gone.append(ruling.deleted)
        seen = seen_key(event)
        if seen is not None and seen[1] > newest.get(seen[0], -1):
            newest[seen[0]] = seen[1]
    if gone:
        await connection.executemany(
            _DELETED,
            [
                (d.tenant_id, d.entity_type.value, d.side.value, d.entity_id, d.natural_key, d.other_id)
                for d in gone
            ],
        )
    if newest:
        await connection.executemany(
            _SEEN, [(k[0], k[1].value, k[2].value, k[3], version) for k, version in sorted(newest.items())]
        )


__all__ = ["load", "save", "seen_key"]
