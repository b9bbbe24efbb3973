"""S-E1 … S-E3: employee rules, one case per rule."""

from __future__ import annotations

import pytest

from contracts.entities import EmployeeSnapshot
from contracts.envelope import ChangeKind, EntityType, Operation, SourceSystem, Verdict
from services.decision.decide import decide
from services.decision.links import NO_LINKS
from tests.unit.decision.rule_cases import change, linked

SVENN, TRIPLETEX = SourceSystem.SVENN, SourceSystem.TRIPLETEX
EMPLOYEE = EntityType.EMPLOYEE


def employee(**fields: object) -> EmployeeSnapshot:
    return EmployeeSnapshot.model_validate(
        {"employee_number": "17", "first_name": "Kari", "last_name": "Nordmann", **fields}
    )


@pytest.mark.parametrize("last_name", [None, "", "   "])
def test_S_E1_svenn_employee_without_last_name_is_rejected(last_name: str | None) -> None:
    ruling = decide(change(SVENN, EMPLOYEE, ChangeKind.CREATED, employee(last_name=last_name)), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict, ruling.error_code) == (
        "S-E1",
        Verdict.REJECT,
        "EMPLOYEE_MISSING_LAST_NAME",
    )


def test_S_E1_employee_with_last_name_is_created_or_linked_in_tripletex() -> None:
    ruling = decide(change(SVENN, EMPLOYEE, ChangeKind.CREATED, employee()), NO_LINKS)
    (command,) = ruling.commands
    assert (command.target, command.operation) == (TRIPLETEX, Operation.CREATE)
    linked_ruling = decide(change(SVENN, EMPLOYEE, ChangeKind.UPDATED, employee()), linked(EMPLOYEE, SVENN))
    assert linked_ruling.commands[0].operation is Operation.UPDATE


def test_S_E2_tripletex_employee_without_number_gets_one_written_back() -> None:
    ruling = decide(change(TRIPLETEX, EMPLOYEE, ChangeKind.CREATED, employee(employee_number=None)), NO_LINKS)
    (command,) = ruling.commands
    assert (ruling.rule_id, command.target, command.operation) == ("S-E2", TRIPLETEX, Operation.ASSIGN_NUMBER)


def test_S_E2_tripletex_employee_with_number_syncs_to_svenn() -> None:
    ruling = decide(change(TRIPLETEX, EMPLOYEE, ChangeKind.CREATED, employee()), NO_LINKS)
    assert (ruling.commands[0].target, ruling.commands[0].operation) == (SVENN, Operation.CREATE)


def test_S_E3_inactive_svenn_employees_are_not_synced() -> None:
    ruling = decide(change(SVENN, EMPLOYEE, ChangeKind.STATUS_CHANGED, employee(active=False)), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("S-E3", Verdict.SKIP, ())


def test_S_E3_inactive_employee_without_last_name_is_skipped_not_rejected() -> None:
    # It would not be synced anyway, so the missing last name is no error for the user.
    event = change(SVENN, EMPLOYEE, ChangeKind.CREATED, employee(active=False, last_name=None))
    assert decide(event, NO_LINKS).rule_id == "S-E3"
