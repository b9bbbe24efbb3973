"""Signed, asynchronous, retried webhook delivery, shared by the Svenn and Drifti simulators.

Every change is POSTed to each matching subscription in a background task, so a slow or
broken receiver never slows the API call that caused the change. The signature covers the
timestamp *and* the raw body (``services.restclient.webhook_signature``): signing the body
alone would let anyone who saw one delivery replay it forever with a fresh timestamp. Each
attempt is re-signed with its own timestamp, so a late retry is not rejected as stale; the
``event_id`` stays the same across attempts so receivers can deduplicate. A product gives
its header prefix (``X-Svenn``), User-Agent and logger through ``DeliveryBrand``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import httpx

from services.restclient.webhook_signature import compute_signature


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for one attempt."""
    return compute_signature(secret, timestamp, body)


class Subscription(Protocol):
    """What delivery needs of a webhook subscription record."""

    @property
    def id(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def secret(self) -> str: ...
    @property
    def active(self) -> bool: ...


@dataclass(frozen=True)
class DeliveryBrand:
    """How one product's deliveries introduce themselves: headers, User-Agent, log lines."""

    header_prefix: str  # "X-Svenn" -> X-Svenn-Signature, X-Svenn-Timestamp, …
    user_agent: str
    log: logging.Logger
    give_up_message: str = "webhook delivery gave up tenant=%s event=%s after %d attempts"

    def header(self, name: str) -> str:
        return f"{self.header_prefix}-{name}"


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
class SignedWebhookDispatcher:
    """Owns the background delivery tasks and the log of every attempt.

    Subclasses set ``brand``; everything else is the same for every product.
    """

    brand: ClassVar[DeliveryBrand]

    settings: WebhookSettings = field(default_factory=WebhookSettings)
    client: httpx.AsyncClient | None = None
    attempts: dict[str, list[DeliveryAttempt]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _owns_client: bool = False

    def _http(self) -> httpx.AsyncClient:
        # Created lazily inside the running loop: the app may be built before any loop exists
        # (uvicorn) and ASGITransport never runs lifespan handlers.
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=self.settings.timeout_seconds)
            self._owns_client = True
        return self.client

    def enqueue(self, tenant: str, webhook: Subscription, event: dict[str, Any]) -> None:
        body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
        task = asyncio.get_running_loop().create_task(self._deliver(tenant, webhook, event, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, tenant: str, webhook: Subscription, event: dict[str, Any], body: bytes) -> None:
        brand = self.brand
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
                "User-Agent": brand.user_agent,
                brand.header("Signature"): sign(webhook.secret, timestamp, body),
                brand.header("Timestamp"): str(timestamp),
                brand.header("Event-Id"): event["event_id"],
                brand.header("Event-Type"): event["event_type"],
                brand.header("Delivery-Id"): delivery_id,
                brand.header("Delivery-Attempt"): str(attempt_no),
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
                    brand.log.warning(brand.give_up_message, tenant, event["event_id"], attempt_no)
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
