"""Per tenant, on a schedule: match the chart of accounts (D-L1), then poll Drifti's changes.

The catch-up net under Drifti's webhooks (``ingest.py``). Each pass first maps, automatically,
every Drifti account whose number has appeared in the tenant's Tripletex chart (an operator's
mapping is never replaced), and when that maps something new, the invoices the error log holds
for an unmapped account are published again, so they transfer without anyone acting. The pass
then publishes every streamed record changed since the watermark.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from services.core import safe_errors
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.drifti.accounts import match_accounts, republish_waiting
from services.drifti.ingest import DriftiReader, poll_drifti_changes
from services.ingest.watermarks import MemoryWatermarks, TenantWatermarks, WatermarkStore
from services.tripletex.client import TripletexClient

log = logging.getLogger(__name__)

WATERMARK = "all"  # one watermark covers every Drifti resource: a pass reads them all from it


async def drifti_catch_up_pass(
    pool: asyncpg.Pool | None,
    reader: DriftiReader,
    tripletex: TripletexClient | None,
    tenant_id: str,
    since: datetime,
    publisher: Publisher,
) -> datetime:
    """One pass. Without a database or Tripletex only the poll runs.

    Returns the newest ``updated_at`` the poll saw, which is no safe next ``since`` (see
    ``drifti_catch_up_loop``): the loop resumes from the pass's start instead.
    """
    if pool is not None and tripletex is not None:
        matched = await match_accounts(pool, tenant_id, reader, tripletex)
        if matched:
            cause = "auto:" + ",".join(matched)
            sent = await republish_waiting(pool, publisher, tenant_id, reader, cause[:120])
            log.info(
                "matched Drifti accounts",
                extra={"tenant_id": tenant_id, "accounts": sorted(matched), "invoices_sent_again": sent},
            )
    return await poll_drifti_changes(reader, tenant_id, since, publisher)


async def drifti_catch_up_loop(
    settings: Settings,
    tenant_id: str,
    readers: Callable[[str], Awaitable[DriftiReader]],
    tripletex: Callable[[str], Awaitable[TripletexClient]] | None,
    publisher: Publisher,
    watermarks: WatermarkStore | None = None,
) -> None:
    """Pass after pass every ``DRIFTI_POLL_INTERVAL_S`` until cancelled; a failed pass is tried again.

    The next pass reads from the start of the last one less ``DRIFTI_POLL_OVERLAP_S``, not from
    the newest ``updated_at`` it saw: Drifti lists in creation order, so a record changed while
    the pass was reading could show its old version while later records show newer times (the
    same reasoning as ``services/svenn/catch_up.py``). Repeats carry the same event ids.
    """
    first = datetime.now(UTC) - timedelta(seconds=settings.drifti_poll_lookback_s)
    marks = TenantWatermarks(watermarks or MemoryWatermarks(), tenant_id, "drifti", first)
    overlap = timedelta(seconds=settings.drifti_poll_overlap_s)
    pool: asyncpg.Pool | None = None
    try:
        while True:
            await asyncio.sleep(settings.drifti_poll_interval_s)
            if pool is None:
                pool = await _pool_or_none(settings.database_url, tenant_id)
            try:
                since = (await marks.current((WATERMARK,)))[WATERMARK]
                started = datetime.now(UTC)
                tx = await tripletex(tenant_id) if tripletex is not None else None
                await drifti_catch_up_pass(pool, await readers(tenant_id), tx, tenant_id, since, publisher)
                await marks.advance(WATERMARK, max(since, started - overlap))
            except Exception as exc:  # the next pass catches up from the same watermark
                log.warning(
                    "Drifti catch-up failed",
                    extra={"tenant_id": tenant_id, "error": safe_errors.describe(exc)},
                )
    finally:
        if pool is not None:
            with contextlib.suppress(Exception):
                await pool.close()


async def _pool_or_none(database_url: str, tenant_id: str) -> asyncpg.Pool | None:
    """The mapping's database; without it the pass still polls (matching waits for the next pass)."""
    try:
        return await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    except Exception as exc:  # unreachable, misconfigured, refused: matching waits, polling goes on
        log.warning(
            "no database for the Drifti account match; polling only",
            extra={"tenant_id": tenant_id, "error": safe_errors.describe(exc)},
        )
        return None
