"""Optimistic locking: read, apply the intended change, PUT with ``version``; on 409/8000 repeat.

The caller does not hand us a finished object but a *change* (a function that edits a fresh
copy), so after someone else's update we re-apply the same intent to their newer version
instead of overwriting it with our stale one. Only the fields the change touched are sent:
Tripletex PUT is partial, and a smaller body overwrites less.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

from .errors import TripletexConflictError
from .models import Entity, changed_fields, write_body

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Entity)

Mutate = Callable[[E], object]  # edits the record in place; any return value is ignored


async def update_with_retry(
    read: Callable[[], Awaitable[E]],
    write: Callable[[dict[str, Any]], Awaitable[E]],
    mutate: Mutate[E],
    *,
    max_attempts: int,
    always_send: Collection[str] = (),
) -> E:
    """Apply ``mutate`` to the current record and PUT the difference, retrying on 409/8000.

    ``write`` receives ``{"id", "version", **changed}``. If the change is already in place
    nothing is sent, which is what makes a replayed command harmless. ``always_send`` names
    wire fields sent whenever something changed (a timesheet PUT may null what is missing).
    """
    attempt = 0
    while True:
        attempt += 1
        fresh = await read()
        intended = fresh.model_copy(deep=True)
        mutate(intended)
        diff = changed_fields(fresh, intended)
        if not diff:
            return fresh
        full = write_body(intended)
        kept = {key: full[key] for key in always_send if key in full}
        body = {"id": fresh.id, "version": fresh.version, **kept, **diff}
        try:
            return await write(body)
        except TripletexConflictError as exc:
            if not exc.is_revision or attempt >= max_attempts:
                raise
            log.info(
                "tripletex revision conflict, re-reading",
                extra={"attempt": attempt, "request_id": exc.request_id, "path": exc.path},
            )
