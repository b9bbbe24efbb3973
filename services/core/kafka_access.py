"""What each role (and the operator's CLI) does on Kafka: the source of the KafkaUsers' ACLs.

What a role **reads** and under which **consumer groups** is not written down here: it is
derived from the FastStream broker the role's ``Runtime`` builds (``role_access``), so it is what
the code subscribes to. Each group's dead-letter topic is written by that role. What a role
**publishes** through the engine's producer is declared in ``PUBLISHES`` (one line per place that
publishes); ``tests/unit/test_kafka_access.py`` reads every publish call in the code and fails
when one names a topic its role does not declare. ``deploy/k8s/check.py`` then requires each
role's ``KafkaUser`` to grant exactly ``role_access`` (with ``TOPIC_PREFIX``), no more, no less.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.envelope import SourceSystem
from contracts.topics import (
    CHANGE_TOPICS,
    COMMAND_TOPICS,
    CONSUMERS,
    SYNC_DECISIONS,
    SYNC_OUTCOMES,
    dead_letter_topic,
    topic_specs,
)
from services.core.settings import Settings

OPERATOR = "operator"
"""The CLI run by an operator (``tsync resync``, ``dlq``, ``tenants resume``, ``projections rebuild``, …)."""

_CHANGES = frozenset(CHANGE_TOPICS.values())
_COMMANDS = frozenset(COMMAND_TOPICS.values())

PUBLISHES: dict[str, frozenset[str]] = {
    # webhooks, the ingest API and catch-up publish changes; Drifti's hours export its decisions;
    # the Tripletex subscription check a side status (webhooks off / on again, services/tripletex/catch_up.py)
    "ingest": _CHANGES | {SYNC_DECISIONS, SYNC_OUTCOMES},
    # decision records and the commands for both writers (services/decision/consumer.py)
    "decision": _COMMANDS | {SYNC_DECISIONS},
    # each command's outcome (services/core/writer.py), a paused tenant's `skipped` too, a side's
    # outage (services/tenants/outages.py); once the side answers, the commands parked for it go
    # back to the writer's own command topic
    "tripletex-writer": frozenset({SYNC_OUTCOMES, COMMAND_TOPICS[SourceSystem.TRIPLETEX]}),
    "svenn-writer": frozenset({SYNC_OUTCOMES, COMMAND_TOPICS[SourceSystem.SVENN]}),
    # the panel's retry publishes the record again as a fresh change (services/panel/retry.py)
    "projections": _CHANGES,
    # resync, initial sync (changes), tenants resume (parked commands), links restore and the hours
    # export (decisions), dlq replay (back to the topic a dead letter came from: any consumed topic),
    # tenants offboard (tombstones on the compacted outcome and decision topics)
    OPERATOR: _CHANGES | _COMMANDS | {SYNC_DECISIONS, SYNC_OUTCOMES},
}


@dataclass(frozen=True)
class KafkaAccess:
    """Unprefixed topic names and consumer names."""

    reads: frozenset[str]
    groups: frozenset[str]
    writes: frozenset[str]


def offline_settings(**changes: Any) -> Settings:
    """Settings to build a ``Runtime`` with (nothing connects), whatever the environment says."""
    offline: dict[str, Any] = {
        "topic_prefix": "",
        "catch_up": False,
        "tenants_file": None,
        "tenant_secret_keys": None,
        "kafka_security_protocol": "PLAINTEXT",
        "kafka_sasl_username": None,
        "kafka_sasl_password": None,
        "kafka_ssl_ca_file": None,
        "kafka_ssl_cert_file": None,
        "kafka_ssl_key_file": None,
    }
    return Settings(**{**offline, **changes})


def role_access(role: str) -> KafkaAccess:
    """What ``role`` reads (from its subscribers), its groups, and what it writes (PUBLISHES + DLQs)."""
    if role == OPERATOR:
        # Replays, rebuilds and `dlq list` read any topic outside every group (assigned partitions).
        every = frozenset(spec.name for spec in topic_specs(1))
        dead_letters = frozenset(dead_letter_topic(c) for c in CONSUMERS)
        return KafkaAccess(reads=every, groups=frozenset(), writes=PUBLISHES[OPERATOR] - dead_letters)
    from services.core.tenants import StaticTenantDirectory
    from services.runtime import Role, Runtime

    runtime = Runtime(offline_settings(), [Role(role)], tenants=StaticTenantDirectory())
    groups = runtime.consumer_topics()
    return KafkaAccess(
        reads=frozenset(t for topics in groups.values() for t in topics),
        groups=frozenset(groups),
        writes=PUBLISHES[role] | {dead_letter_topic(g) for g in groups},
    )
