"""Structured logs: one JSON object per line, carrying tenant and trace ids when there are any.

The tenant comes from the line's own ``tenant_id`` extra, else from the work in hand
(``services.core.tenant_context``: the message a consumer handles, the webhook being received).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from services.core.tenant_context import current_tenant

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        tenant_id = current_tenant()
        if tenant_id is not None:
            entry["tenant_id"] = tenant_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class RepeatLimit(logging.Filter):
    """Lets one line of a kind through per ``window_s``, then says how many it held back.

    While Kafka is away, aiokafka logs the same "Unable connect to node" / "Unable to update
    metadata" line for every connection attempt of every client: tens of thousands of lines a
    minute that bury everything else. A kind is (logger, level, message template); only the
    Kafka clients' loggers (``prefixes``) are limited, the engine's own lines never.
    """

    def __init__(
        self,
        prefixes: tuple[str, ...] = ("aiokafka", "kafka", "faststream", "tripletex_sync.kafka"),
        window_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.window_s = window_s
        self.clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes):
            return True
        kind = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        since, held = self._seen.get(kind, (float("-inf"), 0))
        if now - since < self.window_s:
            self._seen[kind] = (since, held + 1)
            return False
        self._seen[kind] = (now, 0)
        if held:
            record.repeats_held_back = held
        return True


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RepeatLimit())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiokafka reports every group rebalance and coordinator hiccup at INFO/ERROR; keep them but quieter.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    # httpx logs every request's full URL at INFO, query included: a lookup by e-mail address or name
    # would put personal data in the logs. The engine's clients log method, path and status instead.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
