"""The link table: which record on one side is which on the other, and whether it is still synced.

Built from the topics only: an applied create/update outcome links the two records (S-P4 match
or a create), a decision with ``link_effect=break`` breaks the link (S-C5), ``restore`` (an
operator's decision) mends it. Each link is two directed rows (see migration 0002).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg
from pydantic import TypeAdapter

from contracts.entities import EntitySnapshot
from contracts.envelope import (
    Command,
    DecisionRecord,
    EntityType,
    LinkEffect,
    LinkState,
    Operation,
    Outcome,
    OutcomeStatus,
    SourceSystem,
)
from services.decision.links import Link, LinkKey, Links, source_version_number
from services.decision.natural_keys import natural_keys

_LINKING = (Operation.CREATE, Operation.UPDATE, Operation.ASSIGN_NUMBER)
_SNAPSHOT: TypeAdapter[EntitySnapshot] = TypeAdapter(EntitySnapshot)

_UPSERT = """
INSERT INTO link (tenant_id, entity_type, system, entity_id, other_system, other_id, state,
    linked_at, updated_at, synced_snapshot, synced_at, synced_version)
VALUES ($1, $2, $3, $4, $5, $6, 'linked', $7, $7, $8::jsonb, $7, $9)
ON CONFLICT (tenant_id, entity_type, system, entity_id) DO UPDATE
SET other_system = EXCLUDED.other_system, other_id = EXCLUDED.other_id, updated_at = EXCLUDED.updated_at,
    synced_snapshot = coalesce(EXCLUDED.synced_snapshot, link.synced_snapshot),
    synced_at = CASE WHEN EXCLUDED.synced_snapshot IS NULL THEN link.synced_at ELSE EXCLUDED.synced_at END,
    synced_version = greatest(EXCLUDED.synced_version, link.synced_version)
WHERE link.state = 'linked' AND (link.synced_at IS NULL OR link.synced_at <= EXCLUDED.synced_at)
"""

_SET_STATE = """
UPDATE link SET state = $5, updated_at = $6
WHERE tenant_id = $1 AND entity_type = $2
  AND ((system = $3 AND entity_id = $4) OR (other_system = $3 AND other_id = $4))
