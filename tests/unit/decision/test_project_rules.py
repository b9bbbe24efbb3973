"""S-P1 … S-P8: project rules, one case per rule, and the S-P7 status matrix as a literal table."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.entities import ProjectSnapshot, ProjectStatus
from contracts.envelope import ChangeKind, EntityType, LinkState, Operation, SourceSystem, Verdict
from services.decision.decide import decide
from services.decision.links import NO_LINKS, Link, Links
from tests.unit.decision.rule_cases import TENANT, change, linked

SVENN, TRIPLETEX = SourceSystem.SVENN, SourceSystem.TRIPLETEX
PROJECT = EntityType.PROJECT
START = date(2026, 1, 5)


def project(**fields: object) -> ProjectSnapshot:
    base: dict[str, object] = {"number": "2024.17", "name": "Roof", "start_date": START}
    return ProjectSnapshot.model_validate({**base, **fields})


def test_S_P1_svenn_project_without_start_date_is_rejected_with_an_error_code() -> None:
    ruling = decide(change(SVENN, PROJECT, ChangeKind.CREATED, project(start_date=None)), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict, ruling.error_code) == (
        "S-P1",
        Verdict.REJECT,
        "PROJECT_MISSING_START_DATE",
    )
    assert ruling.commands == ()


def test_S_P1_once_a_start_date_is_set_the_next_change_syncs() -> None:
    ruling = decide(change(SVENN, PROJECT, ChangeKind.UPDATED, project()), NO_LINKS)
    assert ruling.verdict is Verdict.COMMAND
    assert ruling.commands[0].operation is Operation.CREATE


def test_S_P2_sub_projects_are_skipped() -> None:
    ruling = decide(change(SVENN, PROJECT, ChangeKind.CREATED, project(parent_id="sv-parent")), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("S-P2", Verdict.SKIP, ())


def test_S_P2_sub_project_without_start_date_is_skipped_not_rejected() -> None:
    # Sub-projects are never synced, so a missing start date on one is no error for the user.
    ruling = decide(
        change(SVENN, PROJECT, ChangeKind.CREATED, project(parent_id="sv-parent", start_date=None)), NO_LINKS
    )
    assert (ruling.rule_id, ruling.verdict) == ("S-P2", Verdict.SKIP)


def test_S_P3_internal_tripletex_projects_are_not_created_in_svenn() -> None:
    ruling = decide(change(TRIPLETEX, PROJECT, ChangeKind.CREATED, project(is_internal=True)), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("S-P3", Verdict.SKIP, ())


def test_S_P4_internal_project_linked_by_number_keeps_syncing() -> None:
    links = linked(PROJECT, TRIPLETEX)
    ruling = decide(change(TRIPLETEX, PROJECT, ChangeKind.UPDATED, project(is_internal=True)), links)
    assert (ruling.rule_id, ruling.verdict) == ("S-P4", Verdict.COMMAND)
    assert ruling.commands[0].target is SVENN


def test_S_P4_new_svenn_project_is_matched_on_number_before_anything_is_created() -> None:
    ruling = decide(change(SVENN, PROJECT, ChangeKind.CREATED, project(number="A12.3")), NO_LINKS)
    (command,) = ruling.commands
    assert (ruling.rule_id, command.target, command.operation) == ("S-P4", TRIPLETEX, Operation.CREATE)
    assert command.expected_link.state is LinkState.ABSENT
    assert isinstance(command.payload, ProjectSnapshot)
    assert command.payload.number == "A12.3"  # S-P6: the number travels as written


def test_S_P4_linked_project_syncs_name_dates_and_status() -> None:
    ruling = decide(
        change(SVENN, PROJECT, ChangeKind.UPDATED, project(name="New roof")), linked(PROJECT, SVENN)
    )
    (command,) = ruling.commands
    assert (command.operation, command.expected_link.target_entity_id) == (Operation.UPDATE, "other-1")


def test_S_P5_tripletex_project_without_number_gets_one_written_back() -> None:
    ruling = decide(change(TRIPLETEX, PROJECT, ChangeKind.CREATED, project(number=None)), NO_LINKS)
    (command,) = ruling.commands
    assert (ruling.rule_id, command.target, command.operation) == ("S-P5", TRIPLETEX, Operation.ASSIGN_NUMBER)


@pytest.mark.parametrize("number", ["2024.17", "A12.3", "007", "12"])
def test_S_P6_numbers_with_letters_dots_and_leading_zeros_pass_unchanged(number: str) -> None:
    ruling = decide(change(TRIPLETEX, PROJECT, ChangeKind.CREATED, project(number=number)), NO_LINKS)
    payload = ruling.commands[0].payload
    assert isinstance(payload, ProjectSnapshot) and payload.number == number


# S-P7, as the spec's matrix: (side changed, change) -> (effect on the other side)
S_P7_MATRIX = [
    # change in Svenn          -> effect in Tripletex
    (SVENN, "completed", (TRIPLETEX, Operation.UPDATE, ProjectStatus.COMPLETED)),  # project closed
    (SVENN, "deleted", None),  # nothing happens
    # change in Tripletex      -> effect in Svenn
    (TRIPLETEX, "closed", (SVENN, Operation.UPDATE, ProjectStatus.COMPLETED)),  # project completed
    (TRIPLETEX, "deleted", (SVENN, Operation.COMPLETE, None)),  # project completed
]


@pytest.mark.parametrize(("side", "what", "effect"), S_P7_MATRIX)
def test_S_P7_status_matrix(
    side: SourceSystem, what: str, effect: tuple[SourceSystem, Operation, ProjectStatus | None] | None
) -> None:
    if what == "deleted":
        event = change(side, PROJECT, ChangeKind.DELETED, None)
    else:
        event = change(side, PROJECT, ChangeKind.STATUS_CHANGED, project(status=ProjectStatus.COMPLETED))
    ruling = decide(event, linked(PROJECT, side))
    assert ruling.rule_id == "S-P7"
    if effect is None:
        assert (ruling.verdict, ruling.commands) == (Verdict.SKIP, ())
        return
    target, operation, status = effect
    (command,) = ruling.commands
    assert (command.target, command.operation) == (target, operation)
    assert command.expected_link.target_entity_id == "other-1"
    if status is not None:
        assert isinstance(command.payload, ProjectSnapshot) and command.payload.status is status


def test_S_P7_deleted_in_tripletex_but_never_synced_does_nothing() -> None:
    ruling = decide(change(TRIPLETEX, PROJECT, ChangeKind.DELETED, None), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("S-P7", Verdict.SKIP, ())


def test_S_P8_tripletex_participants_become_svenn_members_through_employee_links() -> None:
    links = Links(
        {
            (TENANT, EntityType.EMPLOYEE, TRIPLETEX, "tx-emp-1"): Link(LinkState.LINKED, "sv-emp-1"),
            (TENANT, EntityType.EMPLOYEE, TRIPLETEX, "tx-emp-2"): Link(LinkState.LINKED, "sv-emp-2"),
        }
    )
    snapshot = project(member_ids=("tx-emp-1", "tx-emp-2", "tx-emp-unlinked"))
    ruling = decide(change(TRIPLETEX, PROJECT, ChangeKind.CREATED, snapshot), links)
    (command,) = ruling.commands
    assert (ruling.rule_id, command.target, command.operation) == ("S-P8", SVENN, Operation.CREATE)
    assert isinstance(command.payload, ProjectSnapshot)
    assert command.payload.member_ids == ("sv-emp-1", "sv-emp-2")
