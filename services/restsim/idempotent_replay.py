"""``Idempotency-Key`` handling for simulated creates: replay the first answer, refuse reuse.

A client that retries a create after a lost response must get the original answer, not a
second record; the same key with a different body is a client bug and gets a 422. Shared by
the Svenn and Drifti simulators; each tenant keeps its own reply cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse

from services.restsim.error_envelope import ApiError

REUSED_MESSAGE = "This Idempotency-Key was used before with a different request body."


@dataclass
class IdempotentReply:
    fingerprint: str
    status: int
    body: Any
    headers: dict[str, str]


def replay_or_produce(
    cache: MutableMapping[str, IdempotentReply],
    key: str | None,
    scope: str,
    body: Any,
    produce: Callable[[], JSONResponse],
    *,
    reused_message: str = REUSED_MESSAGE,
) -> JSONResponse:
    """``produce()`` once per (scope, key); later calls with the same body replay its reply."""
    if key is None:
        return produce()
    fingerprint = hashlib.sha256(
        (scope + json.dumps(body.model_dump(mode="json"), sort_keys=True)).encode()
    ).hexdigest()
    cache_key = f"{scope}|{key}"
    seen = cache.get(cache_key)
    if seen is not None:
        if seen.fingerprint != fingerprint:
            raise ApiError(422, "IDEMPOTENCY_KEY_REUSED", reused_message)
        headers = {**seen.headers, "Idempotent-Replayed": "true"}
        return JSONResponse(seen.body, status_code=seen.status, headers=headers)
    response = produce()
    cache[cache_key] = IdempotentReply(
        fingerprint=fingerprint,
        status=response.status_code,
        body=json.loads(bytes(response.body)),
        headers={k: v for k, v in response.headers.items() if k.lower() in {"etag", "location"}},
    )
    return response
