"""HMAC webhook signatures: computing and verifying ``sha256=<hex>`` over ``timestamp.body``.

Svenn and Drifti sign deliveries the same way (``HMAC-SHA256(secret, f"{timestamp}.{body}")``),
so the simulators sign and the clients verify with this one implementation; a product
supplies only its header names and its error type. The timestamp is inside the MAC, so a
captured delivery cannot be replayed later with a fresh timestamp, and the tolerance window
bounds how old a genuine one may be.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

DEFAULT_TOLERANCE_SECONDS = 300

E = TypeVar("E", bound=BaseModel)


def compute_signature(secret: str | SecretStr, timestamp: int | str, body: bytes) -> str:
    """The expected signature header value; exposed so tests and tools can sign like the API."""
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    mac = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signature_problem(
    secret: str | SecretStr,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> str | None:
    """Why the delivery is not authentic and fresh, or ``None`` when it is.

    ``signature`` may hold several comma-separated ``sha256=`` values (one per active secret
    while a secret is being rotated); any match is enough. Compared as bytes, so any header
    value (non-ASCII too) is just a mismatch.
    """
    if not signature or not timestamp:
        return "Webhook is missing its signature or timestamp header."
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "Webhook timestamp is not an integer."
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        return "Webhook timestamp is outside the tolerance window (replay?)."
    expected = compute_signature(secret, sent_at, body).encode()
    candidates = [c.strip().encode("utf-8", "surrogateescape") for c in signature.split(",") if c.strip()]
    # compare_digest for every candidate: timing must not reveal how much of a guess matched.
    if not any([hmac.compare_digest(expected, c) for c in candidates]):
        return "Webhook signature does not match."
    return None


def verify_signature(
    secret: str | SecretStr,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    error: Callable[[str], Exception],
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raise ``error(message)`` unless the delivery is authentic and fresh (see ``signature_problem``)."""
    problem = signature_problem(
        secret, body, signature, timestamp, tolerance_seconds=tolerance_seconds, now=now
    )
    if problem is not None:
        raise error(problem)


@dataclass(frozen=True)
class SignatureHeaders:
    """Where a product puts the signature and its timestamp (``X-Svenn-*``, ``X-Drifti-*``)."""

    signature: str
    timestamp: str

    @classmethod
    def with_prefix(cls, prefix: str) -> SignatureHeaders:
        return cls(signature=f"{prefix}-Signature", timestamp=f"{prefix}-Timestamp")

    def read(self, headers: Mapping[str, str]) -> tuple[str | None, str | None]:
        """The (signature, timestamp) values from ``headers``, matched case-insensitively."""
        lowered = {k.lower(): v for k, v in headers.items()}
        return lowered.get(self.signature.lower()), lowered.get(self.timestamp.lower())


class WebhookVerifier(Generic[E]):
    """One product's webhook check: its header names, its error type, its event model."""

    def __init__(
        self, product: str, headers: SignatureHeaders, error: Callable[[str], Exception], event: type[E]
    ) -> None:
        self.product = product
        self.headers = headers
        self.error = error
        self.event = event

    def verify_signature(
        self,
        secret: str | SecretStr,
        body: bytes,
        signature: str | None,
        timestamp: str | None,
        *,
        tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
        now: float | None = None,
    ) -> None:
        """Raise the product's signature error unless the delivery is authentic and fresh."""
        verify_signature(
            secret,
            body,
            signature,
            timestamp,
            error=self.error,
            tolerance_seconds=tolerance_seconds,
            now=now,
        )

    def signature_problem(
        self,
        secret: str | SecretStr,
        body: bytes,
        headers: Mapping[str, str],
        *,
        tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
        now: float | None = None,
    ) -> str | None:
        """Why a delivery (its raw body and headers) is not authentic and fresh; ``None`` when it is."""
        signature, timestamp = self.headers.read(headers)
        return signature_problem(
            secret, body, signature, timestamp, tolerance_seconds=tolerance_seconds, now=now
        )

    def parse_webhook(
        self,
        secret: str | SecretStr,
        body: bytes,
        headers: Mapping[str, str],
        *,
        tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
        now: float | None = None,
    ) -> E:
        """Verify a delivery and return it as the product's typed event."""
        problem = self.signature_problem(secret, body, headers, tolerance_seconds=tolerance_seconds, now=now)
        if problem is not None:
            raise self.error(problem)
        try:
            return self.event.model_validate_json(body)
        except ValidationError as exc:
            raise self.error(
                f"Signed webhook body is not a {self.product} event: {exc.error_count()} errors"
            ) from exc
