"""Svenn's webhook delivery: the shared signed dispatcher in ``services.restsim.webhook_delivery``
with ``X-Svenn-*`` headers (``X-Svenn-Signature``, ``-Timestamp``, ``-Event-Id``, …). See there
for the signing and retry scheme.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from services.restsim.webhook_delivery import DeliveryAttempt as DeliveryAttempt
from services.restsim.webhook_delivery import DeliveryBrand, SignedWebhookDispatcher
from services.restsim.webhook_delivery import WebhookSettings as WebhookSettings
from services.restsim.webhook_delivery import sign as sign

log = logging.getLogger(__name__)
BRAND = DeliveryBrand(header_prefix="X-Svenn", user_agent="Svenn-Webhooks/1.0", log=log)


@dataclass
class WebhookDispatcher(SignedWebhookDispatcher):
    brand: ClassVar[DeliveryBrand] = BRAND
