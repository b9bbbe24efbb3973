"""The ``Idempotency-Key`` header a create carries, so a retried POST creates only once.

A caller with a stable key (the engine's command id) passes it; otherwise a fresh one is
made per call, which still makes the client's own retries of that call safe.
"""

from __future__ import annotations

import uuid

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"


def idempotency_headers(key: str | None = None) -> dict[str, str]:
    return {IDEMPOTENCY_KEY_HEADER: key or str(uuid.uuid4())}
