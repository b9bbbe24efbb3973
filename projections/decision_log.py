"""``decision_log``: each tenant's recent decisions (rule id, verdict, reason) for the integration panel.

Written by the projections in the batch's transaction, with one insert per batch. A tenant is
trimmed back to its newest ``KEEP_PER_TENANT`` rows (by decision time) once it has gained a tenth
of that since its last trim, so a tenant holds at most about 10% more than the bound, and a batch
pays for a trim only now and then (finding the cut-off reads the tenant's whole bound of index:
measured ~5 ms per tenant at 2000 rows, too much for every tenant of every batch). The panel shows
what happened lately; the whole history stays on ``sync.decisions.v1``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import asyncpg

from contracts.envelope import DecisionRecord

KEEP_PER_TENANT = 2000

_INSERT = """
INSERT INTO decision_log (decision_id, tenant_id, cause_event_id, source, entity_type, entity_id,
    rule_id, verdict, reason, error_code, link_effect, decided_at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[])
ON CONFLICT (decision_id) DO NOTHING
RETURNING tenant_id
"""

_COUNT = """
INSERT INTO decision_log_tenant (tenant_id, added_since_trim)
SELECT * FROM unnest($1::text[], $2::integer[])
ON CONFLICT (tenant_id) DO UPDATE
SET added_since_trim = decision_log_tenant.added_since_trim + EXCLUDED.added_since_trim
RETURNING tenant_id, added_since_trim
"""

# For each tenant: its (keep+1)-th newest row by decision time, and everything not newer goes.
# By time, not arrival: an old decision projected again (a replay) is trimmed again rather than kept as new.
_TRIM = """
DELETE FROM decision_log d
USING (SELECT cut.tenant_id, cut.decided_at, cut.seq
       FROM unnest($1::text[]) AS t,
            LATERAL (SELECT tenant_id, decided_at, seq FROM decision_log WHERE tenant_id = t
                     ORDER BY decided_at DESC, seq DESC OFFSET $2 LIMIT 1) AS cut) c
WHERE d.tenant_id = c.tenant_id AND (d.decided_at, d.seq) <= (c.decided_at, c.seq)
"""


async def apply(
    connection: asyncpg.Connection, decisions: Sequence[DecisionRecord], keep: int = KEEP_PER_TENANT
) -> None:
    if not decisions:
        return
    rows = [
        (
            d.decision_id,
            d.tenant_id,
            d.cause_event_id,
            d.source.value,
            d.entity_type.value,
            d.entity_id,
            d.rule_id,
            d.verdict.value,
            d.reason,
            d.error_code,
            d.link_effect.value,
            d.decided_at,
        )
        for d in sorted(decisions, key=lambda d: d.decided_at)
    ]
    inserted = await connection.fetch(_INSERT, *(list(column) for column in zip(*rows, strict=True)))
    added = Counter(r["tenant_id"] for r in inserted)
    if not added:
        return
    counted = await connection.fetch(_COUNT, list(added), list(added.values()))
    due = sorted(r["tenant_id"] for r in counted if r["added_since_trim"] >= max(1, keep // 10))
    if due:
        await connection.execute(_TRIM, due, keep)
        await connection.execute(
            "UPDATE decision_log_tenant SET added_since_trim = 0 WHERE tenant_id = ANY($1::text[])", due
        )
