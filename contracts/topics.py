"""Topic names, record keys and partitioning, defined once.

Every message about one record of one tenant carries the same key, so Kafka keeps them in
order on one partition. A deployment-wide prefix (``TOPIC_PREFIX``) lets several
environments, or several test runs, share one cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.envelope import EntityType, SourceSystem

SVENN_CHANGES = "svenn.changes.v1"
TRIPLETEX_CHANGES = "tripletex.changes.v1"
DRIFTI_CHANGES = "drifti.changes.v1"
TRIPLETEX_COMMANDS = "tripletex.commands.v1"
SVENN_COMMANDS = "svenn.commands.v1"
SYNC_OUTCOMES = "sync.outcomes.v1"
SYNC_DECISIONS = "sync.decisions.v1"

CHANGE_TOPICS: dict[SourceSystem, str] = {
    SourceSystem.SVENN: SVENN_CHANGES,
    SourceSystem.TRIPLETEX: TRIPLETEX_CHANGES,
    SourceSystem.DRIFTI: DRIFTI_CHANGES,
}
COMMAND_TOPICS: dict[SourceSystem, str] = {
    SourceSystem.TRIPLETEX: TRIPLETEX_COMMANDS,
    SourceSystem.SVENN: SVENN_COMMANDS,
}

# Consumer groups; each has a dead-letter topic of its own.
DECISION_CONSUMER = "sync-decision"
TRIPLETEX_WRITER_CONSUMER = "tripletex-writer"
SVENN_WRITER_CONSUMER = "svenn-writer"
PROJECTIONS_CONSUMER = "projections"
CONSUMERS = (DECISION_CONSUMER, TRIPLETEX_WRITER_CONSUMER, SVENN_WRITER_CONSUMER, PROJECTIONS_CONSUMER)


def dead_letter_topic(consumer: str) -> str:
    return f"dlq.{consumer}.v1"


def record_key(tenant_id: str, entity_type: EntityType | str, entity_id: str) -> bytes:
    """All messages about one record of one tenant share this key, hence a partition and an order."""
    return f"{tenant_id}|{entity_type}|{entity_id}".encode()


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int


_WEEK_MS = 7 * 24 * 3600 * 1000


def topic_specs(partitions: int) -> list[TopicSpec]:
    """Every topic the engine needs. Change topics are the source of truth for replays: keep them longest."""
    specs = [TopicSpec(name, partitions, -1) for name in CHANGE_TOPICS.values()]
    specs += [TopicSpec(name, partitions, 4 * _WEEK_MS) for name in COMMAND_TOPICS.values()]
    specs.append(TopicSpec(SYNC_OUTCOMES, partitions, -1))
    specs.append(TopicSpec(SYNC_DECISIONS, partitions, -1))
    specs += [TopicSpec(dead_letter_topic(c), 1, 4 * _WEEK_MS) for c in CONSUMERS]
    return specs
