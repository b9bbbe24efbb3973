"""Kafka header names. Trace context uses the W3C names (``traceparent``/``tracestate``)."""

MESSAGE_ID = "tsync-message-id"
MESSAGE_TYPE = "tsync-message-type"
TENANT = "tsync-tenant"

# Set on a dead letter: where the original came from and why it failed.
DLQ_REASON = "tsync-dlq-reason"
DLQ_EXCEPTION = "tsync-dlq-exception"
DLQ_STAGE = "tsync-dlq-stage"
DLQ_CONSUMER = "tsync-dlq-consumer"
DLQ_SOURCE_TOPIC = "tsync-dlq-source-topic"
DLQ_SOURCE_PARTITION = "tsync-dlq-source-partition"
DLQ_SOURCE_OFFSET = "tsync-dlq-source-offset"
DLQ_FAILED_AT = "tsync-dlq-failed-at"
