"""Walking-skeleton rule: mirror each change to the other side as one command.

Rule id ``SKELETON-MIRROR``. It stands in for the real rule families (S-P*, S-C*, S-E*, D-*)
so the whole path — change topic, decision, command topic, writer, outcome, projection —
runs on real infrastructure before the rules exist. It decides nothing the spec forbids:
the writers only record commands for now.
"""

from __future__ import annotations

from contracts.envelope import ChangeEvent, ChangeKind, Command, ExpectedLink, Operation, SourceSystem
from contracts.ids import command_id
from services.decision.links import Links

RULE_ID = "SKELETON-MIRROR"

_TARGET = {
    SourceSystem.SVENN: SourceSystem.TRIPLETEX,
    SourceSystem.TRIPLETEX: SourceSystem.SVENN,
    SourceSystem.DRIFTI: SourceSystem.TRIPLETEX,
}

_OPERATION = {
    ChangeKind.CREATED: Operation.CREATE,
    ChangeKind.UPDATED: Operation.UPDATE,
    ChangeKind.STATUS_CHANGED: Operation.UPDATE,
    ChangeKind.DELETED: Operation.DELETE,
}


def mirror(event: ChangeEvent, links: Links) -> list[Command]:
    target = _TARGET[event.source]
    operation = _OPERATION[event.change_kind]
    link = links.of(event.tenant_id, event.entity_type, event.source, event.entity_id)
    return [
        Command(
            tenant_id=event.tenant_id,
            correlation_id=event.correlation_id,
            causation_id=event.event_id,
            command_id=command_id(
                event.event_id, target.value, operation.value, event.entity_type.value, event.entity_id
            ),
            target=target,
            operation=operation,
            entity_type=event.entity_type,
            source_entity_id=event.entity_id,
            payload=event.snapshot,
            expected_link=ExpectedLink(state=link.state, target_entity_id=link.target_entity_id),
            rule_id=RULE_ID,
        )
    ]
