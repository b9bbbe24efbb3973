"""While Kafka is away its clients' repeated lines are held back, the engine's own never (faults #16)."""

from __future__ import annotations

import logging

from services.core.logs import RepeatLimit


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record)


def test_a_kafka_client_line_repeated_thousands_of_times_is_one_line_per_window() -> None:
    now = [0.0]
    handler = _Collect()
    handler.addFilter(RepeatLimit(window_s=30.0, clock=lambda: now[0]))
    conn = logging.getLogger("aiokafka.conn.repeat-test")
    conn.propagate = False
    conn.addHandler(handler)
    own = logging.getLogger("services.svenn.ingest.repeat-test")
    own.propagate = False
    own.addHandler(handler)
    for attempt in range(20_000):
        now[0] = attempt * 0.001  # 20 s of reconnect attempts
        conn.error("Unable connect to node with id %s: %s", 1, "refused")
        if attempt % 1000 == 0:
            own.warning("could not publish a Svenn change")
    conn.error("Unable to update metadata from [%s]", 1)  # another kind passes at once
    now[0] = 31.0
    conn.error("Unable connect to node with id %s: %s", 1, "refused")

    kafka_lines = [r for r in handler.lines if r.name.startswith("aiokafka")]
    assert [r.getMessage() for r in kafka_lines] == [
        "Unable connect to node with id 1: refused",
        "Unable to update metadata from [1]",
        "Unable connect to node with id 1: refused",
    ]
    assert kafka_lines[-1].repeats_held_back == 19_999  # type: ignore[attr-defined]
    assert len([r for r in handler.lines if r.name.startswith("services.")]) == 20  # never limited
