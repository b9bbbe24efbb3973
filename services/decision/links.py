"""What the decision knows about links between records on the two sides.

The rules read links through this small interface so they stay pure: the consumer loads the
links a batch needs before deciding, and tests pass a plain dict. Besides the link table it
carries what the link table cannot know yet: creates still in flight, records deleted on their
side (S-P7) and the newest version seen of each record (out-of-order changes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from contracts.bounds import version_number
from contracts.entities import EntitySnapshot
from contracts.envelope import Command, EntityType, LinkState, Operation, SourceSystem
from services.decision.natural_keys import natural_keys


@dataclass(frozen=True)
class Link:
    state: LinkState
    target_entity_id: str | None
    # What both sides held after the last applied write (None: not known yet).
    synced: EntitySnapshot | None = None
    # This record's own version after the engine's last write to it (None: not known).
    synced_version: int | None = None
    # The newest version of this record the decision has decided about (None: none seen).
    seen_version: int | None = None
    # When ``synced`` is the engine's write to this record still in flight: what both sides held
    # at the last projected write (a change older than that write still shows these values).
    projected: EntitySnapshot | None = None
    # What the linked record on the other side holds after the engine's last write to it, or
    # will hold once its write in flight lands (``Command.base``), and its newest version seen.
    other_synced: EntitySnapshot | None = None
    other_seen_version: int | None = None


@dataclass(frozen=True)
class Deleted:
    """A record deleted on its side (``side``/``entity_id``) that its twin must stop following.

    ``other_id`` is the twin on the other side when it is linked; ``natural_key`` finds the twin
    while its link is still on its way (the delete overtook the record's first sync).
    """

    tenant_id: str
    entity_type: EntityType
    side: SourceSystem
    entity_id: str
    natural_key: str | None = None
    other_id: str | None = None


def source_version_number(version: str | None) -> int | None:
    """The ordering part of a side's record version ("7", or "7+p…" for a project's participants).

    ASCII digits only, and only within a ``bigint`` (the column it is kept in); anything else
    has no order (the contracts refuse a larger number at the edge).
    """
    return version_number(version)


LinkKey = tuple[str, EntityType, SourceSystem, str]
"""(tenant, entity type, side of the known record, its id on that side)."""


@dataclass(frozen=True)
class Links:
    known: Mapping[LinkKey, Link]
    # Creates the engine has just asked for, by (tenant, type, target side, natural key): their
    # echo can arrive before the link of the create is projected.
    pending_creates: Mapping[LinkKey, EntitySnapshot] = field(default_factory=dict)
    # The same creates by the record they copy: (tenant, type, source side, source id).
    creates_from: Mapping[LinkKey, EntitySnapshot] = field(default_factory=dict)
    # Deleted records by (tenant, type, side of the deleted record, probe) -> the deleted record's
    # id, where a probe is its own id, its twin's id or its natural key.
    deleted: Mapping[LinkKey, str] = field(default_factory=dict)
    # The newest version decided about per record: (tenant, type, side, id) -> version.
    seen_versions: Mapping[LinkKey, int] = field(default_factory=dict)

    def of(self, tenant_id: str, entity_type: EntityType, side: SourceSystem, entity_id: str) -> Link:
        key = (tenant_id, entity_type, side, entity_id)
        link = self.known.get(key, Link(LinkState.ABSENT, None))
        seen = self.seen_versions.get(key)
        other_seen = None
        if link.target_entity_id is not None:
            other = SourceSystem.TRIPLETEX if side is SourceSystem.SVENN else SourceSystem.SVENN
            other_seen = self.seen_versions.get((tenant_id, entity_type, other, link.target_entity_id))
        if seen is None and other_seen is None:
            return link
        return replace(link, seen_version=seen, other_seen_version=other_seen)

    def pending_create(
        self, tenant_id: str, entity_type: EntityType, side: SourceSystem, keys: list[str]
    ) -> EntitySnapshot | None:
        for key in keys:
            found = self.pending_creates.get((tenant_id, entity_type, side, key))
            if found is not None:
                return found
        return None

    def create_in_flight_from(
        self, tenant_id: str, entity_type: EntityType, side: SourceSystem, entity_id: str
    ) -> EntitySnapshot | None:
        """What the engine asked the other side to create from this record, if not linked yet."""
        return self.creates_from.get((tenant_id, entity_type, side, entity_id))

    def deleted_record(
        self, tenant_id: str, entity_type: EntityType, side: SourceSystem, probes: Iterable[str | None]
    ) -> str | None:
        """The id of a record deleted on ``side`` that one of the probes names, if any."""
        for probe in probes:
            if probe is not None:
                found = self.deleted.get((tenant_id, entity_type, side, probe))
                if found is not None:
                    return found
        return None

    def seen_version(
        self, tenant_id: str, entity_type: EntityType, side: SourceSystem, entity_id: str
    ) -> int | None:
        return self.seen_versions.get((tenant_id, entity_type, side, entity_id))

    def remember(
        self,
        commands: Iterable[Command] = (),
        deleted: Deleted | None = None,
        seen: tuple[LinkKey, int] | None = None,
    ) -> Links:
        """These links plus what one decision just did, for the next change of the same batch.

        The database learns it when the batch ends; a change later in the same batch (a create
        and its delete delivered together) must already see it.
        """
        pending, by_source = dict(self.pending_creates), dict(self.creates_from)
        for c in commands:
            if c.operation is Operation.CREATE and c.payload is not None:
                for key in natural_keys(c.payload):
                    pending[(c.tenant_id, c.entity_type, c.target, key)] = c.payload
                by_source[(c.tenant_id, c.entity_type, c.source, c.source_entity_id)] = c.payload
        gone = dict(self.deleted)
        if deleted is not None:
            for probe in deleted_probes(deleted):
                gone[(deleted.tenant_id, deleted.entity_type, deleted.side, probe)] = deleted.entity_id
        # An update in flight is what its target will hold: the base of the next one (same batch).
        known = dict(self.known)
        for c in commands:
            record: LinkKey = (c.tenant_id, c.entity_type, c.source, c.source_entity_id)
            if c.operation is Operation.UPDATE and c.payload is not None and record in known:
                known[record] = replace(known[record], other_synced=c.payload)
            # ... and for the target itself what the write intent gives it once saved and loaded
            # (``projections.links.load``): a change of it later in the batch is compared with it.
            target: LinkKey = (c.tenant_id, c.entity_type, c.target, c.expected_link.target_entity_id or "")
            if c.operation is Operation.UPDATE and c.payload is not None and target in known:
                was = known[target]
                before = was.projected if was.projected is not None else was.synced
                known[target] = replace(was, synced=c.payload, projected=before)
        versions = dict(self.seen_versions)
        if seen is not None and seen[1] > versions.get(seen[0], -1):
            versions[seen[0]] = seen[1]
        return replace(
            self,
            known=known,
            pending_creates=pending,
            creates_from=by_source,
            deleted=gone,
            seen_versions=versions,
        )


def deleted_probes(deleted: Deleted) -> list[str]:
    """The probes that find a deleted record: its id, its twin's id, its natural key."""
    return [p for p in (deleted.entity_id, deleted.other_id, deleted.natural_key) if p is not None]


NO_LINKS = Links({})
