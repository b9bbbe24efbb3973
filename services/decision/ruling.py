"""What a rule returns: its verdict on one change, the commands it issues, and why.

Rules build their answers with the constructors here, so every ruling names its rule id and
every command derives its id from the change that caused it.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.entities import EntitySnapshot
from contracts.envelope import (
    ChangeEvent,
    Command,
    ExpectedLink,
    LinkEffect,
    Operation,
    SourceSystem,
    Verdict,
)
from contracts.ids import command_id
from services.decision.echo import changed_fields
from services.decision.links import Link, source_version_number


@dataclass(frozen=True)
class Ruling:
    rule_id: str
    verdict: Verdict
    reason: str
    commands: tuple[Command, ...] = ()
    error_code: str | None = None
    link_effect: LinkEffect = LinkEffect.NONE


def skip(rule_id: str, reason: str, link_effect: LinkEffect = LinkEffect.NONE) -> Ruling:
    return Ruling(rule_id, Verdict.SKIP, reason, link_effect=link_effect)


def reject(rule_id: str, error_code: str, reason: str) -> Ruling:
    return Ruling(rule_id, Verdict.REJECT, reason, error_code=error_code)


def command(
    rule_id: str,
    reason: str,
    event: ChangeEvent,
    target: SourceSystem,
    operation: Operation,
    link: Link,
    payload: EntitySnapshot | None = None,
) -> Ruling:
    payload = payload if payload is not None else event.snapshot
    changed = None
    seen = source_version_number(event.source_version)
    synced_version = link.synced_version
    if (
        operation is Operation.UPDATE
        and synced_version is not None
        and seen is not None
        and seen <= synced_version
    ):
        return skip(
            rule_id,
            f"version {seen} is not newer than version {synced_version} the engine wrote: "
            "its own write coming back, or an overtaken delivery",
        )
    if operation is Operation.UPDATE and payload is not None:
        changed = changed_fields(payload, link.synced)
        if changed == ():
            return skip(
                rule_id, "nothing changed since the last sync: the engine's own write came back (echo)"
            )
    issued = Command(
        tenant_id=event.tenant_id,
        correlation_id=event.correlation_id,
        causation_id=event.event_id,
        command_id=command_id(
            event.event_id, target.value, operation.value, event.entity_type, event.entity_id
        ),
        source=event.source,
        target=target,
        operation=operation,
        entity_type=event.entity_type,
        source_entity_id=event.entity_id,
        payload=payload,
        changed_fields=changed,
        expected_link=ExpectedLink(state=link.state, target_entity_id=link.target_entity_id),
        rule_id=rule_id,
    )
    return Ruling(rule_id, Verdict.COMMAND, reason, commands=(issued,))
