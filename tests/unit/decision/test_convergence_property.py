"""Property: the two-way sync converges without ping-pong, driven by the real ``decide``.

A small model of the two sides and the pipeline between them. Users edit two linked project
pairs on either side (name, end date, status); each edit bumps the record's version and sends a
change. Random steps then deliver a batch of changes to the decision (any of them, out of order;
a change may stay queued and be delivered again later), run a writer on the oldest command for
a record, or project the oldest outcome. Once users stop, the steps go on until nothing is
queued, and then:

- every linked pair holds the same values on both sides;
- the engine wrote at most a small multiple of the user edits (no echo loop), and the queues ran
  dry within a bounded number of steps.

The decision is the real one (``decide`` with ``Links.remember`` in a batch; between batches
``state_model``'s in-memory ``decision_state.save``/``load``), and so is what the links
projection records for an applied outcome (``state_model.project_outcome``).

What the model simplifies:
- Writers: an update writes the command's ``changed_fields`` (all compared fields when None) of
  its payload into the target, only the fields that differ, bumping the version once when any
  does (then the side reports the record, an echo); nothing differs: nothing written, no change.
  The Tripletex writer keeps a field Tripletex changed since ``Command.base`` to another value
  than the payload's when the record's version moved past ``base_version`` (the conflict policy,
  as ``writer_ops._tripletex_wins``); the Svenn writer writes without that check. The outcome
  records the payload as ``written`` and the record's version after the write, as
  ``services.core.writer.outcome_for`` does. No failures, retries, matching by number, creates,
  deletions, members or number assignment: only linked pairs and their updates.
- Order: commands are written in order per target record (the writers' lanes), outcomes are
  projected in order; changes reach the decision in any order, each at most twice.
- Users stop before the system is drained; the last edits can still race the engine's writes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from contracts.entities import ProjectSnapshot, ProjectStatus
from contracts.envelope import (
    ChangeEvent,
    Command,
    EntityType,
    Operation,
    Outcome,
    OutcomeStatus,
    SourceSystem,
)
from services.core.writer import outcome_for
from services.decision.echo import COMPARED
from tests.fuzz_strategies import fuzz_examples
from tests.unit.decision.state_model import (
    TENANT,
    Store,
    change,
    decide_batch,
    link_pair,
    project,
    project_outcome,
)

SVENN, TRIPLETEX = SourceSystem.SVENN, SourceSystem.TRIPLETEX
PROJECT = EntityType.PROJECT
PAIRS = [("s1", "t1", "P1"), ("s2", "t2", "P2")]
FIELDS = ("name", "end_date", "status")
VALUES: dict[str, list[object]] = {
    "name": ["Roof", "Wall", "Door"],
    "end_date": [None, date(2026, 6, 30), date(2026, 9, 1)],
    "status": [ProjectStatus.ACTIVE, ProjectStatus.COMPLETED],
}
MAX_STEPS = 400


@dataclass
class Record:
    version: int
    snapshot: ProjectSnapshot


@dataclass
class World:
    sides: dict[tuple[SourceSystem, str], Record]
    store: Store
    changes: list[ChangeEvent] = field(default_factory=list)
    delivered: dict[object, int] = field(default_factory=dict)
    commands: dict[tuple[SourceSystem, str], deque[Command]] = field(default_factory=dict)
    outcomes: deque[Outcome] = field(default_factory=deque)
    engine_writes: int = 0

    def busy(self) -> bool:
        return bool(self.changes or self.outcomes or any(self.commands.values()))


def start() -> World:
    store = Store()
    sides: dict[tuple[SourceSystem, str], Record] = {}
    for svenn_id, tripletex_id, number in PAIRS:
        link_pair(
            store,
            (TENANT, PROJECT, SVENN, svenn_id),
            (TENANT, PROJECT, TRIPLETEX, tripletex_id),
            project(number),
            1,
        )
        for side, entity_id in ((SVENN, svenn_id), (TRIPLETEX, tripletex_id)):
            sides[(side, entity_id)] = Record(1, project(number))
            store.seen[(TENANT, PROJECT, side, entity_id)] = 1
    return World(sides, store)


def report(world: World, side: SourceSystem, entity_id: str) -> None:
    """The side's webhook: the record as it is now, at its version."""
    record = world.sides[(side, entity_id)]
    world.changes.append(change(side, entity_id, record.version, record.snapshot))


def user_edit(world: World, side: SourceSystem, entity_id: str, name: str, value: object) -> None:
    record = world.sides[(side, entity_id)]
    if getattr(record.snapshot, name) == value:
        return
    record.version += 1
    record.snapshot = record.snapshot.model_copy(update={name: value})
    report(world, side, entity_id)


