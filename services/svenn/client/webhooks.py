"""Verifying Svenn's webhook deliveries before trusting them.

The ingest service calls ``parse_webhook`` with the *raw* request body (re-serialising the
JSON would change the bytes and break the signature) and the headers. The scheme
(``services/svenn/API.md`` §Webhooks): ``X-Svenn-Signature: sha256=<hex>`` where the hex is
``HMAC-SHA256(secret, f"{X-Svenn-Timestamp}.{raw body}")``. Because the timestamp is inside
the MAC, a captured delivery cannot be replayed later with a fresh timestamp; the
tolerance window bounds how old a genuine one may be. Deduplicate on ``event_id`` anyway:
Svenn delivers at least once.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from pydantic import SecretStr, ValidationError

from services.svenn.client.errors import SvennSignatureError
from services.svenn.client.models import WebhookEvent

SIGNATURE_HEADER = "X-Svenn-Signature"
TIMESTAMP_HEADER = "X-Svenn-Timestamp"
EVENT_ID_HEADER = "X-Svenn-Event-Id"
DEFAULT_TOLERANCE_SECONDS = 300


def compute_signature(secret: str | SecretStr, timestamp: int | str, body: bytes) -> str:
    """The expected header value; exposed so tests and tools can sign like Svenn does."""
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    mac = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str | SecretStr,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raise ``SvennSignatureError`` unless the delivery is authentic and fresh.

    ``signature`` may hold several comma-separated ``sha256=`` values (Svenn sends one per
    active secret while a secret is being rotated); any match is enough.
    """
    if not signature or not timestamp:
        raise SvennSignatureError("Webhook is missing its signature or timestamp header.")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SvennSignatureError("Webhook timestamp is not an integer.") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        raise SvennSignatureError("Webhook timestamp is outside the tolerance window (replay?).")
    expected = compute_signature(secret, sent_at, body)
    candidates = [c.strip() for c in signature.split(",") if c.strip()]
    # compare_digest for every candidate: timing must not reveal how much of a guess matched.
    if not any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates):
        raise SvennSignatureError("Webhook signature does not match.")


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
        raise SvennSignatureError(
            f"Signed webhook body is not a Svenn event: {exc.error_count()} errors"
        ) from exc
