"""The walking skeleton's stand-in rule: pure, deterministic, one command to the other side."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from contracts.entities import ProjectSnapshot
from contracts.envelope import ChangeEvent, ChangeKind, EntityType, LinkState, Operation, SourceSystem
from services.decision.decide import decide
from services.decision.links import NO_LINKS, Link, Links


def change(source: SourceSystem, kind: ChangeKind) -> ChangeEvent:
    return ChangeEvent(
        tenant_id="acme",
        correlation_id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        source=source,
        entity_type=EntityType.PROJECT,
        entity_id="p-1",
        change_kind=kind,
        occurred_at=datetime.now(UTC),
        snapshot=None if kind is ChangeKind.DELETED else ProjectSnapshot(name="Roof"),
    )


@pytest.mark.parametrize(
    ("source", "kind", "target", "operation"),
    [
        (SourceSystem.SVENN, ChangeKind.CREATED, SourceSystem.TRIPLETEX, Operation.CREATE),
        (SourceSystem.SVENN, ChangeKind.STATUS_CHANGED, SourceSystem.TRIPLETEX, Operation.UPDATE),
        (SourceSystem.TRIPLETEX, ChangeKind.UPDATED, SourceSystem.SVENN, Operation.UPDATE),
        (SourceSystem.TRIPLETEX, ChangeKind.DELETED, SourceSystem.SVENN, Operation.DELETE),
        (SourceSystem.DRIFTI, ChangeKind.CREATED, SourceSystem.TRIPLETEX, Operation.CREATE),
    ],
)
def test_mirror_targets_the_other_side(
    source: SourceSystem, kind: ChangeKind, target: SourceSystem, operation: Operation
) -> None:
    event = change(source, kind)
    (command,) = decide(event, NO_LINKS)
    assert (command.target, command.operation) == (target, operation)
    assert command.causation_id == event.event_id
    assert command.correlation_id == event.correlation_id
    assert command.payload == event.snapshot
    assert command.rule_id == "SKELETON-MIRROR"


def test_decision_is_deterministic_so_a_redelivered_event_gives_the_same_command_id() -> None:
    event = change(SourceSystem.SVENN, ChangeKind.CREATED)
    assert decide(event, NO_LINKS)[0].command_id == decide(event, NO_LINKS)[0].command_id


def test_command_carries_the_link_the_decision_saw() -> None:
    event = change(SourceSystem.SVENN, ChangeKind.UPDATED)
    links = Links({("acme", EntityType.PROJECT, SourceSystem.SVENN, "p-1"): Link(LinkState.LINKED, "9001")})
    (command,) = decide(event, links)
    assert command.expected_link.state is LinkState.LINKED
    assert command.expected_link.target_entity_id == "9001"
    assert decide(event, NO_LINKS)[0].expected_link.state is LinkState.ABSENT
