"""The readiness report: what the initial sync of a tenant would link, create, skip and why.

Pure: it takes every record of both sides as change events (as ingest would publish them) and
asks the same rules the engine runs (``services.decision.decide``) about each one, so the dry
run cannot disagree with the real sync on what is skipped or rejected. What the rules cannot
see — which record on one side is which on the other — is decided here by natural key, the
way the writers match before they create: projects by number (display_id in Svenn, internal
Tripletex projects included, S-P4), customers by customer number (inactive ones included),
employees by employee number, then e-mail. A key that points at more than one record is
*ambiguous* and is never merged automatically: a person decides.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from contracts.envelope import ChangeEvent, Command, EntityType, Operation, SourceSystem, Verdict
from services.decision.decide import decide
from services.decision.links import NO_LINKS
from services.decision.natural_keys import natural_keys as snapshot_keys

SVENN, TRIPLETEX = SourceSystem.SVENN, SourceSystem.TRIPLETEX


class Action(StrEnum):
    LINK = "link"
    CREATE_IN_TRIPLETEX = "create in tripletex"
    CREATE_IN_SVENN = "create in svenn"
    ASSIGN_NUMBER = "assign number"
    SKIP = "skip"
    REJECT = "reject"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Item:
    entity_type: EntityType
    action: Action
    rule_id: str
    reason: str
    svenn_id: str | None = None
    tripletex_id: str | None = None
    key: str | None = None
    error_code: str | None = None


@dataclass
class Readiness:
    tenant_id: str
    items: list[Item] = field(default_factory=list)

    def counts(self) -> Counter[tuple[EntityType, Action]]:
        return Counter((item.entity_type, item.action) for item in self.items)

    def of(self, action: Action) -> list[Item]:
        return [item for item in self.items if item.action is action]


def natural_keys(event: ChangeEvent) -> list[str]:
    return snapshot_keys(event.snapshot)


def plan(tenant_id: str, svenn: Iterable[ChangeEvent], tripletex: Iterable[ChangeEvent]) -> Readiness:
    readiness = Readiness(tenant_id)
    by_type: dict[EntityType, dict[SourceSystem, list[ChangeEvent]]] = defaultdict(lambda: defaultdict(list))
    for event in [*svenn, *tripletex]:
        by_type[event.entity_type][event.source].append(event)
    for entity_type in EntityType:
        sides = by_type.get(entity_type, {})
        readiness.items += _plan_type(entity_type, sides.get(SVENN, []), sides.get(TRIPLETEX, []))
    return readiness


def _plan_type(entity_type: EntityType, svenn: list[ChangeEvent], tripletex: list[ChangeEvent]) -> list[Item]:
    """Pair records the way the writers will: a record the rules send across is looked up among
    *all* records of the other side (internal projects, inactive customers, records the rules
    reject), because that is where the other side's writer searches before it creates."""
    rulings = {id(e): decide(e, NO_LINKS) for e in [*svenn, *tripletex]}
    events = {SVENN: svenn, TRIPLETEX: tripletex}
    # Svenn sub-projects reuse their parent's display_id; writers only ever match top-level ones.
    index = {
        side: _index([e for e in evs if rulings[id(e)].rule_id != "S-P2"]) for side, evs in events.items()
    }
    items: list[Item] = []
    paired: set[tuple[SourceSystem, str]] = set()
    for side, other in ((SVENN, TRIPLETEX), (TRIPLETEX, SVENN)):
        for event in events[side]:
            ruling = rulings[id(event)]
            if (side, event.entity_id) in paired or not _creates(ruling.commands):
                continue
            matches = _matches(event, index[other])
            same_side = _matches(event, index[side]) - {event.entity_id}
            if len(matches) > 1 or same_side:
                others = ", ".join(sorted(matches | same_side))
                items.append(
                    _item(event, Action.AMBIGUOUS, ruling.rule_id, f"more than one candidate: {others}")
                )
                paired.update((other, m) for m in matches)
            elif matches:
                (match,) = matches
                paired.update({(side, event.entity_id), (other, match)})
                svenn_id, tripletex_id = (
                    (event.entity_id, match) if side is SVENN else (match, event.entity_id)
                )
                items.append(
                    Item(
                        entity_type,
                        Action.LINK,
                        _link_rule(entity_type),
                        "same number on both sides",
                        svenn_id=svenn_id,
                        tripletex_id=tripletex_id,
                        key=_first_key(event),
                    )
                )
            else:
                create = Action.CREATE_IN_TRIPLETEX if side is SVENN else Action.CREATE_IN_SVENN
                items.append(_item(event, create, ruling.rule_id, f"no match in {other.value.capitalize()}"))
    for event in [*svenn, *tripletex]:
        ruling = rulings[id(event)]
        linked = (event.source, event.entity_id) in paired
        if ruling.verdict is Verdict.SKIP and not linked:
            items.append(_item(event, Action.SKIP, ruling.rule_id, ruling.reason))
        elif ruling.verdict is Verdict.REJECT:
            items.append(_item(event, Action.REJECT, ruling.rule_id, ruling.reason, ruling.error_code))
        elif any(c.operation is Operation.ASSIGN_NUMBER for c in ruling.commands):
            items.append(_item(event, Action.ASSIGN_NUMBER, ruling.rule_id, ruling.reason))
    return items


def _creates(commands: Iterable[Command]) -> bool:
    return any(c.operation is Operation.CREATE for c in commands)


def _index(events: list[ChangeEvent]) -> dict[str, set[str]]:
    index: dict[str, set[str]] = defaultdict(set)
    for event in events:
        for key in natural_keys(event):
            index[key].add(event.entity_id)
    return index


def _matches(event: ChangeEvent, index: dict[str, set[str]]) -> set[str]:
    """Candidates by the best key that finds any (number before e-mail), as the writers match."""
    for key in natural_keys(event):
        if index.get(key):
            return set(index[key])
    return set()


def _first_key(event: ChangeEvent) -> str | None:
    keys = natural_keys(event)
    return keys[0] if keys else None


def _link_rule(entity_type: EntityType) -> str:
    return {EntityType.PROJECT: "S-P4", EntityType.CUSTOMER: "S-C1", EntityType.EMPLOYEE: "S-E1"}[entity_type]


def _item(
    event: ChangeEvent, action: Action, rule_id: str, reason: str, error_code: str | None = None
) -> Item:
    on_svenn = event.source is SVENN
    return Item(
        event.entity_type,
        action,
        rule_id,
        reason,
        svenn_id=event.entity_id if on_svenn else None,
        tripletex_id=None if on_svenn else event.entity_id,
        key=_first_key(event),
        error_code=error_code,
    )
