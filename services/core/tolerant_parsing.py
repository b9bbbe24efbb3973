"""FastStream's parsing of a consumed batch, made unable to fail on what a message carries.

FastStream parses each batch before any handler runs: it decodes every header value as UTF-8
and, unless told otherwise, tries the body as JSON or text according to a ``content-type``
header. Whatever fails there fails the whole batch, which is read again, forever: one message
with a header that is not UTF-8 (or a ``content-type: text/plain`` header on bytes that are
not text, or JSON nested deeper than Python's recursion limit) stopped its partition for every
tenant on it (found by fuzzing, issue 10). The consumers decode their messages themselves, one by
one, from the raw records (``BatchConsumer``), and dead-letter what they cannot read; so:

* ``readable_headers`` hands FastStream records whose header values it can decode (a value that
  is not UTF-8 is replaced as ``errors="replace"`` would, a null value becomes empty); the
  records' keys, values, offsets and valid headers are untouched;
* ``raw_records`` is the decoder: the batch's records as they are, nothing parsed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka.structs import ConsumerRecord


def _readable(record: ConsumerRecord) -> ConsumerRecord:
    headers = record.headers or ()
    fixed = []
    changed = False
    for name, value in headers:
        try:
            (value or b"").decode()
        except UnicodeDecodeError:
            value, changed = value.decode("utf-8", "replace").encode(), True
        if value is None:
            value, changed = b"", True
        fixed.append((name, value))
    return dataclasses.replace(record, headers=tuple(fixed)) if changed else record


async def readable_headers(records: Sequence[ConsumerRecord], original: Callable[..., Awaitable[Any]]) -> Any:
    """FastStream's own batch parser, on records whose header values decode as UTF-8."""
    return await original(tuple(_readable(r) for r in records))


async def raw_records(message: Any) -> Any:
    """The decoded body of a batch: its records, unparsed (each consumer validates its own)."""
    return message.raw_message
