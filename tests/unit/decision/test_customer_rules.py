"""S-C1 … S-C5: customer rules, one case per rule, and the S-C5 status matrix as a literal table."""

from __future__ import annotations

import pytest

from contracts.entities import CustomerSnapshot
from contracts.envelope import ChangeKind, EntityType, LinkEffect, LinkState, Operation, SourceSystem, Verdict
from services.decision.decide import decide
from services.decision.links import NO_LINKS, Link, Links
from tests.unit.decision.rule_cases import broken, change, linked

SVENN, TRIPLETEX = SourceSystem.SVENN, SourceSystem.TRIPLETEX
CUSTOMER = EntityType.CUSTOMER


def customer(**fields: object) -> CustomerSnapshot:
    return CustomerSnapshot.model_validate({"customer_number": "10042", "name": "Nordmann AS", **fields})


@pytest.mark.parametrize("number", ["K-100", "10a", "", None, " 12"])
def test_S_C1_svenn_customer_with_non_numeric_id_is_rejected(number: str | None) -> None:
    ruling = decide(change(SVENN, CUSTOMER, ChangeKind.CREATED, customer(customer_number=number)), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict, ruling.error_code) == (
        "S-C1",
        Verdict.REJECT,
        "CUSTOMER_NON_NUMERIC_ID",
    )


def test_S_C1_numeric_customer_id_syncs() -> None:
    ruling = decide(change(SVENN, CUSTOMER, ChangeKind.CREATED, customer(customer_number="0042")), NO_LINKS)
    assert ruling.verdict is Verdict.COMMAND


@pytest.mark.parametrize("side", [SVENN, TRIPLETEX])
def test_S_C2_inactive_customers_are_not_created_on_the_other_side(side: SourceSystem) -> None:
    ruling = decide(change(side, CUSTOMER, ChangeKind.CREATED, customer(active=False)), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("S-C2", Verdict.SKIP, ())


def test_S_C3_svenn_may_not_set_a_tripletex_customer_inactive() -> None:
    event = change(SVENN, CUSTOMER, ChangeKind.STATUS_CHANGED, customer(active=False))
    ruling = decide(event, linked(CUSTOMER, SVENN))
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("S-C3", Verdict.REJECT, ())
    assert ruling.error_code == "CUSTOMER_DEACTIVATE_IN_TRIPLETEX"


def test_S_C4_customer_created_from_svenn_gets_email_invoice_delivery() -> None:
    ruling = decide(change(SVENN, CUSTOMER, ChangeKind.CREATED, customer()), NO_LINKS)
    (command,) = ruling.commands
    assert (ruling.rule_id, command.target, command.operation) == ("S-C4", TRIPLETEX, Operation.CREATE)
    assert isinstance(command.payload, CustomerSnapshot)
    assert command.payload.invoice_send_method == "EMAIL"


# S-C5, as the spec's matrix: (side changed, change) -> effect on the other side
S_C5_MATRIX = [
    # change in Svenn          -> effect in Tripletex
    (SVENN, "set active", (TRIPLETEX, Operation.UPDATE, True)),
    (SVENN, "deleted", "not deleted in Tripletex; link broken"),
    # change in Tripletex      -> effect in Svenn
    (TRIPLETEX, "set inactive", (SVENN, Operation.UPDATE, False)),
    (TRIPLETEX, "set active", (SVENN, Operation.UPDATE, True)),
    (TRIPLETEX, "deleted", (SVENN, Operation.DELETE, None)),
]


@pytest.mark.parametrize(("side", "what", "effect"), S_C5_MATRIX)
def test_S_C5_status_matrix(side: SourceSystem, what: str, effect: object) -> None:
    if what == "deleted":
        event = change(side, CUSTOMER, ChangeKind.DELETED, None)
    else:
        event = change(side, CUSTOMER, ChangeKind.STATUS_CHANGED, customer(active=what == "set active"))
    ruling = decide(event, linked(CUSTOMER, side))
    assert ruling.rule_id == "S-C5"
    if isinstance(effect, str):
        assert (ruling.verdict, ruling.commands, ruling.link_effect) == (Verdict.SKIP, (), LinkEffect.BREAK)
        return
    assert isinstance(effect, tuple)
    target, operation, active = effect
    (command,) = ruling.commands
    assert (command.target, command.operation) == (target, operation)
    if active is not None:
        assert isinstance(command.payload, CustomerSnapshot) and command.payload.active is active


@pytest.mark.parametrize("side", [SVENN, TRIPLETEX])
def test_S_C5_broken_link_is_no_longer_synced(side: SourceSystem) -> None:
    ruling = decide(
        change(side, CUSTOMER, ChangeKind.UPDATED, customer(name="Changed")), broken(CUSTOMER, side)
    )
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("S-C5", Verdict.SKIP, ())


def test_S_C5_deleting_a_svenn_customer_breaks_the_link_even_if_not_yet_seen() -> None:
    ruling = decide(change(SVENN, CUSTOMER, ChangeKind.DELETED, None), Links({}))
    assert (ruling.verdict, ruling.link_effect) == (Verdict.SKIP, LinkEffect.BREAK)


def test_S_C3_an_inactivation_that_came_from_tripletex_is_no_error_when_it_echoes_back() -> None:
    synced = customer(active=False)  # the engine wrote Tripletex's inactivation to Svenn
    links = Links({("acme", CUSTOMER, SVENN, "rec-1"): Link(LinkState.LINKED, "other-1", synced)})
    ruling = decide(change(SVENN, CUSTOMER, ChangeKind.STATUS_CHANGED, customer(active=False)), links)
    assert (ruling.rule_id, ruling.verdict, ruling.error_code) == ("S-C3", Verdict.SKIP, None)
