"""Drifti's webhook delivery: the shared signed dispatcher in ``services.restsim.webhook_delivery``
with ``X-Drifti-*`` headers (``X-Drifti-Signature``, ``-Timestamp``, ``-Event-Id``, …). See there
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
GIVE_UP = "drifti webhook delivery gave up tenant=%s event=%s after %d attempts"
BRAND = DeliveryBrand(
    header_prefix="X-Drifti", user_agent="Drifti-Webhooks/1.0", log=log, give_up_message=GIVE_UP
)


@dataclass
class WebhookDispatcher(SignedWebhookDispatcher):
    brand: ClassVar[DeliveryBrand] = BRAND
