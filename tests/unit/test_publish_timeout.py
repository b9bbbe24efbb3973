"""While Kafka is away a request that publishes answers 503 within a second (faults #16).

Kafka itself cannot be taken away from under the shared test broker, so the producer here hangs
as aiokafka's does when no broker answers (its send waits for metadata, its future for a leader).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from contracts.envelope import EntityType
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, TenantConfig, TripletexAccess
from services.tripletex.ingest import expected_signature, tripletex_webhook_routes

SECRET = "tripletex-webhook-secret-for-the-timeout-test"


class _BrokerAway:
    """An aiokafka producer with no broker to talk to: every send waits, and waits."""

    async def send(self, *_: Any, **__: Any) -> asyncio.Future[Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def _publisher_without_kafka(timeout_s: float) -> Publisher:
    publisher = Publisher(Settings(publish_timeout_s=timeout_s))
    publisher._producer = _BrokerAway()  # type: ignore[assignment]
    return publisher


async def _no_fetch(tenant_id: str, entity_type: EntityType, record_id: int) -> None:
    raise AssertionError("a delete needs no fetch")


async def test_a_webhook_answers_503_within_a_second_while_kafka_is_away() -> None:
    tenants = StaticTenantDirectory(
        [
            TenantConfig(
                tenant_id="acme",
                tripletex=TripletexAccess(
                    base_url="https://tripletex.example/v2",
                    consumer_token=SecretStr("c"),
                    employee_token=SecretStr("e"),
                    webhook_secret=SecretStr(SECRET),
                ),
            )
        ]
    )
    app = FastAPI()
    app.include_router(tripletex_webhook_routes(_publisher_without_kafka(1.0), tenants, _no_fetch))
    body = json.dumps({"subscriptionId": 1, "event": "customer.delete", "id": 7, "value": None}).encode()
    headers = {
        "idempotency-key": "delivery-1",
        "x-request-signature": expected_signature(SECRET, "delivery-1", body),
        "content-type": "application/json",
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        started = time.monotonic()
        response = await client.post("/webhooks/tripletex/acme", content=body, headers=headers)
        took = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "UNAVAILABLE"
    assert took < 1.5  # the publish timeout (1 s), not aiokafka's request timeout (40 s)


async def test_store_gives_up_after_the_publish_timeout() -> None:
    from contracts.envelope import ChangeEvent, ChangeKind, SourceSystem

    event = ChangeEvent.model_validate(
        {
            "tenant_id": "acme",
            "correlation_id": "6f1c2d3e-0000-4000-8000-000000000001",
            "event_id": "6f1c2d3e-0000-4000-8000-000000000001",
            "source": SourceSystem.SVENN,
            "entity_type": EntityType.CUSTOMER,
            "entity_id": "c-1",
            "change_kind": ChangeKind.DELETED,
            "occurred_at": "2026-12-07T12:00:00Z",
        }
    )
    started = time.monotonic()
    try:
        await _publisher_without_kafka(0.2).store("svenn.changes.v1", b"acme|customer|c-1", event)
    except TimeoutError:
        pass
    else:
        raise AssertionError("store returned while Kafka was away")
    assert time.monotonic() - started < 0.6
