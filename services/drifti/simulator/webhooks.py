"""Signed, asynchronous, retried webhook delivery — Drifti's half of ``API.md`` §8.

Same scheme as Svenn on purpose (one verifier shape in the engine): every change is POSTed
to each matching subscription from a background task, so a slow receiver never slows the
API call that caused it; the signature is ``HMAC-SHA256(secret, f"{timestamp}.{body}")``,
so a captured delivery cannot be replayed with a fresh timestamp; every attempt is
re-signed (a late retry still verifies) while ``event_id`` stays the same (receivers
deduplicate on it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from services.drifti.simulator.models import WebhookRecord

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Drifti-Signature"
TIMESTAMP_HEADER = "X-Drifti-Timestamp"
EVENT_ID_HEADER = "X-Drifti-Event-Id"
EVENT_TYPE_HEADER = "X-Drifti-Event-Type"
DELIVERY_ID_HEADER = "X-Drifti-Delivery-Id"
ATTEMPT_HEADER = "X-Drifti-Delivery-Attempt"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The value of ``X-Drifti-Signature`` for one attempt."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


@dataclass(frozen=True)
class WebhookSettings:
    """Delivery policy. Production-like defaults; tests pass tiny delays."""

    # Delay before attempt 2, 3, …: the number of attempts is len(retry_delays) + 1.
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0, 600.0)
    timeout_seconds: float = 10.0


@dataclass
class DeliveryAttempt:
    delivery_id: str
    tenant: str
    webhook_id: str
    event_id: str
    event_type: str
    url: str
    attempt: int
    started_at: str
    duration_ms: float = 0.0
    status_code: int | None = None
    error: str | None = None
    succeeded: bool = False
    final: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class WebhookDispatcher:
    """Owns the background delivery tasks and the log of every attempt."""

    settings: WebhookSettings = field(default_factory=WebhookSettings)
    client: httpx.AsyncClient | None = None
    attempts: dict[str, list[DeliveryAttempt]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _owns_client: bool = False

    def _http(self) -> httpx.AsyncClient:
        # Created lazily inside the running loop: the app may be built before a loop exists
        # (uvicorn), and ASGITransport never runs lifespan handlers.
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=self.settings.timeout_seconds)
            self._owns_client = True
        return self.client

    def enqueue(self, tenant: str, webhook: WebhookRecord, event: dict[str, Any]) -> None:
        body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
        task = asyncio.get_running_loop().create_task(self._deliver(tenant, webhook, event, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, tenant: str, webhook: WebhookRecord, event: dict[str, Any], body: bytes) -> None:
        delivery_id = f"dlv_{uuid.uuid4().hex[:16]}"
        delays = (0.0, *self.settings.retry_delays)
        for attempt_no, delay in enumerate(delays, start=1):
            if delay:
                await asyncio.sleep(delay)
            if not webhook.active:
                return  # unsubscribed (or tenant reset) while waiting: stop retrying
            record = DeliveryAttempt(
                delivery_id=delivery_id,
                tenant=tenant,
                webhook_id=webhook.id,
                event_id=event["event_id"],
                event_type=event["event_type"],
                url=webhook.url,
                attempt=attempt_no,
                started_at=datetime.now(UTC).isoformat(),
            )
            self.attempts.setdefault(tenant, []).append(record)
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Drifti-Webhooks/1.0",
                SIGNATURE_HEADER: sign(webhook.secret, timestamp, body),
                TIMESTAMP_HEADER: str(timestamp),
                EVENT_ID_HEADER: event["event_id"],
                EVENT_TYPE_HEADER: event["event_type"],
                DELIVERY_ID_HEADER: delivery_id,
                ATTEMPT_HEADER: str(attempt_no),
            }
            started = time.perf_counter()
            try:
                response = await self._http().post(
                    webhook.url, content=body, headers=headers, timeout=self.settings.timeout_seconds
                )
                record.status_code = response.status_code
                record.succeeded = 200 <= response.status_code < 300
                if not record.succeeded:
                    record.error = f"receiver answered {response.status_code}"
            except httpx.HTTPError as exc:
                record.error = f"{type(exc).__name__}: {exc}"
            record.duration_ms = round((time.perf_counter() - started) * 1000, 2)
            last = attempt_no == len(delays)
            if record.succeeded or last:
                record.final = True
                if not record.succeeded:
                    log.warning(
                        "drifti webhook delivery gave up tenant=%s event=%s after %d attempts",
                        tenant,
                        event["event_id"],
                        attempt_no,
                    )
                return

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, wait_seconds: float = 10.0) -> bool:
        """Wait until every queued delivery has finished (succeeded or given up)."""
        deadline = time.monotonic() + wait_seconds
        while self._tasks:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def forget(self, tenant: str | None = None) -> None:
        if tenant is None:
            self.attempts.clear()
        else:
            self.attempts.pop(tenant, None)

    async def aclose(self) -> None:
        self.cancel_all()
        if self._owns_client and self.client is not None:
            await self.client.aclose()
            self.client = None
