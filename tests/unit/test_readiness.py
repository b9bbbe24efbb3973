"""The readiness report (dry run) of an initial sync: what would be linked, created, skipped, and why."""

from __future__ import annotations

from datetime import date

from contracts.entities import CustomerSnapshot, EmployeeSnapshot, EntitySnapshot, ProjectSnapshot
from contracts.envelope import ChangeKind, EntityType, SourceSystem
from services.onboarding.readiness import Action, plan
from tests.unit.decision.rule_cases import change

SVENN, TRIPLETEX = SourceSystem.SVENN, SourceSystem.TRIPLETEX
START = date(2026, 1, 5)


def on(side: SourceSystem, entity_id: str, snapshot: EntitySnapshot):  # type: ignore[no-untyped-def]
    entity = {ProjectSnapshot: EntityType.PROJECT, CustomerSnapshot: EntityType.CUSTOMER}.get(
        type(snapshot), EntityType.EMPLOYEE
    )
    return change(side, entity, ChangeKind.UPDATED, snapshot, entity_id)


def actions(svenn: list, tripletex: list) -> dict[str, tuple[Action, str]]:  # type: ignore[type-arg]
    readiness = plan("acme", svenn, tripletex)
    return {f"{i.svenn_id}/{i.tripletex_id}": (i.action, i.rule_id) for i in readiness.items}


def test_projects_are_matched_on_number_and_the_rules_decide_the_rest() -> None:
    svenn = [
        on(SVENN, "sv-1", ProjectSnapshot(number="2024.17", name="Roof", start_date=START)),
        on(SVENN, "sv-2", ProjectSnapshot(number="2024.18", name="No start")),
        on(SVENN, "sv-3", ProjectSnapshot(number="2024.17", name="Sub", start_date=START, parent_id="sv-1")),
        on(SVENN, "sv-4", ProjectSnapshot(number="A12.3", name="Only in Svenn", start_date=START)),
    ]
    tripletex = [
        on(
            TRIPLETEX,
            "tx-1",
            ProjectSnapshot(number="2024.17", name="Roof", is_internal=True, start_date=START),
        ),
        on(TRIPLETEX, "tx-2", ProjectSnapshot(number=None, name="No number", start_date=START)),
        on(
            TRIPLETEX,
            "tx-3",
            ProjectSnapshot(number="900", name="Internal", is_internal=True, start_date=START),
        ),
        on(TRIPLETEX, "tx-4", ProjectSnapshot(number="901", name="Only in Tripletex", start_date=START)),
    ]
    assert actions(svenn, tripletex) == {
        "sv-1/tx-1": (Action.LINK, "S-P4"),  # internal ones too, by number
        "sv-2/None": (Action.REJECT, "S-P1"),
        "sv-3/None": (Action.SKIP, "S-P2"),
        "sv-4/None": (Action.CREATE_IN_TRIPLETEX, "S-P4"),
        "None/tx-2": (Action.ASSIGN_NUMBER, "S-P5"),
        "None/tx-3": (Action.SKIP, "S-P3"),
        "None/tx-4": (Action.CREATE_IN_SVENN, "S-P8"),
    }


def test_customers_match_by_number_inactive_included_and_leading_zeros_ignored() -> None:
    svenn = [
        on(SVENN, "sv-c1", CustomerSnapshot(customer_number="007", name="Bond AS")),
        on(SVENN, "sv-c2", CustomerSnapshot(customer_number="K-9", name="Letters AS")),
        on(SVENN, "sv-c3", CustomerSnapshot(customer_number="300", name="Asleep AS", active=False)),
    ]
    tripletex = [
        on(TRIPLETEX, "tx-c1", CustomerSnapshot(customer_number="7", name="Bond AS")),
        on(TRIPLETEX, "tx-c2", CustomerSnapshot(customer_number="400", name="Inactive AS", active=False)),
    ]
    assert actions(svenn, tripletex) == {
        "sv-c1/tx-c1": (Action.LINK, "S-C1"),
        "sv-c2/None": (Action.REJECT, "S-C1"),
        "sv-c3/None": (Action.SKIP, "S-C2"),
        "None/tx-c2": (Action.SKIP, "S-C2"),
    }


def test_employees_match_by_number_then_email_and_ambiguity_is_left_to_a_person() -> None:
    svenn = [
        on(SVENN, "sv-e1", EmployeeSnapshot(employee_number="17", first_name="Kari", last_name="N")),
        on(SVENN, "sv-e2", EmployeeSnapshot(first_name="Ola", last_name="N", email="OLA@firma.no")),
        on(SVENN, "sv-e3", EmployeeSnapshot(first_name="Per", last_name=None)),
        on(SVENN, "sv-e4", EmployeeSnapshot(first_name="Liv", last_name="N", email="liv@firma.no")),
    ]
    tripletex = [
        on(TRIPLETEX, "tx-e1", EmployeeSnapshot(employee_number="17", first_name="Kari", last_name="N")),
        on(
            TRIPLETEX,
            "tx-e2",
            EmployeeSnapshot(employee_number="18", first_name="Ola", last_name="N", email="ola@firma.no"),
        ),
        on(
            TRIPLETEX,
            "tx-e3",
            EmployeeSnapshot(employee_number="19", first_name="L", last_name="N", email="liv@firma.no"),
        ),
        on(
            TRIPLETEX,
            "tx-e4",
            EmployeeSnapshot(employee_number="20", first_name="L2", last_name="N", email="liv@firma.no"),
        ),
    ]
    result = actions(svenn, tripletex)
    assert result["sv-e1/tx-e1"] == (Action.LINK, "S-E1")
    assert result["sv-e2/tx-e2"] == (Action.LINK, "S-E1")
    assert result["sv-e3/None"] == (Action.REJECT, "S-E1")
    assert result["sv-e4/None"][0] is Action.AMBIGUOUS  # two Tripletex employees share the e-mail
    assert not any(key.endswith("tx-e3") or key.endswith("tx-e4") for key in result)  # not created either


def test_duplicate_numbers_on_one_side_are_ambiguous_not_merged() -> None:
    tripletex = [
        on(TRIPLETEX, "tx-1", CustomerSnapshot(customer_number="55", name="One")),
        on(TRIPLETEX, "tx-2", CustomerSnapshot(customer_number="055", name="Two")),
    ]
    result = actions([], tripletex)
    assert {v[0] for v in result.values()} == {Action.AMBIGUOUS}
