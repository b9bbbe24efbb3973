"""The decision entry point: which rule family answers which change."""

from __future__ import annotations

from dataclasses import replace

from contracts.entities import EntitySnapshot
from contracts.envelope import ChangeEvent, EntityType, Operation, SourceSystem
from contracts.ids import command_id
from services.decision.echo import changed_fields
from services.decision.links import Links
from services.decision.natural_keys import natural_keys
from services.decision.rules.customers import customer_rules
from services.decision.rules.drifti_invoices import (
    NO_ACCOUNTS,
    AccountMap,
    drifti_invoice_rules,
    drifti_payment_rules,
)
from services.decision.rules.drifti_masters import drifti_customer_rules, drifti_job_rules
from services.decision.rules.employees import employee_rules
from services.decision.rules.projects import project_rules
from services.decision.rules.text import text_rules
from services.decision.ruling import Ruling, skip

_FAMILIES = {
    EntityType.PROJECT: project_rules,
    EntityType.CUSTOMER: customer_rules,
    EntityType.EMPLOYEE: employee_rules,
}


def decide(event: ChangeEvent, links: Links, accounts: AccountMap = NO_ACCOUNTS) -> Ruling:
    """Pure: the same change, links and account mapping always give the same ruling (and ids)."""
    # S-X2 first: no other rule may read, keep or send text that cannot be stored.
    unsyncable = text_rules(event)
    if unsyncable is not None:
        return unsyncable
    if event.source is SourceSystem.DRIFTI:
        return _decide_drifti(event, links, accounts)
    ruling = _FAMILIES[event.entity_type](event, links)
    if any(c.operation is Operation.CREATE for c in ruling.commands) and _echo_of_own_create(event, links):
        return skip(
            ruling.rule_id, "the engine created this record a moment ago (an echo; its link is on its way)"
        )
    return _update_what_is_being_created(event, ruling, links)


def _decide_drifti(event: ChangeEvent, links: Links, accounts: AccountMap) -> Ruling:
    """Drifti → Tripletex, one way (Part 2): no echoes to recognise, nothing flows back."""
    if event.entity_type is EntityType.INVOICE:
        return drifti_invoice_rules(event, links, accounts)
    if event.entity_type is EntityType.PAYMENT:
        return drifti_payment_rules(event, links)
    if event.entity_type is EntityType.PROJECT:
        return drifti_job_rules(event, links)
    if event.entity_type is EntityType.CUSTOMER:
        return drifti_customer_rules(event, links)
    return skip("D-STREAM", f"Drifti {event.entity_type.value} changes are not streamed (D-H1, D-E1, D-A1)")


def _update_what_is_being_created(event: ChangeEvent, ruling: Ruling, links: Links) -> Ruling:
    """A second change to a record whose create on the other side is still in flight is an update.

    As a create it would be matched there and linked without writing (Tripletex keeps its values
    at link time), and the change would be lost; as an update by natural key it is written.
    """
    commands = tuple(
        c.model_copy(
            update={
                "operation": Operation.UPDATE,
                "command_id": command_id(
                    event.event_id, c.target, Operation.UPDATE, c.entity_type, c.source_entity_id
                ),
            }
        )
        if c.operation is Operation.CREATE
        # This record's own create: another record with the same number is no update of it.
        and _differs(
            event, links.create_in_flight_from(c.tenant_id, c.entity_type, c.source, c.source_entity_id)
        )
        else c
        for c in ruling.commands
    )
    return replace(ruling, commands=commands) if commands != ruling.commands else ruling


def _differs(event: ChangeEvent, pending: EntitySnapshot | None) -> bool:
    """A later change, not the same one again (a redelivery must give the same command)."""
    if pending is None or event.snapshot is None:
        return False
    return bool(changed_fields(event.snapshot, pending))


def _echo_of_own_create(event: ChangeEvent, links: Links) -> bool:
    """A record the engine just created on this side, reported back before its link is projected."""
    pending = links.pending_create(
        event.tenant_id, event.entity_type, event.source, natural_keys(event.snapshot)
    )
    if pending is None or event.snapshot is None:
        return False
    changed = changed_fields(event.snapshot, pending)
    # Members are ids of the side that wrote them; a create's echo is recognised by its values.
    return changed is not None and not set(changed) - {"member_ids"}
