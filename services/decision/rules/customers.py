"""Customers, Svenn ⇄ Tripletex: rules S-C1 … S-C5 (sync-rules.md, Part 1)."""

from __future__ import annotations

from contracts.entities import CustomerSnapshot
from contracts.envelope import (
    ChangeEvent,
    ChangeKind,
    EntityType,
    LinkEffect,
    LinkState,
    Operation,
    SourceSystem,
)
from contracts.error_codes import CUSTOMER_DEACTIVATE_IN_TRIPLETEX, CUSTOMER_NON_NUMERIC_ID
from services.decision.links import Links
from services.decision.ruling import Ruling, command, reject, skip

EMAIL = "EMAIL"


def customer_rules(event: ChangeEvent, links: Links) -> Ruling:
    link = links.of(event.tenant_id, EntityType.CUSTOMER, event.source, event.entity_id)
    if link.state is LinkState.BROKEN:
        return skip("S-C5", "the link was broken when the customer was deleted in Svenn; not synced")
    if event.source is SourceSystem.SVENN:
        return _from_svenn(event, links)
    return _from_tripletex(event, links)


def _from_svenn(event: ChangeEvent, links: Links) -> Ruling:
    link = links.of(event.tenant_id, EntityType.CUSTOMER, SourceSystem.SVENN, event.entity_id)
    if event.change_kind is ChangeKind.DELETED:
        # BREAK even when this decision saw no link: the link may be projected a moment later.
        return skip(
            "S-C5", "deleted in Svenn: not deleted in Tripletex, and the link is broken", LinkEffect.BREAK
        )
    customer = _snapshot(event)
    if not (customer.customer_number or "").isdigit():
        return reject(
            "S-C1",
            CUSTOMER_NON_NUMERIC_ID,
            f"customer id {customer.customer_number!r} is not numeric; only numeric ids are synced",
        )
    if not customer.active:
        if (
            link.state is LinkState.LINKED
            and isinstance(link.synced, CustomerSnapshot)
            and not link.synced.active
        ):
            # Tripletex deactivated it and the engine wrote that to Svenn: this is its echo (S-C5).
            return skip("S-C3", "inactive in Svenn because Tripletex set it inactive (an echo)")
        if link.state is LinkState.LINKED:
            return reject(
                "S-C3",
                CUSTOMER_DEACTIVATE_IN_TRIPLETEX,
                "Svenn may not set a Tripletex customer inactive: deactivate it in Tripletex",
            )
        return skip("S-C2", "inactive customers are not synced")
    to_tripletex = SourceSystem.TRIPLETEX
    if link.state is LinkState.LINKED:
        return command(
            "S-C5", "linked customer: bring Tripletex up to date", event, to_tripletex, Operation.UPDATE, link
        )
    payload = customer.model_copy(update={"invoice_send_method": EMAIL})
    return command(
        "S-C4",
        "link to the Tripletex customer with this number (inactive too), or create it (e-mail invoicing)",
        event,
        to_tripletex,
        Operation.CREATE,
        link,
        payload,
    )


def _from_tripletex(event: ChangeEvent, links: Links) -> Ruling:
    link = links.of(event.tenant_id, EntityType.CUSTOMER, SourceSystem.TRIPLETEX, event.entity_id)
    to_svenn = SourceSystem.SVENN
    if event.change_kind is ChangeKind.DELETED:
        if link.state is not LinkState.LINKED:
            return skip("S-C5", "deleted in Tripletex and never synced to Svenn: nothing to delete")
        return command(
            "S-C5", "deleted in Tripletex: delete it in Svenn", event, to_svenn, Operation.DELETE, link
        )
    customer = _snapshot(event)
    if link.state is LinkState.LINKED:
        return command(
            "S-C5",
            "linked customer: bring Svenn up to date (active or not)",
            event,
            to_svenn,
            Operation.UPDATE,
            link,
        )
    if not customer.active:
        return skip("S-C2", "inactive customers are not synced")
    return command(
        "S-C1",
        "link to the Svenn customer with this number, or create it",
        event,
        to_svenn,
        Operation.CREATE,
        link,
    )


def _snapshot(event: ChangeEvent) -> CustomerSnapshot:
    if not isinstance(event.snapshot, CustomerSnapshot):
        raise ValueError(f"customer change {event.event_id} carries no customer snapshot")
    return event.snapshot