def deliver(world: World, picks: list[int], again: list[bool]) -> None:
    """A batch of queued changes in the drawn order; some stay queued to come again (at most twice)."""
    batch: list[ChangeEvent] = []
    for pick, keep in zip(picks, again, strict=False):
        if not world.changes:
            break
        event = world.changes.pop(pick % len(world.changes))
        batch.append(event)
        world.delivered[event.event_id] = world.delivered.get(event.event_id, 0) + 1
        if keep and world.delivered[event.event_id] < 2:
            world.changes.append(event)
    for ruling in decide_batch(world.store, batch):
        for command in ruling.commands:
            assert command.operation is Operation.UPDATE, ruling
            target = (command.target, command.expected_link.target_entity_id or "")
            world.commands.setdefault(target, deque()).append(command)


def write(world: World, target: tuple[SourceSystem, str]) -> None:
    """One writer call: the oldest command for this record."""
    command = world.commands[target].popleft()
    record = world.sides[target]
    payload = command.payload
    assert isinstance(payload, ProjectSnapshot)
    names = [n for n in (command.changed_fields or COMPARED[ProjectSnapshot]) if n in FIELDS]
    base = command.base
    # Tripletex changed the record since the decision looked: its own edits of a field stay.
    moved = command.base_version is not None and record.version > command.base_version
    if command.target is TRIPLETEX and base is not None and moved:
        now = record.snapshot
        names = [
            n for n in names if getattr(now, n) == getattr(base, n) or getattr(now, n) == getattr(payload, n)
        ]
    differs = {n: getattr(payload, n) for n in names if getattr(record.snapshot, n) != getattr(payload, n)}
    if differs:
        record.version += 1
        record.snapshot = record.snapshot.model_copy(update=differs)
        world.engine_writes += 1
        report(world, *target)
    world.outcomes.append(
        outcome_for(
            command,
            OutcomeStatus.APPLIED,
            target_entity_id=target[1],
            written=payload,
            target_version=record.version,
        )
    )


def step(world: World, data: st.DataObject) -> None:
    """One thing happens: a batch is decided, a writer writes, or an outcome is projected."""
    choices = []
    if world.changes:
        choices.append("deliver")
    if world.outcomes:
        choices.append("project")
    choices += [
        f"write {side.value} {entity_id}" for (side, entity_id), q in sorted(world.commands.items()) if q
    ]
    what = data.draw(st.sampled_from(choices))
    if what == "deliver":
        size = data.draw(st.integers(1, 4))
        deliver(
            world,
            data.draw(st.lists(st.integers(0, 20), min_size=size, max_size=size)),
            data.draw(st.lists(st.integers(0, 5).map(lambda n: n == 0), min_size=size, max_size=size)),
        )
    elif what == "project":
        project_outcome(world.store, world.outcomes.popleft())
    else:
        _, side, entity_id = what.split()
        write(world, (SourceSystem(side), entity_id))


def values(record: Record) -> tuple[object, ...]:
    return tuple(getattr(record.snapshot, n) for n in FIELDS)


def writing(world: World, pair: tuple[str, str, str]) -> bool:
    """Is an engine write of this pair queued, or applied and its outcome not projected yet?"""
    ids = {pair[0], pair[1]}
    queued = any(q for (_, entity_id), q in world.commands.items() if entity_id in ids)
    return queued or any(o.source_entity_id in ids for o in world.outcomes)


def run(data: st.DataObject, quiet_pairs_only: bool) -> None:
    world = start()
    edits = 0
    for _ in range(data.draw(st.integers(1, 8), label="user edits")):
        records = [
            (side, pair[0] if side is SVENN else pair[1])
            for pair in PAIRS
            if not (quiet_pairs_only and writing(world, pair))
            for side in (SVENN, TRIPLETEX)
        ]
        if quiet_pairs_only:  # and not a record whose own change is still queued
            records = [r for r in records if not any(e.entity_id == r[1] for e in world.changes)]
        if not records:
            step(world, data)
            continue
        record = data.draw(st.sampled_from(records))
        name = data.draw(st.sampled_from(FIELDS))
        before = world.sides[record].version
        user_edit(world, *record, name, data.draw(st.sampled_from(VALUES[name])))
        edits += world.sides[record].version - before
        for _ in range(data.draw(st.integers(0, 3), label="steps before the next edit")):
            if world.busy():
                step(world, data)
    steps = 0
    while world.busy():
        steps += 1
        assert steps <= MAX_STEPS, f"still busy after {MAX_STEPS} steps: {world.engine_writes} engine writes"
        step(world, data)
    for svenn_id, tripletex_id, _ in PAIRS:
        svenn, tripletex = world.sides[(SVENN, svenn_id)], world.sides[(TRIPLETEX, tripletex_id)]
        assert values(svenn) == values(tripletex), (svenn_id, svenn, tripletex)
    assert world.engine_writes <= 2 * edits, (world.engine_writes, edits)


