"""Optimistic locking: read, apply the intended change, PUT with ``version``; on 409/8000 repeat.

The caller does not hand us a finished object but a *change* (a function that edits a fresh
copy), so after someone else's update we re-apply the same intent to their newer version
instead of overwriting it with our stale one. Only the fields the change touched are sent:
Tripletex PUT is partial, and a smaller body overwrites less.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import TripletexConflictError
from .models import Entity, changed_fields, write_body

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Entity)

Mutate = Callable[[E], object]  # edits the record in place; any return value is ignored


@dataclass(frozen=True)
class Updated(Generic[E]):
    """The record after an update, and what was sent to get there.

    ``changed`` is empty when the record already matched the intent and nothing was PUT:
    a sync engine reports that as "already up to date", which is what stops an update from
    echoing back and forth between two systems.
    """

    record: E
    changed: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1

    @property
    def written(self) -> bool:
        return bool(self.changed)


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
    updated = await update_reporting(read, write, mutate, max_attempts=max_attempts, always_send=always_send)
    return updated.record


async def update_reporting(
    read: Callable[[], Awaitable[E]],
    write: Callable[[dict[str, Any]], Awaitable[E]],
    mutate: Mutate[E],
    *,
    max_attempts: int,
    always_send: Collection[str] = (),
) -> Updated[E]:
    """:func:`update_with_retry`, also saying what (if anything) was written."""
    attempt = 0
    while True:
        attempt += 1
        fresh = await read()
        intended = fresh.model_copy(deep=True)
        mutate(intended)
        diff = changed_fields(fresh, intended)
        if not diff:
            return Updated(fresh, {}, attempt)
        full = write_body(intended)
        kept = {key: full[key] for key in always_send if key in full}
        body = {"id": fresh.id, "version": fresh.version, **kept, **diff}
        try:
            return Updated(await write(body), diff, attempt)
        except TripletexConflictError as exc:
            if not exc.is_revision or attempt >= max_attempts:
                raise
            log.info(
                "tripletex revision conflict, re-reading",
                extra={"attempt": attempt, "request_id": exc.request_id, "path": exc.path},
            )
