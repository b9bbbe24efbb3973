"""Echo suppression: the engine's own write coming back is not synced again; otherwise only the
fields that changed since the last sync are written."""

from __future__ import annotations

from datetime import date

from contracts.entities import CustomerSnapshot, ProjectSnapshot
from contracts.envelope import ChangeKind, EntityType, LinkState, Operation, SourceSystem, Verdict
from services.decision.decide import decide
from services.decision.links import Link, Links
from tests.unit.decision.rule_cases import TENANT, change

SVENN, TRIPLETEX = SourceSystem.SVENN, SourceSystem.TRIPLETEX
SYNCED = ProjectSnapshot(
    number="2024.17", name="Roof", start_date=date(2026, 1, 5), member_ids=("sv-e1", "sv-e2")
)


def synced_links(side: SourceSystem, synced: ProjectSnapshot | CustomerSnapshot) -> Links:
    entity = EntityType.PROJECT if isinstance(synced, ProjectSnapshot) else EntityType.CUSTOMER
    links = {(TENANT, entity, side, "rec-1"): Link(LinkState.LINKED, "other-1", synced)}
    links[(TENANT, EntityType.EMPLOYEE, TRIPLETEX, "tx-e1")] = Link(LinkState.LINKED, "sv-e1")
    links[(TENANT, EntityType.EMPLOYEE, TRIPLETEX, "tx-e2")] = Link(LinkState.LINKED, "sv-e2")
    return Links(links)


def test_the_engines_own_write_coming_back_from_svenn_is_an_echo() -> None:
    echo = SYNCED.model_copy(update={"member_ids": ("sv-e2", "sv-e1")})  # order does not matter
    ruling = decide(change(SVENN, EntityType.PROJECT, ChangeKind.UPDATED, echo), synced_links(SVENN, SYNCED))
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("S-P4", Verdict.SKIP, ())
    assert "echo" in ruling.reason


def test_the_engines_own_write_coming_back_from_tripletex_is_an_echo() -> None:
    # Tripletex reports participants by its own employee ids; mapped through the links they match.
    echo = SYNCED.model_copy(update={"member_ids": ("tx-e1", "tx-e2"), "is_internal": True})
    ruling = decide(
        change(TRIPLETEX, EntityType.PROJECT, ChangeKind.UPDATED, echo), synced_links(TRIPLETEX, SYNCED)
    )
    assert (ruling.verdict, ruling.commands) == (Verdict.SKIP, ())


def test_a_real_change_writes_only_the_fields_that_changed() -> None:
    renamed = SYNCED.model_copy(update={"name": "New roof", "end_date": date(2026, 3, 1)})
    ruling = decide(
        change(SVENN, EntityType.PROJECT, ChangeKind.UPDATED, renamed), synced_links(SVENN, SYNCED)
    )
    (command,) = ruling.commands
    assert (command.operation, command.changed_fields) == (Operation.UPDATE, ("name", "end_date"))


def test_without_a_known_last_sync_every_field_is_written() -> None:
    links = Links({(TENANT, EntityType.PROJECT, SVENN, "rec-1"): Link(LinkState.LINKED, "other-1")})
    ruling = decide(change(SVENN, EntityType.PROJECT, ChangeKind.UPDATED, SYNCED), links)
    assert ruling.commands[0].changed_fields is None


def test_customer_reactivated_in_tripletex_is_not_taken_for_an_echo() -> None:
    synced = CustomerSnapshot(customer_number="100", name="Nordmann AS", active=False)
    active = synced.model_copy(update={"active": True})
    ruling = decide(
        change(TRIPLETEX, EntityType.CUSTOMER, ChangeKind.STATUS_CHANGED, active),
        synced_links(TRIPLETEX, synced),
    )
    assert ruling.commands[0].changed_fields == ("active",)


def test_a_version_older_than_the_engines_last_write_is_skipped() -> None:
    # Webhooks arrive out of order: an older version must not overwrite what the engine wrote.
    links = Links({(TENANT, EntityType.PROJECT, SVENN, "rec-1"): Link(LinkState.LINKED, "other-1", None, 7)})
    renamed = SYNCED.model_copy(update={"name": "Stale name"})
    old = change(SVENN, EntityType.PROJECT, ChangeKind.UPDATED, renamed).model_copy(
        update={"source_version": "6"}
    )
    ruling = decide(old, links)
    assert (ruling.verdict, ruling.commands) == (Verdict.SKIP, ())
    assert "older than version 7 the engine wrote" in ruling.reason
    newer = old.model_copy(update={"source_version": "8"})
    assert decide(newer, links).commands[0].operation is Operation.UPDATE


def test_the_engines_own_version_goes_on_to_the_content_check() -> None:
    # Equal version: the engine's write coming back (echo) unless its content differs, as a
    # Tripletex project's does when only its participants changed (S-P8: "7+p…").
    links = synced_links(TRIPLETEX, SYNCED)
    links = Links({k: Link(v.state, v.target_entity_id, v.synced, 7) for k, v in links.known.items()})
    as_in_tripletex = SYNCED.model_copy(update={"member_ids": ("tx-e1", "tx-e2")})
    echo = change(TRIPLETEX, EntityType.PROJECT, ChangeKind.UPDATED, as_in_tripletex)
    assert decide(echo.model_copy(update={"source_version": "7+pa"}), links).verdict is Verdict.SKIP
    joined = SYNCED.model_copy(update={"member_ids": ("tx-e1", "tx-e2", "tx-emp-9")})
    employee = Link(LinkState.LINKED, "sv-emp-9")
    links = Links({**links.known, (TENANT, EntityType.EMPLOYEE, TRIPLETEX, "tx-emp-9"): employee})
    event = change(TRIPLETEX, EntityType.PROJECT, ChangeKind.UPDATED, joined)
    (command,) = decide(event.model_copy(update={"source_version": "7+pb"}), links).commands
    assert command.changed_fields == ("member_ids",)


