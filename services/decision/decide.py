"""The decision entry point: which rule family answers which event."""

from __future__ import annotations

from contracts.envelope import ChangeEvent, Command
from services.decision.links import Links
from services.decision.rules.mirror import mirror


def decide(event: ChangeEvent, links: Links) -> list[Command]:
    """Pure: the same event and links always give the same commands (with the same ids)."""
    return mirror(event, links)
