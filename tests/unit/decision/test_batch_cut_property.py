"""Property: the decision's rulings do not depend on how the change stream is cut into batches.

Deciding a sequence of changes as one batch (``Links.remember`` between them, as
``DecisionConsumer`` does) must give the same rulings as deciding it in any split into smaller
batches, where what is learnt in between is what ``decision_state.save`` stores and
``decision_state.load`` gives back (modelled in memory from their SQL: ``state_model``); and a
batch delivered again (a crash after its state was saved) gives the same rulings again, when it
holds one change per pair; in general it does not (the strict xfail below says why).

Found: ``Links.remember`` did not give the target of an update issued earlier in the batch what
its write intent gives it once saved and loaded (``synced`` = the payload, ``projected`` = the
link's content), so a change of that target later in the *same* batch was compared with older
content than in the next batch: e.g. a Svenn and a Tripletex user completing the same project at
once was a write back to Svenn in one batch and an echo across two; and a same-field conflict
decided in one batch was written both ways (the sides swapped) instead of Tripletex winning.

The changes: projects on both sides, two linked pairs (one with an engine write to Tripletex still
in flight, whose echo arrives late, possibly twice), an unlinked Svenn and an unlinked Tripletex
project; updates drawn from a few names, end dates and statuses, deletions, delivered in any order
and any number of times (an older version after a newer one is an overtaken delivery). The link
table itself does not move during the sequence (no outcome is projected): that is the window in
which ``remember`` and ``save``/``load`` must agree.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.envelope import ChangeEvent, EntityType, SourceSystem
from services.decision.ruling import Ruling
from tests.fuzz_strategies import fuzz_examples
from tests.unit.decision.state_model import TENANT, Store, change, decide_batch, link_pair, project

SVENN, TRIPLETEX = SourceSystem.SVENN, SourceSystem.TRIPLETEX
PROJECT = EntityType.PROJECT
# (side, id, number): s1⇄t1 and s2⇄t2 linked; s3 only in Svenn, t4 only in Tripletex.
RECORDS = [
    (SVENN, "s1", "P1"),
    (TRIPLETEX, "t1", "P1"),
    (SVENN, "s2", "P2"),
    (TRIPLETEX, "t2", "P2"),
    (SVENN, "s3", "P3"),
    (TRIPLETEX, "t4", "P4"),
]
# Which pair (or unlinked record) each record belongs to.
PAIR = {"s1": "1", "t1": "1", "s2": "2", "t2": "2", "s3": "3", "t4": "4"}

# An engine write to t1 in flight before the sequence starts: its echo is a version of t1.
IN_FLIGHT = project("P1", name="Echo")


def initial_store(write_in_flight: bool) -> Store:
    store = Store()
    for svenn_id, tripletex_id, number in (("s1", "t1", "P1"), ("s2", "t2", "P2")):
        link_pair(
            store,
            (TENANT, PROJECT, SVENN, svenn_id),
            (TENANT, PROJECT, TRIPLETEX, tripletex_id),
            project(number),
            1,
        )
    for side, entity_id, _ in RECORDS:
        store.seen[(TENANT, PROJECT, side, entity_id)] = 1
    if write_in_flight:
        store.intents[(TENANT, PROJECT, TRIPLETEX, "t1")] = (IN_FLIGHT, store.tick())
    return store


@st.composite
def histories(draw: st.DrawFn, one_per_pair: bool = False) -> tuple[bool, list[ChangeEvent]]:
    """Each record's versions 2…n (an update or, last, a deletion), then a delivery order."""
    write_in_flight = draw(st.booleans())
    versions: list[ChangeEvent] = []
    for side, entity_id, number in RECORDS:
        count = draw(st.integers(0, 3))
        for version in range(2, count + 2):
            if version == count + 1 and draw(st.integers(0, 4)) == 0:
                versions.append(change(side, entity_id, version, None))
                continue
            snapshot = project(
                number,
                draw(st.sampled_from(["Roof", "Wall", "Echo"])),
                draw(st.sampled_from([None, date(2026, 6, 30)])),
                draw(st.integers(0, 5)) == 0,
            )
            versions.append(change(side, entity_id, version, snapshot))
        deleted = any(v.entity_id == entity_id and v.snapshot is None for v in versions)
        if write_in_flight and entity_id == "t1" and not deleted:
            # The engine's own write coming back (the version after those drawn), late and perhaps twice.
            versions.append(change(side, entity_id, count + 2, IN_FLIGHT))
    if one_per_pair:  # one version of each linked pair (of each unlinked record), perhaps none
        chosen: list[ChangeEvent] = []
        for pair in sorted(set(PAIR.values())):
            group = [v for v in versions if PAIR[v.entity_id] == pair]
            take: bool = draw(st.booleans())
            if group and take:
                chosen.append(draw(st.sampled_from(group)))
        versions = chosen
    if not versions:
        return write_in_flight, []
    order = draw(st.lists(st.sampled_from(versions), min_size=1, max_size=14))
    # Every version is delivered at least once, in an order of its own, redeliveries among them.
    return write_in_flight, order + [v for v in versions if v not in order]


