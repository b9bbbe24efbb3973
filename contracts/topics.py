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


# Retention (README, Security: Personal data). Change and command topics carry snapshots (names,
# e-mail addresses, phone numbers, addresses) and nothing replays them after the fact: a lost
# projection is rebuilt from the outcome and decision topics, drift between the sides is found by
# ``tsync resync``, which reads both sides afresh. They keep two weeks: time to notice an incident
# and replay a dead letter, never longer. Kafka deletes a segment once its newest record is older
# than the retention, and a segment is closed after ``SEGMENT_MS``: nothing stays past
# retention + one day.
_DAY_MS = 24 * 3600 * 1000
CHANGE_RETENTION_MS = 14 * _DAY_MS
COMMAND_RETENTION_MS = 14 * _DAY_MS
DEAD_LETTER_RETENTION_MS = 28 * _DAY_MS
SEGMENT_MS = _DAY_MS
# Outcome and decision topics are what ``projections rebuild`` re-derives the read models from, so
# they keep every message, compacted: each message has a key of its own (``message_key``), so
# compaction removes only a message whose key got a tombstone (``tsync tenants offboard``) and
# duplicates of one message. ``max.compaction.lag.ms`` bounds how long a tombstoned message may
# still be read; a tombstone itself is dropped ``TOMBSTONE_RETENTION_MS`` after compaction.
MAX_COMPACTION_LAG_MS = 7 * _DAY_MS
TOMBSTONE_RETENTION_MS = _DAY_MS
PER_MESSAGE_KEYS = frozenset({SYNC_OUTCOMES, SYNC_DECISIONS})


def message_key(key: bytes, message_id: object) -> bytes:
    """The key of a message on a compacted topic: its record's key plus its own id.

    The partition is still chosen by the record's key (``services.core.publisher``), so a
    record's messages keep their order; keys still begin with ``tenant|``.
    """
    return key + b"|#" + str(message_id).encode()


def record_key_of(key: bytes | None) -> bytes | None:
    """The record's key in a message's key: ``message_key``'s suffix (``|#`` and a UUID) removed."""
    if key is not None and len(key) > 38 and key[-38:-36] == b"|#":
        return key[:-38]
    return key


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    cleanup_policy: str = "delete"

    def configs(self) -> dict[str, str]:
        """The topic-level configuration, as ``ensure_topics`` and the ``KafkaTopic`` manifests set it."""
        if self.cleanup_policy == "compact":
            return {
                "cleanup.policy": "compact",
                "retention.ms": str(self.retention_ms),
                "segment.ms": str(SEGMENT_MS),
                "max.compaction.lag.ms": str(MAX_COMPACTION_LAG_MS),
                "delete.retention.ms": str(TOMBSTONE_RETENTION_MS),
            }
        return {
            "cleanup.policy": "delete",
            "retention.ms": str(self.retention_ms),
            "segment.ms": str(SEGMENT_MS),
        }


def topic_specs(partitions: int) -> list[TopicSpec]:
    """Every topic the engine needs, with its retention (see above)."""
    specs = [TopicSpec(name, partitions, CHANGE_RETENTION_MS) for name in CHANGE_TOPICS.values()]
    specs += [TopicSpec(name, partitions, COMMAND_RETENTION_MS) for name in COMMAND_TOPICS.values()]
    specs.append(TopicSpec(SYNC_OUTCOMES, partitions, -1, "compact"))
    specs.append(TopicSpec(SYNC_DECISIONS, partitions, -1, "compact"))
    specs += [TopicSpec(dead_letter_topic(c), 1, DEAD_LETTER_RETENTION_MS) for c in CONSUMERS]
    return specs
