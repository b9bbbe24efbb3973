"""Outgoing webhooks, delivered the way Tripletex's event subscriptions do (REFERENCE §5.9).

On a change Tripletex POSTs `{subscriptionId, event, id, value}` (value filtered by the
subscription's `fields`, null for `*.delete`) to the subscription's `targetUrl`. With a
`hmacSharedSecret` it adds `x-request-signature = base64(HmacSHA512(idempotency-key + '&' +
body))`; the `idempotency-key` header is the same on every retry of one delivery, so the
receiver can deduplicate. `authHeaderName`/`authHeaderValue` become one more header.

Tripletex documents no retry schedule, timeout or disable threshold. Assumptions here:
retry after each delay in `WebhookConfig.retry_delays` (so attempts = len + 1), a non-2xx
answer or a transport error counts as a failure, and after `disable_after_failures`
deliveries in a row that failed every attempt the subscription becomes
`DISABLED_TOO_MANY_ERRORS`. Delays are small by default so tests stay fast.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

SIGNATURE_HEADER = "x-request-signature"
IDEMPOTENCY_HEADER = "idempotency-key"


def signature(secret: str, idempotency_key: str, body: bytes) -> str:
    """The value of `x-request-signature` for one delivery."""
    mac = hmac.new(secret.encode(), idempotency_key.encode() + b"&" + body, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class WebhookConfig:
    retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2)
    timeout_seconds: float = 5.0
    disable_after_failures: int = 10
    client_factory: Callable[[], httpx.AsyncClient] | None = None
    """Builds the HTTP client used for delivery; tests can inject an ASGI transport."""


@dataclass
class Delivery:
    """One webhook (all its attempts), as `/_sim/webhooks` reports it."""

    delivery_id: str
    company_id: int
    subscription_id: int
    event: str
    object_id: int
    target_url: str
    body: bytes
    headers: dict[str, str]
    status: str = "PENDING"
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "deliveryId": self.delivery_id,
            "companyId": self.company_id,
            "subscriptionId": self.subscription_id,
            "event": self.event,
            "id": self.object_id,
            "targetUrl": self.target_url,
            "status": self.status,
            "attempts": self.attempts,
            "payload": json.loads(self.body),
        }


class WebhookDispatcher:
    """Schedules deliveries as background tasks on the running loop and records outcomes."""

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self.deliveries.clear()

    def dispatch(
        self, company_id: int, subscription: dict[str, Any], event: str, object_id: int, value: Any
    ) -> Delivery:
        """Queue one POST to `subscription['targetUrl']` and return its record."""
        body = json.dumps(
            {"subscriptionId": subscription["id"], "event": event, "id": object_id, "value": value},
            ensure_ascii=False,
        ).encode()
        key = str(uuid.uuid4())
        headers = {"content-type": "application/json", IDEMPOTENCY_HEADER: key}
        secret = subscription.get("hmacSharedSecret")
        if secret:
            headers[SIGNATURE_HEADER] = signature(secret, key, body)
        if subscription.get("authHeaderName") and subscription.get("authHeaderValue"):
            headers[subscription["authHeaderName"]] = subscription["authHeaderValue"]
        delivery = Delivery(
            delivery_id=key,
            company_id=company_id,
            subscription_id=subscription["id"],
            event=event,
            object_id=object_id,
            target_url=subscription["targetUrl"],
            body=body,
            headers=headers,
        )
        self.deliveries.append(delivery)
        task = asyncio.get_running_loop().create_task(self._deliver(delivery, subscription))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return delivery

    async def drain(self) -> None:
        """Wait until every queued delivery has finished (tests and `/_sim` use this);
        bounded because each delivery has bounded attempts, each with a timeout."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _client(self) -> httpx.AsyncClient:
        if self.config.client_factory is not None:
            return self.config.client_factory()
        return httpx.AsyncClient(timeout=self.config.timeout_seconds)

    async def _deliver(self, delivery: Delivery, subscription: dict[str, Any]) -> None:
        delays = (*self.config.retry_delays, None)
        async with self._client() as client:
            for delay in delays:
                ok = await self._attempt(client, delivery)
                if ok:
                    delivery.status = "DELIVERED"
                    subscription["_consecutiveFailures"] = 0
                    return
                if delay is None:
                    break
                await asyncio.sleep(delay)
        delivery.status = "FAILED"
        failures = int(subscription.get("_consecutiveFailures", 0)) + 1
        subscription["_consecutiveFailures"] = failures
        if failures >= self.config.disable_after_failures and subscription.get("status") == "ACTIVE":
            subscription["status"] = "DISABLED_TOO_MANY_ERRORS"

    async def _attempt(self, client: httpx.AsyncClient, delivery: Delivery) -> bool:
        try:
            response = await client.post(
                delivery.target_url,
                content=delivery.body,
                headers=delivery.headers,
                timeout=self.config.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            delivery.attempts.append({"error": f"{type(exc).__name__}: {exc}"})
            return False
        delivery.attempts.append({"status": response.status_code})
        return 200 <= response.status_code < 300
