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
from services.decision.echo import changed_fields, field_differs
from services.decision.links import Deleted, Link, source_version_number


@dataclass(frozen=True)
class Ruling:
    rule_id: str
    verdict: Verdict
    reason: str
    commands: tuple[Command, ...] = ()
    error_code: str | None = None
    link_effect: LinkEffect = LinkEffect.NONE
    # A record deleted on its side whose twin stops syncing (S-P7); the decision remembers it.
    deleted: Deleted | None = None


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
    overtaken = _overtaken(event, operation, link)
    if overtaken is not None:
        return skip(rule_id, overtaken)
    if operation is Operation.UPDATE and payload is not None:
        changed = changed_fields(payload, link.synced, link.projected)
        if changed == ():
            return skip(
                rule_id, "nothing changed since the last sync: the engine's own write came back (echo)"
            )
        changed = _tripletex_wins(event, link, changed)
        if changed == ():
            return skip(
                rule_id,
                "the same fields were changed in Tripletex at the same time and are being written "
                "here: Tripletex wins (README, conflict policy)",
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
        base=link.other_synced if operation is Operation.UPDATE else None,
        base_version=link.other_seen_version if operation is Operation.UPDATE else None,
        expected_link=ExpectedLink(state=link.state, target_entity_id=link.target_entity_id),
        rule_id=rule_id,
    )
    return Ruling(rule_id, Verdict.COMMAND, reason, commands=(issued,))


def _overtaken(event: ChangeEvent, operation: Operation, link: Link) -> str | None:
    """Why this change is older than what the record already holds, or None when it is not.

    Webhooks arrive out of order (a retried delivery, a full pass racing a webhook), so a
    version lower than one the engine wrote, or than one already decided about, must not
    write its older values over newer ones. An *equal* version is not news either way: it is
    the engine's own write coming back or a redelivery (the echo check and idempotent writers
    handle those), or a Tripletex project whose participants changed, which does not move the
    project's version (S-P8, the ``+p…`` part): so equal versions go on to the content check.
    """
    if operation not in (Operation.UPDATE, Operation.CREATE):
        return None
    seen = source_version_number(event.source_version)
    if seen is None:
        return None
    if operation is Operation.UPDATE and link.synced_version is not None and seen < link.synced_version:
        return (
            f"version {seen} is older than version {link.synced_version} the engine wrote: "
            "an overtaken delivery"
        )
    if link.seen_version is not None and seen < link.seen_version:
        return (
            f"version {seen} is older than version {link.seen_version} already synced: an overtaken delivery"
        )
    return None


def _tripletex_wins(
    event: ChangeEvent, link: Link, changed: tuple[str, ...] | None
) -> tuple[str, ...] | None:
    """A Svenn change minus the fields a Tripletex change is being written into right now.

    ``link.synced`` is then the engine's write in flight to this Svenn record and
    ``link.projected`` what it held before: a field that write changes, which the user changed
    too (to yet another value), is a concurrent edit of the same field, and Tripletex wins.
    """
    if changed is None or event.source is not SourceSystem.SVENN:
        return changed
    if link.synced is None or link.projected is None:
        return changed
    return tuple(f for f in changed if not field_differs(link.synced, link.projected, f))