def test_a_version_older_than_one_already_decided_about_is_skipped() -> None:
    # A Tripletex record the engine never wrote: only the versions seen order its changes.
    links = Links({}, seen_versions={(TENANT, EntityType.PROJECT, TRIPLETEX, "rec-1"): 5})
    stale = change(TRIPLETEX, EntityType.PROJECT, ChangeKind.UPDATED, SYNCED)
    ruling = decide(stale.model_copy(update={"source_version": "4+pa"}), links)
    assert (ruling.verdict, ruling.commands) == (Verdict.SKIP, ())
    assert "older than version 5 already synced" in ruling.reason
    assert decide(stale.model_copy(update={"source_version": "5+pa"}), links).verdict is Verdict.COMMAND


def test_the_echo_of_the_engines_own_create_is_not_created_back() -> None:
    # Svenn's project was just created in Tripletex by the engine; Tripletex's webhook for it
    # arrives before the link is projected.
    pending = {(TENANT, EntityType.PROJECT, TRIPLETEX, "number:2024.17"): SYNCED}
    echo = SYNCED.model_copy(update={"member_ids": ()})
    ruling = decide(change(TRIPLETEX, EntityType.PROJECT, ChangeKind.CREATED, echo), Links({}, pending))
    assert (ruling.verdict, ruling.commands) == (Verdict.SKIP, ())
    different = SYNCED.model_copy(update={"name": "A Tripletex project of its own"})
    ruling = decide(change(TRIPLETEX, EntityType.PROJECT, ChangeKind.CREATED, different), Links({}, pending))
    assert ruling.commands[0].operation is Operation.CREATE


def test_a_change_to_a_record_whose_create_is_in_flight_becomes_an_update() -> None:
    # The Svenn project's create in Tripletex is still in flight when the user completes it.
    in_flight = Links({}, creates_from={(TENANT, EntityType.PROJECT, SVENN, "rec-1"): SYNCED})
    completed = SYNCED.model_copy(update={"status": "completed"})
    ruling = decide(change(SVENN, EntityType.PROJECT, ChangeKind.STATUS_CHANGED, completed), in_flight)
    (command,) = ruling.commands
    assert (command.target, command.operation, command.expected_link.target_entity_id) == (
        TRIPLETEX,
        Operation.UPDATE,
        None,  # the writer finds it by number
    )


def test_another_record_with_the_number_of_a_create_in_flight_stays_a_create() -> None:
    # Not an update of the record being created: the writer's match decides (ambiguous or not).
    pending = {(TENANT, EntityType.PROJECT, TRIPLETEX, "number:2024.17"): SYNCED}
    in_flight = Links({}, pending, creates_from={(TENANT, EntityType.PROJECT, SVENN, "rec-1"): SYNCED})
    twin = SYNCED.model_copy(update={"name": "Another project, same number"})
    event = change(SVENN, EntityType.PROJECT, ChangeKind.CREATED, twin, entity_id="rec-2")
    assert decide(event, in_flight).commands[0].operation is Operation.CREATE


def test_a_redelivered_change_gives_the_same_create_even_with_its_create_pending() -> None:
    event = change(SVENN, EntityType.PROJECT, ChangeKind.CREATED, SYNCED)
    first = decide(event, Links({}))
    pending = {(TENANT, EntityType.PROJECT, TRIPLETEX, "number:2024.17"): SYNCED}
    again = decide(event, Links({}, pending))
    assert [c.command_id for c in again.commands] == [c.command_id for c in first.commands]


def _in_flight(side: SourceSystem, writing: ProjectSnapshot) -> Links:
    """The engine's write of ``writing`` to this record is in flight; SYNCED is what it held."""
    link = Link(LinkState.LINKED, "other-1", writing, projected=SYNCED)
    return Links({(TENANT, EntityType.PROJECT, side, "rec-1"): link})


def test_a_change_made_before_the_engines_write_landed_does_not_echo_the_old_value_back() -> None:
    # Svenn's new name is being written to Tripletex; a Tripletex user changed the end date just
    # before it landed. Tripletex's change still shows the old name: only the end date is news.
    writing = SYNCED.model_copy(update={"name": "Svenn's name"})
    ended = SYNCED.model_copy(update={"end_date": date(2026, 12, 31), "member_ids": ()})
    links = _in_flight(TRIPLETEX, writing.model_copy(update={"member_ids": ()}))
    (command,) = decide(change(TRIPLETEX, EntityType.PROJECT, ChangeKind.UPDATED, ended), links).commands
    assert command.changed_fields == ("end_date",)


def test_the_same_field_changed_on_both_sides_at_once_tripletex_wins() -> None:
    # Tripletex's name is being written to Svenn while a Svenn user renamed the project too.
    links = _in_flight(SVENN, SYNCED.model_copy(update={"name": "Tripletex' name"}))
    renamed = SYNCED.model_copy(update={"name": "Svenn's name"})
    ruling = decide(change(SVENN, EntityType.PROJECT, ChangeKind.UPDATED, renamed), links)
    assert (ruling.verdict, ruling.commands) == (Verdict.SKIP, ())
    assert "Tripletex wins" in ruling.reason
    # Another field changed in Svenn alongside still goes.
    both = renamed.model_copy(update={"end_date": date(2026, 6, 30)})
    (command,) = decide(change(SVENN, EntityType.PROJECT, ChangeKind.UPDATED, both), links).commands
    assert command.changed_fields == ("end_date",)
