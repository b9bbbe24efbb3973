"""What the decision knows about links between records on the two sides.

The rules read links through this small interface so they stay pure: the consumer loads the
links a batch needs before deciding, and tests pass a plain dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from contracts.entities import EntitySnapshot
from contracts.envelope import EntityType, LinkState, SourceSystem


@dataclass(frozen=True)
class Link:
    state: LinkState
    target_entity_id: str | None
    # What both sides held after the last applied write (None: not known yet).
    synced: EntitySnapshot | None = None
    # This record's own version after the engine's last write to it (None: not known).
    synced_version: int | None = None


def source_version_number(version: str | None) -> int | None:
    """The ordering part of a side's record version ("7", or "7+p…" for a project's participants)."""
    head = (version or "").split("+", 1)[0]
    return int(head) if head.isdigit() else None


LinkKey = tuple[str, EntityType, SourceSystem, str]
"""(tenant, entity type, side of the known record, its id on that side)."""


@dataclass(frozen=True)
class Links:
    known: Mapping[LinkKey, Link]
    # Creates the engine has just asked for, by (tenant, type, target side, natural key): their
    # echo can arrive before the link of the create is projected.
    pending_creates: Mapping[LinkKey, EntitySnapshot] = field(default_factory=dict)

    def of(self, tenant_id: str, entity_type: EntityType, side: SourceSystem, entity_id: str) -> Link:
        return self.known.get((tenant_id, entity_type, side, entity_id), Link(LinkState.ABSENT, None))

    def pending_create(
        self, tenant_id: str, entity_type: EntityType, side: SourceSystem, keys: list[str]
    ) -> EntitySnapshot | None:
        for key in keys:
            found = self.pending_creates.get((tenant_id, entity_type, side, key))
            if found is not None:
                return found
        return None


NO_LINKS = Links({})
