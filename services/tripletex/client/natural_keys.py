"""Find-before-create: Tripletex has no idempotency key, so natural keys stand in for one.

Every create goes through :func:`find_or_create`: look the object up by the key our side owns
(project number, customer number, ...); create only when nothing is there. When a create's
outcome is unknown (timeout, 5xx) or Tripletex says the object exists (409/7000, 409/14000),
we *look again* rather than send again, so a retry can never produce a duplicate. A 422
after a create is also followed by one look, because Tripletex reports many duplicates
("number in use") as validation errors.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import TripletexConflictError, TripletexOutcomeUnknown, TripletexValidationError

log = logging.getLogger(__name__)

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Ensured(Generic[T]):
    """The record, and how we got it.

    ``created``: this call's create was answered. ``recovered``: found on a later look after
    our own create had an unknown outcome or was reported as existing (it is probably ours,
    but it may be someone else's, so treat it like a found record and link it).
    """

    record: T
    created: bool
    recovered: bool = False


async def find_or_create(
    find: Callable[[], Awaitable[T | None]],
    create: Callable[[], Awaitable[T]],
    *,
    key: str,
    max_attempts: int,
    sleep: Sleep,
    settle_seconds: float,
) -> Ensured[T]:
    """Return the existing record for ``key`` or create it, never creating twice.

    ``settle_seconds`` is how long to wait before looking again after an unknown outcome, so
    a write still being processed has a chance to become visible.
    """
    last_error: Exception | None = None
    for attempt in range(1, max_attempts + 1):
        existing = await find()
        if existing is not None:
            return Ensured(existing, created=False, recovered=last_error is not None)
        try:
            return Ensured(await create(), created=True)
        except TripletexOutcomeUnknown as exc:
            last_error = exc
            log.warning("tripletex create outcome unknown; looking it up", extra={"key": key})
        except TripletexConflictError as exc:
            if not exc.means_exists:
                raise
            last_error = exc
            log.info("tripletex says it exists; looking it up", extra={"key": key, "code": exc.code})
        except TripletexValidationError:
            # A duplicate often comes back as 422 ("Nummeret er i bruk", "Det finnes allerede
            # ..."), in Norwegian and without a dedicated code. Whatever the wording: if the
            # object exists now, someone created it since we looked; link it. Else it is a
            # real validation error.
            existing = await find()
            if existing is not None:
                return Ensured(existing, created=False, recovered=True)
            raise
        await sleep(settle_seconds * attempt)
    existing = await find()
    if existing is not None:
        return Ensured(existing, created=False, recovered=True)
    raise TripletexOutcomeUnknown(
        f"could not create or find {key} after {max_attempts} attempts: {last_error}"
    ) from None
