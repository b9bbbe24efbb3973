"""Verifying Drifti's webhook deliveries before trusting them.

The ingest calls ``parse_webhook`` with the *raw* request body (re-serialised JSON has other
bytes and would not verify) and the headers. ``X-Drifti-Signature: sha256=<hex>`` where the hex
is ``HMAC-SHA256(secret, f"{X-Drifti-Timestamp}.{raw body}")`` — the shared scheme in
``services.restclient.webhook_signature``; this module adds Drifti's header names, error type
and event model. Deduplicate on ``event_id`` anyway: Drifti delivers at least once.
"""

from __future__ import annotations

from services.drifti.client.errors import DriftiSignatureError
from services.drifti.client.models import WebhookEvent
from services.restclient.webhook_signature import DEFAULT_TOLERANCE_SECONDS as DEFAULT_TOLERANCE_SECONDS
from services.restclient.webhook_signature import SignatureHeaders, WebhookVerifier
from services.restclient.webhook_signature import compute_signature as compute_signature

HEADERS = SignatureHeaders.with_prefix("X-Drifti")
SIGNATURE_HEADER, TIMESTAMP_HEADER = HEADERS.signature, HEADERS.timestamp
EVENT_ID_HEADER = "X-Drifti-Event-Id"
VERIFIER = WebhookVerifier("Drifti", HEADERS, DriftiSignatureError, WebhookEvent)
# ``verify_signature`` raises ``DriftiSignatureError`` unless a delivery is authentic and fresh;
# ``signature_problem`` says why one is not (``None``: it is), for a receiver that answers every
# refusal alike; ``parse_webhook`` verifies one and returns it as a typed ``WebhookEvent``.
verify_signature = VERIFIER.verify_signature
signature_problem = VERIFIER.signature_problem
parse_webhook = VERIFIER.parse_webhook
