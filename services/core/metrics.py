"""Prometheus metrics of the engine, defined once; every role serves them on ``GET /metrics``.

Labels are bounded sets (topic, consumer, rule id, verdict, status, side): never a tenant or
record id, which would make a series per customer.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONSUMED = Counter(
    "tsync_messages_consumed_total", "Messages read by a consumer, per topic.", ["consumer", "topic"]
)
PUBLISHED = Counter("tsync_messages_published_total", "Messages published, per topic.", ["topic"])
DEAD_LETTERED = Counter(
    "tsync_dead_letters_total", "Messages sent to a dead-letter topic.", ["consumer", "stage"]
)
BATCH_SECONDS = Histogram(
    "tsync_batch_seconds",
    "Time to handle one batch, commit excluded.",
    ["consumer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCHES_RETRIED = Counter(
    "tsync_batches_retried_total", "Batches left uncommitted to be read again (an outage).", ["consumer"]
)
DECISIONS = Counter("tsync_decisions_total", "Decisions, per rule and verdict.", ["rule_id", "verdict"])
WRITES = Counter(
    "tsync_writes_total",
    "Writer outcomes, per side, operation and status.",
    ["target", "operation", "status"],
)
CONSUMER_LAG = Gauge(
    "tsync_consumer_lag_messages",
    "Messages not yet committed by a consumer group, per topic.",
    ["consumer", "topic"],
)
RATE_LIMIT_REMAINING = Gauge(
    "tsync_rate_limit_remaining", "Requests left in the current rate-limit window of a side's API.", ["side"]
)
OPEN_ERRORS = Gauge(
    "tsync_error_log_open_entries",
    "Error-log entries not yet resolved, per error code (counted from PostgreSQL at scrape).",
    ["error_code"],
)
SUBSCRIPTIONS_REENABLED = Counter(
    "tsync_tripletex_subscriptions_reenabled_total",
    "Tripletex webhook subscriptions found disabled and switched on again, per event and the status found.",
    ["event", "status"],
)
SUBSCRIPTIONS_DISABLED = Gauge(
    "tsync_tripletex_subscriptions_disabled",
    "Tripletex webhook subscriptions not active after the ingest's check (disabled, or MISSING), per event.",
    ["event", "status"],
)
SIDES_UNREACHABLE = Gauge(
    "tsync_sides_unreachable",
    "Tenants whose side does not answer the writers (their commands parked), per side; measured from "
    "PostgreSQL by every writer process (use max, not sum, over processes).",
    ["side"],
)