@settings(max_examples=fuzz_examples(150))
@given(st.data())
def test_edits_on_both_sides_converge_without_ping_pong(data: st.DataObject) -> None:
    """Users edit either side of a pair, also both before either change is decided (a conflict),
    but not while an engine write of that pair is queued or its outcome unprojected, nor a record
    whose last change is still queued (see the xfail below); the engine's batches, writes,
    projections, late and repeated deliveries interleave with the edits and with each other."""
    run(data, quiet_pairs_only=True)


@pytest.mark.xfail(
    strict=True,
    reason="edits while an engine write of the pair is in flight can be lost, the sides staying unequal: "
    "(1) a record changed and changed back before the decision's write of the first change is projected: "
    "the second change is compared with the link's synced content, not with the first change being "
    "written, and skipped as an echo; (2) a Tripletex user setting a field back to its value from before "
    "the engine's write, after that write landed but before its outcome is projected: a field showing its "
    "value from before a write in flight counts as no change (echo.changed_fields ``before``)",
)
@settings(max_examples=fuzz_examples(150), phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(st.data())
def test_any_user_edits_on_both_sides_converge_without_ping_pong(data: st.DataObject) -> None:
    run(data, quiet_pairs_only=False)


def test_the_model_writes_what_a_user_changed() -> None:
    """The model itself: a Svenn rename reaches Tripletex once and its echo is not written back."""
    world = start()
    user_edit(world, SVENN, "s1", "name", "Wall")
    deliver(world, [0], [False])
    write(world, (TRIPLETEX, "t1"))
    project_outcome(world.store, world.outcomes.popleft())
    deliver(world, [0], [False])  # the echo
    assert not world.busy()
    assert world.sides[(TRIPLETEX, "t1")].snapshot.name == "Wall"
    assert (world.engine_writes, world.sides[(TRIPLETEX, "t1")].version) == (1, 2)


def drain(world: World) -> None:
    """Everything queued, in order: batches of all queued changes, writes, projections."""
    for _ in range(MAX_STEPS):
        if world.outcomes:
            project_outcome(world.store, world.outcomes.popleft())
        elif any(world.commands.values()):
            write(world, next(t for t, q in sorted(world.commands.items()) if q))
        elif world.changes:
            deliver(world, [0] * len(world.changes), [False] * len(world.changes))
        else:
            return


@pytest.mark.xfail(
    strict=True,
    reason="found by the property above, case (1): the revert is compared with the link's synced "
    "content and taken for an echo. Comparing a newer version with the record's own last decided content "
    "(``Link.other_synced``, its intent on the twin) fixes this case but makes a redelivered change "
    "(after a crash between saving and publishing) lose fields of its command: the decision cannot tell a "
    "redelivery from a new change without remembering decided event ids, not a small change",
)
def test_a_field_changed_and_changed_back_in_tripletex_reaches_svenn() -> None:
    world = start()
    user_edit(world, TRIPLETEX, "t1", "end_date", date(2026, 6, 30))
    deliver(world, [0], [False])  # decided: the write to Svenn is queued
    user_edit(
        world, TRIPLETEX, "t1", "end_date", None
    )  # changed back, decided before that write is projected
    deliver(world, [0], [False])
    drain(world)
    assert world.sides[(SVENN, "s1")].snapshot.end_date is None


@pytest.mark.xfail(
    strict=True, reason="found by the property above, case (2): the edit is taken for an old value"
)
def test_a_tripletex_edit_back_to_the_value_before_the_engines_write_reaches_svenn() -> None:
    world = start()
    user_edit(world, SVENN, "s1", "end_date", date(2026, 6, 30))
    deliver(world, [0], [False])
    write(world, (TRIPLETEX, "t1"))  # Tripletex now has the end date (version 2); outcome not projected
    user_edit(world, TRIPLETEX, "t1", "end_date", None)  # a Tripletex user removes it again (version 3)
    deliver(world, [0, 0], [False, False])  # the echo and the user's change, before the projection
    drain(world)
    assert world.sides[(SVENN, "s1")].snapshot.end_date is None
