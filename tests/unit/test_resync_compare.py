"""The re-sync's comparison (pure): which records are drift, which are in sync, and the ids of
the corrections. Cases the end-to-end test does not reach: deletions missed while webhooks were
off (S-P7, S-C5), the error log (S-X1) and ``--since``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from contracts.entities import CustomerSnapshot, EntitySnapshot, ProjectSnapshot, ProjectStatus
from contracts.envelope import ChangeEvent, ChangeKind, EntityType, LinkState, SourceSystem
from contracts.error_codes import PROJECT_MISSING_START_DATE
from contracts.ids import change_event_id
from services.decision.links import Link, Links
from services.replay.resync import Action, LinkRow, Listing, compare

T = "acme"
SVENN, TRIPLETEX = SourceSystem.SVENN, SourceSystem.TRIPLETEX
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
START = date(2026, 3, 2)


def event(
    side: SourceSystem,
    entity_id: str,
    snapshot: EntitySnapshot | None,
    version: str = "3",
    kind: ChangeKind = ChangeKind.UPDATED,
    at: datetime = NOW,
) -> ChangeEvent:
    entity_type = EntityType.PROJECT if isinstance(snapshot, ProjectSnapshot | None) else EntityType.CUSTOMER
    event_id = change_event_id(T, side.value, entity_type.value, entity_id, version)
    return ChangeEvent(
        tenant_id=T,
        correlation_id=event_id,
        event_id=event_id,
        source=side,
        entity_type=entity_type,
        entity_id=entity_id,
        change_kind=kind,
        occurred_at=at,
        source_version=version,
        snapshot=snapshot,
    )


def linked(
    entity_type: EntityType, svenn_id: str, tripletex_id: str, synced: EntitySnapshot
) -> tuple[Links, list[LinkRow]]:
    links = Links(
        {
            (T, entity_type, SVENN, svenn_id): Link(LinkState.LINKED, tripletex_id, synced, 3),
            (T, entity_type, TRIPLETEX, tripletex_id): Link(LinkState.LINKED, svenn_id, synced, 3),
        }
    )
    rows = [
        (entity_type, SVENN, svenn_id, TRIPLETEX, tripletex_id),
        (entity_type, TRIPLETEX, tripletex_id, SVENN, svenn_id),
    ]
    return links, rows


PROJECT = ProjectSnapshot(number="2026.5", name="Bad", start_date=START)


def test_linked_records_with_the_synced_content_are_in_sync_and_a_changed_one_is_an_update() -> None:
    links, rows = linked(EntityType.PROJECT, "prj_1", "11", PROJECT)
    renamed = PROJECT.model_copy(update={"name": "Bad og kjøkken"})
    listing = Listing([event(SVENN, "prj_1", PROJECT)], [event(TRIPLETEX, "11", renamed, version="4")])

    items = compare(T, listing, links, rows, set())

    by_side = {i.side: i for i in items}
    assert by_side[SVENN].action is Action.IN_SYNC and by_side[SVENN].event is None
    update = by_side[TRIPLETEX]
    assert (update.action, update.fields, update.other_id) == (Action.UPDATE, ("name",), "prj_1")
    assert update.event is not None and update.event.snapshot == renamed
    # Its own id (the original would be absorbed as a redelivery), the same on a second run.
    assert update.event.event_id != listing.tripletex[0].event_id
    again = compare(T, listing, links, rows, set())
    assert [i.event.event_id for i in again if i.event] == [update.event.event_id]


def test_S_P7_a_tripletex_project_deleted_while_webhooks_were_off_completes_its_twin_once() -> None:
    links, rows = linked(EntityType.PROJECT, "prj_1", "11", PROJECT)
    listing = Listing([event(SVENN, "prj_1", PROJECT)], [])

    (complete,) = [i for i in compare(T, listing, links, rows, set()) if i.side is TRIPLETEX]
    assert (complete.action, complete.rule_id, complete.entity_id) == (Action.COMPLETE, "S-P7", "11")
    assert complete.event is not None and complete.event.change_kind is ChangeKind.DELETED

    done = PROJECT.model_copy(update={"status": ProjectStatus.COMPLETED})
    after = compare(T, Listing([event(SVENN, "prj_1", done, version="4")], []), links, rows, set())
    assert next(i for i in after if i.side is TRIPLETEX).action is Action.IN_SYNC
    # Decided once already (the decision remembers the deletion): never sent again.
    known = Links(links.known, deleted={(T, EntityType.PROJECT, TRIPLETEX, "11"): "11"})
    (remembered,) = [i for i in compare(T, listing, known, rows, set()) if i.side is TRIPLETEX]
    assert (remembered.action, remembered.event) == (Action.IN_SYNC, None)


def test_S_C5_a_svenn_customer_deleted_while_webhooks_were_off_breaks_the_link() -> None:
    customer = CustomerSnapshot(customer_number="40001", name="Brutt AS")
    links, rows = linked(EntityType.CUSTOMER, "cus_1", "21", customer)
    gone = event(SVENN, "cus_1", customer, version="4", kind=ChangeKind.DELETED)
    listing = Listing([], [event(TRIPLETEX, "21", customer)], svenn_deleted=[gone])

    (brk,) = [i for i in compare(T, listing, links, rows, set()) if i.side is SVENN]
    assert (brk.action, brk.rule_id) == (Action.BREAK, "S-C5")
    broken = Links(
        {k: Link(LinkState.BROKEN, v.target_entity_id, v.synced, 3) for k, v in links.known.items()}
    )
    after = compare(T, listing, broken, [], set())
    assert after and all(i.event is None for i in after)


def test_S_X1_a_rejection_is_a_correction_only_when_the_error_log_does_not_show_it() -> None:
    no_start = ProjectSnapshot(number="2026.6", name="Uten start")
    listing = Listing([event(SVENN, "prj_2", no_start)], [])

    (fresh,) = compare(T, listing, Links({}), [], set())
    assert (fresh.action, fresh.rule_id) == (Action.REJECT, "S-P1") and fresh.event is not None
    known = {("svenn", "project", "prj_2", PROJECT_MISSING_START_DATE)}
    (logged,) = compare(T, listing, Links({}), [], known)
    assert logged.action is Action.KNOWN_ERROR and logged.event is None


def test_since_leaves_out_svenn_records_not_changed_since_then() -> None:
    old = event(SVENN, "prj_3", PROJECT.model_copy(update={"number": "2026.7"}), at=NOW - timedelta(days=2))
    new = event(SVENN, "prj_4", PROJECT.model_copy(update={"number": "2026.8"}))
    listing = Listing([old, new], [], tripletex_changed=frozenset())

    items = compare(T, listing, Links({}), [], set(), since=NOW - timedelta(hours=1))
    assert [(i.entity_id, i.action) for i in items] == [("prj_4", Action.CREATE)]


def test_an_unlinked_pair_with_the_same_number_is_linked_from_one_side() -> None:
    listing = Listing([event(SVENN, "prj_5", PROJECT)], [event(TRIPLETEX, "15", PROJECT)])

    (link,) = [i for i in compare(T, listing, Links({}), [], set()) if i.action is Action.LINK]
    assert {link.entity_id, link.other_id} == {"prj_5", "15"} and link.event is not None