"""


async def apply_outcomes(connection: asyncpg.Connection, outcomes: Iterable[Outcome]) -> None:
    rows = []
    for o in outcomes:
        if o.status is not OutcomeStatus.APPLIED or o.operation not in _LINKING or not o.target_entity_id:
            continue
        if o.source is o.target:  # a write-back to the record's own side (S-P5 number) links nothing
            continue
        written = o.written.model_dump_json() if o.written is not None else None
        source = (o.source.value, o.source_entity_id)
        target = (o.target.value, o.target_entity_id)
        version = source_version_number(o.target_version)
        for (system, entity_id), (other_system, other_id), side_version in (
            (source, target, None),
            (target, source, version),
        ):
            row = (o.tenant_id, o.entity_type.value, system, entity_id, other_system, other_id, o.occurred_at)
            rows.append((*row, written, side_version))
    if rows:
        await connection.executemany(_UPSERT, rows)


async def apply_decisions(connection: asyncpg.Connection, decisions: Iterable[DecisionRecord]) -> None:
    for d in decisions:
        if d.link_effect is LinkEffect.NONE:
            continue
        state = LinkState.BROKEN if d.link_effect is LinkEffect.BREAK else LinkState.LINKED
        await connection.execute(
            _SET_STATE,
            d.tenant_id,
            d.entity_type.value,
            d.source.value,
            d.entity_id,
            state.value,
            d.decided_at,
        )


async def load(connection: asyncpg.Connection | asyncpg.Pool, keys: Sequence[LinkKey]) -> Links:
    """The links the decision needs for a batch, in one query."""
    if not keys:
        return Links({})
    rows = await connection.fetch(
        # A write intent newer than the last projected write is what the record will hold next.
        """SELECT l.tenant_id, l.entity_type, l.system, l.entity_id, l.state, l.other_id, l.synced_version,
                  CASE WHEN w.issued_at > coalesce(l.synced_at, '-infinity') THEN w.snapshot
                       ELSE l.synced_snapshot END AS synced_snapshot,
                  CASE WHEN w.issued_at > coalesce(l.synced_at, '-infinity') THEN l.synced_snapshot
                       END AS projected_snapshot,
                  CASE WHEN o.issued_at > coalesce(l.synced_at, '-infinity') THEN o.snapshot
                       ELSE l.synced_snapshot END AS other_snapshot
           FROM link l JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(t, e, s, i)
             ON l.tenant_id = k.t AND l.entity_type = k.e AND l.system = k.s AND l.entity_id = k.i
           LEFT JOIN write_intent w
             ON w.tenant_id = l.tenant_id AND w.entity_type = l.entity_type
            AND w.system = l.system AND w.entity_id = l.entity_id
           LEFT JOIN write_intent o
             ON o.tenant_id = l.tenant_id AND o.entity_type = l.entity_type
            AND o.system = l.other_system AND o.entity_id = l.other_id""",
        [k[0] for k in keys],
        [k[1].value for k in keys],
        [k[2].value for k in keys],
        [k[3] for k in keys],
    )
    return Links(
        {
            (r["tenant_id"], EntityType(r["entity_type"]), SourceSystem(r["system"]), r["entity_id"]): Link(
                LinkState(r["state"]),
                r["other_id"],
                _SNAPSHOT.validate_json(r["synced_snapshot"]) if r["synced_snapshot"] else None,
                r["synced_version"],
                projected=_SNAPSHOT.validate_json(r["projected_snapshot"])
                if r["projected_snapshot"]
                else None,
                other_synced=_SNAPSHOT.validate_json(r["other_snapshot"]) if r["other_snapshot"] else None,
            )
            for r in rows
        }
    )


CREATED_FROM = "from:"
_INTENT = """
INSERT INTO write_intent (tenant_id, entity_type, system, entity_id, snapshot, issued_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6)
ON CONFLICT (tenant_id, entity_type, system, entity_id) DO UPDATE
SET snapshot = EXCLUDED.snapshot, issued_at = EXCLUDED.issued_at
WHERE write_intent.issued_at <= EXCLUDED.issued_at
"""


async def record_intents(connection: asyncpg.Connection | asyncpg.Pool, commands: Iterable[Command]) -> None:
    """Remember what updates of linked records and creates are about to write (migration 0004).

    An update's intent is kept under the target record's id; a create's, whose id is not known
    yet, under its natural keys (``key:number:2024.17``), which is how its echo is recognised.
    """
    rows = []
    for c in commands:
        if c.payload is None:
            continue
        payload = c.payload.model_dump_json()
        if c.operation is Operation.UPDATE and c.expected_link.target_entity_id:
            rows.append(
                (
                    c.tenant_id,
                    c.entity_type.value,
                    c.target.value,
                    c.expected_link.target_entity_id,
                    payload,
                    c.issued_at,
                )
            )
        elif c.operation is Operation.CREATE:
            rows += [
                (c.tenant_id, c.entity_type.value, c.target.value, f"key:{key}", payload, c.issued_at)
                for key in natural_keys(c.payload)
            ]
            # And under the record it copies, on its own side: a delete that overtakes the create's
            # link finds what is being created from it (S-P7).
            source_id = f"{CREATED_FROM}{c.source_entity_id}"
            rows.append((c.tenant_id, c.entity_type.value, c.source.value, source_id, payload, c.issued_at))
    if rows:
        await connection.executemany(_INTENT, rows)


async def load_creates_from(
    connection: asyncpg.Connection | asyncpg.Pool, keys: Sequence[LinkKey], max_age_s: float = 600
) -> dict[LinkKey, EntitySnapshot]:
    """Creates asked for in the last ``max_age_s`` from these records (their own side and id)."""
    if not keys:
        return {}
    rows = await connection.fetch(
        """SELECT k.t, k.e, k.s, k.i, w.snapshot
           FROM write_intent w JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(t, e, s, i)
             ON w.tenant_id = k.t AND w.entity_type = k.e AND w.system = k.s AND w.entity_id = $5 || k.i
           WHERE w.issued_at > now() - make_interval(secs => $6)""",
        [k[0] for k in keys],
        [k[1].value for k in keys],
        [k[2].value for k in keys],
        [k[3] for k in keys],
        CREATED_FROM,
        max_age_s,
    )
    return {
        (r["t"], EntityType(r["e"]), SourceSystem(r["s"]), r["i"]): _SNAPSHOT.validate_json(r["snapshot"])
        for r in rows
    }


async def load_pending_creates(
    connection: asyncpg.Connection | asyncpg.Pool, probes: Sequence[LinkKey], max_age_s: float = 600
) -> dict[LinkKey, EntitySnapshot]:
    """Creates asked for in the last ``max_age_s`` under these natural keys (probe ids are keys)."""
    if not probes:
        return {}
    rows = await connection.fetch(
        """SELECT w.tenant_id, w.entity_type, w.system, w.entity_id, w.snapshot
           FROM write_intent w JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(t, e, s, i)
             ON w.tenant_id = k.t AND w.entity_type = k.e AND w.system = k.s AND w.entity_id = 'key:' || k.i
           WHERE w.issued_at > now() - make_interval(secs => $5)""",
        [p[0] for p in probes],
        [p[1].value for p in probes],
        [p[2].value for p in probes],
        [p[3] for p in probes],
        max_age_s,
    )
    return {
        (
            r["tenant_id"],
            EntityType(r["entity_type"]),
            SourceSystem(r["system"]),
            r["entity_id"].removeprefix("key:"),
        ): _SNAPSHOT.validate_json(r["snapshot"])
        for r in rows
    }
