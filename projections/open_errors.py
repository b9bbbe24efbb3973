"""Open error-log entries per error code, for the ``tsync_error_log_open_entries`` gauge.

Counted when ``/metrics`` is scraped (an indexed count over the open entries, ``error_log_open``),
so the figure is the table's truth, also after a replay or a manual fix, and no consumer has to
keep a running total. Codes without open entries report 0, so a panel or alert sees a series
for every code rather than a gap.
"""

from __future__ import annotations

import logging

import asyncpg

from contracts.error_codes import CATALOG
from projections.database import UNAVAILABLE_ERRORS
from services.core import metrics

log = logging.getLogger(__name__)

_OPEN_BY_CODE = (
    "SELECT error_code, count(*) AS open FROM error_log WHERE resolved_at IS NULL GROUP BY error_code"
)


async def count_open(pool: asyncpg.Pool) -> dict[str, int]:
    """``{error code: open entries}`` over all tenants, every catalogued code included."""
    counts = dict.fromkeys(CATALOG, 0)
    for row in await pool.fetch(_OPEN_BY_CODE):
        counts[row["error_code"]] = int(row["open"])
    return counts


async def refresh_gauge(pool: asyncpg.Pool) -> None:
    """Set the gauge from the table; while the database is away the last figures stay (and it is logged)."""
    try:
        counts = await count_open(pool)
    except UNAVAILABLE_ERRORS as exc:
        log.warning("open error-log entries not counted: database unavailable", extra={"error": repr(exc)})
        return
    for code, open_entries in counts.items():
        metrics.OPEN_ERRORS.labels(code).set(open_entries)
