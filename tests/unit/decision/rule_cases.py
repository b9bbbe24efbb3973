"""Builders for rule tests: a change on one side, and the links the decision knows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from contracts.entities import EntitySnapshot
from contracts.envelope import ChangeEvent, ChangeKind, EntityType, LinkState, SourceSystem
from services.decision.links import Link, Links

TENANT = "acme"


def change(
    source: SourceSystem,
    entity_type: EntityType,
    kind: ChangeKind,
    snapshot: EntitySnapshot | None,
    entity_id: str = "rec-1",
) -> ChangeEvent:
    return ChangeEvent(
        tenant_id=TENANT,
        correlation_id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        source=source,
        entity_type=entity_type,
        entity_id=entity_id,
        change_kind=kind,
        occurred_at=datetime.now(UTC),
        snapshot=snapshot,
    )


def linked(
    entity_type: EntityType, side: SourceSystem, entity_id: str = "rec-1", other: str = "other-1"
) -> Links:
    return Links({(TENANT, entity_type, side, entity_id): Link(LinkState.LINKED, other)})


def broken(entity_type: EntityType, side: SourceSystem, entity_id: str = "rec-1") -> Links:
    return Links({(TENANT, entity_type, side, entity_id): Link(LinkState.BROKEN, "other-1")})
