"""Verifying Drifti's webhook deliveries before trusting them.

The ingest calls ``parse_webhook`` with the *raw* request body (re-serialised JSON has other
bytes and would not verify) and the headers. ``X-Drifti-Signature: sha256=<hex>`` where the
hex is ``HMAC-SHA256(secret, f"{X-Drifti-Timestamp}.{raw body}")``: the timestamp is inside
the MAC, so a captured delivery cannot be replayed later with a fresh timestamp, and the
tolerance window bounds how old a genuine one may be. Deduplicate on ``event_id`` anyway:
Drifti delivers at least once.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping

from pydantic import SecretStr, ValidationError

from services.drifti.client.errors import DriftiSignatureError
from services.drifti.client.models import WebhookEvent

# Same scheme as Svenn's, so the HMAC itself is shared rather than written twice.
from services.svenn.client.webhooks import compute_signature

SIGNATURE_HEADER = "X-Drifti-Signature"
TIMESTAMP_HEADER = "X-Drifti-Timestamp"
EVENT_ID_HEADER = "X-Drifti-Event-Id"
DEFAULT_TOLERANCE_SECONDS = 300

__all__ = ["compute_signature", "parse_webhook", "verify_signature"]


def verify_signature(
    secret: str | SecretStr,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raise ``DriftiSignatureError`` unless the delivery is authentic and fresh.

    ``signature`` may hold several comma-separated ``sha256=`` values (one per active secret
    during a rotation); any match is enough.
    """
    if not signature or not timestamp:
        raise DriftiSignatureError("Webhook is missing its signature or timestamp header.")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise DriftiSignatureError("Webhook timestamp is not an integer.") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        raise DriftiSignatureError("Webhook timestamp is outside the tolerance window (replay?).")
    expected = compute_signature(secret, sent_at, body)
    candidates = [c.strip() for c in signature.split(",") if c.strip()]
    # compare_digest for every candidate: timing must not reveal how much of a guess matched.
    if not any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates):
        raise DriftiSignatureError("Webhook signature does not match.")


def parse_webhook(
    secret: str | SecretStr,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> WebhookEvent:
    """Verify a delivery and return it as a typed event."""
    lowered = {k.lower(): v for k, v in headers.items()}
    verify_signature(
        secret,
        body,
        lowered.get(SIGNATURE_HEADER.lower()),
        lowered.get(TIMESTAMP_HEADER.lower()),
        tolerance_seconds=tolerance_seconds,
        now=now,
    )
    try:
        return WebhookEvent.model_validate_json(body)
    except ValidationError as exc:
        raise DriftiSignatureError(
            f"Signed webhook body is not a Drifti event: {exc.error_count()} errors"
        ) from exc
