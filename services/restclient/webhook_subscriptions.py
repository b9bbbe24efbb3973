"""Managing webhook subscriptions (``/api/v1/webhooks``) the same way for Svenn and Drifti.

Creating one is deliberately not retried on failure: the endpoint takes no idempotency key,
so a blind retry could register the same URL twice.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from services.restclient.requester import Requester

S = TypeVar("S", bound=BaseModel)


class WebhookSubscriptionsAPI(Generic[S]):
    """Subclasses set ``model`` to the product's ``WebhookSubscription``."""

    path = "/api/v1/webhooks"
    model: ClassVar[type[Any]]

    def __init__(self, requester: Requester) -> None:
        self._r = requester

    async def create(
        self,
        url: str,
        *,
        secret: str | None = None,
        event_types: list[str] | None = None,
        description: str | None = None,
    ) -> S:
        body: dict[str, Any] = {"url": url}
        if secret is not None:
            body["secret"] = secret
        if event_types is not None:
            body["event_types"] = event_types
        if description is not None:
            body["description"] = description
        # No idempotency key on this endpoint: a blind retry could register the URL twice.
        response = await self._r.request("POST", self.path, json=body, retry_safe=False)
        subscription: S = self.model.model_validate(response.json())
        return subscription

    async def list(self) -> list[S]:
        response = await self._r.request("GET", self.path)
        return [self.model.model_validate(w) for w in response.json()["data"]]

    async def delete(self, webhook_id: str) -> None:
        await self._r.request("DELETE", f"{self.path}/{webhook_id}")
