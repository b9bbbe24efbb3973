"""Generating project and employee numbers for records Tripletex holds without one (S-P5, S-E2).

The scheme, chosen so a generated number can never collide and never surprises a user:

1. Take every number in use in Tripletex (projects: open *and* closed; employees: all).
2. Of those, only the *purely numeric* ones count (ASCII digits, nothing else). Numbers with
   letters or dots (``2024.17``, ``A12.3``: S-P6) are never parsed as integers; they cannot
   collide with a digits-only candidate anyway.
3. The candidate is the next integer after the highest of them (``1`` when there is none),
   written as plain digits without leading zeros: a *string*, like every number in the engine.
4. The candidate is skipped while it is taken: in Tripletex (string equality, so ``"007"``
   does not hide ``"7"``) and, when the tenant also has Svenn, in Svenn (a project's
   ``display_id`` or an employee's number, asked one by one, read-only). Svenn is asked
   because the number is about to be synced there, where it must be unique too.

Probing is bounded: a tenant whose Svenn holds a long run of numbers above Tripletex's highest
gets a clear failure rather than an endless loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

MAX_PROBES = 200


class NoFreeNumber(Exception):
    """Every candidate within :data:`MAX_PROBES` was taken."""


def is_plain_number(number: str) -> bool:
    """Digits only (ASCII): the only numbers the generator may read as integers (S-P6)."""
    return bool(number) and number.isascii() and number.isdigit()


def first_candidate(in_use: Iterable[str]) -> int:
    """The next integer after the highest purely numeric number in use (1 when there is none)."""
    return max((int(n) for n in in_use if is_plain_number(n)), default=0) + 1


async def free_number(
    in_use: Iterable[str],
    taken_elsewhere: Callable[[str], Awaitable[bool]] | None = None,
    *,
    max_probes: int = MAX_PROBES,
) -> str:
    """The first candidate (see the module docstring) that no side uses.

    ``taken_elsewhere`` answers whether the other side (Svenn) already has the number.
    """
    used = set(in_use)
    candidate = first_candidate(used)
    for _ in range(max_probes):
        text = str(candidate)
        if text not in used and (taken_elsewhere is None or not await taken_elsewhere(text)):
            return text
        candidate += 1
    raise NoFreeNumber(
        f"no free number among {max_probes} candidates from {first_candidate(used)} "
        "(all taken in Tripletex or Svenn)"
    )