def summary(rulings: list[Ruling]) -> list[tuple[object, ...]]:
    return [
        (
            r.rule_id,
            r.verdict,
            r.error_code,
            r.deleted,
            tuple(
                (c.command_id, c.operation, c.target, c.expected_link, c.payload, c.changed_fields)
                for c in r.commands
            ),
        )
        for r in rulings
    ]


@settings(max_examples=fuzz_examples(300))
@given(histories(), st.lists(st.integers(1, 30), max_size=6))
def test_rulings_do_not_depend_on_how_batches_are_cut(
    drawn: tuple[bool, list[ChangeEvent]], cuts: list[int]
) -> None:
    write_in_flight, events = drawn
    whole = summary(decide_batch(initial_store(write_in_flight), events))

    store = initial_store(write_in_flight)
    bounds = sorted({c for c in cuts if c < len(events)} | {0, len(events)})
    parts = [events[a:b] for a, b in pairwise(bounds)]
    in_parts = [ruling for part in parts for ruling in decide_batch(store, part)]
    assert summary(in_parts) == whole, f"batches {[len(p) for p in parts]}"


@settings(max_examples=fuzz_examples(200))
@given(histories(one_per_pair=True))
def test_a_batch_delivered_again_gets_the_same_rulings(drawn: tuple[bool, list[ChangeEvent]]) -> None:
    """After a crash between saving the batch's state and publishing or committing it: a batch
    with one change per linked pair (each perhaps twice) is decided exactly as the first time."""
    write_in_flight, events = drawn
    store = initial_store(write_in_flight)
    first = summary(decide_batch(store, events))
    assert summary(decide_batch(store, events)) == first


@pytest.mark.xfail(
    strict=True,
    reason="a redelivered batch is decided with the state saved from its own later changes (newer "
    "versions seen, write intents of the twin): an earlier change of the same record or pair is then "
    "overtaken, an echo, or names other fields. Deciding it as before would need the state as it was "
    "before the batch (e.g. versions and intents per event id): not a small change",
)
@settings(max_examples=fuzz_examples(200))
@given(histories())
def test_any_batch_delivered_again_gets_the_same_rulings(drawn: tuple[bool, list[ChangeEvent]]) -> None:
    write_in_flight, events = drawn
    store = initial_store(write_in_flight)
    first = summary(decide_batch(store, events))
    assert summary(decide_batch(store, events)) == first


def test_a_same_field_conflict_decided_in_one_batch_is_won_by_tripletex() -> None:
    """What the property found: both renamed before either change was decided, in one batch."""
    store = initial_store(write_in_flight=False)
    tripletex, svenn = decide_batch(
        store,
        [change(TRIPLETEX, "t2", 2, project("P2", "Wall")), change(SVENN, "s2", 2, project("P2", "Echo"))],
    )
    (to_svenn,) = tripletex.commands
    assert (to_svenn.target, to_svenn.changed_fields) == (SVENN, ("name",))
    assert (svenn.commands, "Tripletex wins" in svenn.reason) == ((), True)
