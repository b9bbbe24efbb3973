"""S-P1 … S-P8, S-P7a: project rules, one case per rule, and the S-P7 status matrix as a literal table."""

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


def test_S_P2_tripletex_sub_projects_are_not_created_in_svenn() -> None:
    sub = project(parent_id="tx-main")
    ruling = decide(change(TRIPLETEX, PROJECT, ChangeKind.CREATED, sub), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("S-P2", Verdict.SKIP, ())
    # Nor later, when it changes again.
    ruling = decide(
        change(TRIPLETEX, PROJECT, ChangeKind.UPDATED, sub.model_copy(update={"name": "Ny"})), NO_LINKS
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


def test_S_P7_deleted_in_tripletex_while_its_create_in_svenn_is_in_flight_completes_it_by_number() -> None:
    created = decide(change(TRIPLETEX, PROJECT, ChangeKind.CREATED, project(), "tx-9"), NO_LINKS)
    links = NO_LINKS.remember(created.commands)  # the create and its delete in one batch
    ruling = decide(change(TRIPLETEX, PROJECT, ChangeKind.DELETED, None, "tx-9"), links)
    (command,) = ruling.commands
    assert (ruling.rule_id, command.target, command.operation) == ("S-P7", SVENN, Operation.COMPLETE)
    assert command.expected_link.state is LinkState.ABSENT
    assert isinstance(command.payload, ProjectSnapshot) and command.payload.number == "2024.17"
    assert ruling.deleted is not None
    assert (ruling.deleted.entity_id, ruling.deleted.natural_key) == ("tx-9", "number:2024.17")


def test_S_P7_deleted_in_tripletex_remembers_the_linked_svenn_project() -> None:
    ruling = decide(change(TRIPLETEX, PROJECT, ChangeKind.DELETED, None), linked(PROJECT, TRIPLETEX))
    assert ruling.deleted is not None and ruling.deleted.other_id == "other-1"


@pytest.mark.parametrize("linked_to_it", [True, False])
def test_S_P7_svenn_project_of_a_deleted_tripletex_project_is_neither_recreated_nor_written(
    linked_to_it: bool,
) -> None:
    # Linked: found through its link. Not linked yet (the delete overtook the link): by number.
    deleted = decide(
        change(TRIPLETEX, PROJECT, ChangeKind.DELETED, None, "tx-9"),
        NO_LINKS.remember(
            decide(change(TRIPLETEX, PROJECT, ChangeKind.CREATED, project(), "tx-9"), NO_LINKS).commands
        ),
    ).deleted
    assert deleted is not None
    links = linked(PROJECT, SVENN, "sv-9", "tx-9") if linked_to_it else NO_LINKS
    links = links.remember(deleted=deleted)
    completed = project(status=ProjectStatus.COMPLETED)
    ruling = decide(change(SVENN, PROJECT, ChangeKind.STATUS_CHANGED, completed, "sv-9"), links)
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("S-P7", Verdict.SKIP, ())
    assert "tx-9 was deleted" in ruling.reason
    # Another Svenn project linked to a live Tripletex project with the same number still syncs.
    other = linked(PROJECT, SVENN, "sv-10", "tx-10").remember(deleted=deleted)
    ruling = decide(change(SVENN, PROJECT, ChangeKind.UPDATED, project(), "sv-10"), other)
    assert ruling.verdict is Verdict.COMMAND


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


def test_S_P8_svenn_members_become_tripletex_participants_and_removed_ones_are_named() -> None:
    employees = {
        (TENANT, EntityType.EMPLOYEE, SVENN, f"sv-emp-{n}"): Link(LinkState.LINKED, f"tx-emp-{n}")
        for n in (1, 2)
    }
    synced = project(member_ids=("sv-emp-1", "sv-emp-2"))
    own = {(TENANT, PROJECT, SVENN, "rec-1"): Link(LinkState.LINKED, "tx-p", synced)}
    links = Links({**employees, **own})
    event = change(SVENN, PROJECT, ChangeKind.UPDATED, project(member_ids=("sv-emp-1", "sv-unlinked")))
    (command,) = decide(event, links).commands
    assert command.changed_fields == ("member_ids",)
    assert (command.participants, command.former_participants) == (("tx-emp-1",), ("tx-emp-2",))
    # A change that leaves the members alone leaves the participants alone.
    renamed = change(SVENN, PROJECT, ChangeKind.UPDATED, synced.model_copy(update={"name": "Nytt navn"}))
    (command,) = decide(renamed, links).commands
    assert command.participants is None


def test_S_P7a_after_its_svenn_twin_is_deleted_tripletex_changes_are_skipped_quietly() -> None:
    svenn_links = linked(PROJECT, SVENN, "sv-3", "tx-3")
    deleted = decide(change(SVENN, PROJECT, ChangeKind.DELETED, None, "sv-3"), svenn_links)
    assert (deleted.rule_id, deleted.verdict, deleted.commands) == ("S-P7", Verdict.SKIP, ())
    assert deleted.deleted is not None and deleted.deleted.other_id == "tx-3"
    links = linked(PROJECT, TRIPLETEX, "tx-3", "sv-3").remember(deleted=deleted.deleted)
    for edit in (project(name="Omdøpt"), project(status=ProjectStatus.COMPLETED)):
        ruling = decide(change(TRIPLETEX, PROJECT, ChangeKind.UPDATED, edit, "tx-3"), links)
        assert (ruling.rule_id, ruling.verdict, ruling.commands, ruling.error_code) == (
            "S-P7a",
            Verdict.SKIP,
            (),
            None,
        )
        assert "sv-3 was deleted" in ruling.reason
    # Another linked project still syncs.
    other = linked(PROJECT, TRIPLETEX, "tx-4", "sv-4").remember(deleted=deleted.deleted)
    assert decide(change(TRIPLETEX, PROJECT, ChangeKind.UPDATED, project(), "tx-4"), other).verdict is (
        Verdict.COMMAND
    )
