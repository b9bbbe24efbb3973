"""Typed Tripletex errors, built from the API error envelope.

Callers decide what to do from the *type* (retry, re-read, dead-letter, look up and link), so
every HTTP status/code pair Tripletex documents maps to one class here. Each error carries
``status``, ``code`` and ``request_id`` (what Tripletex support asks for) and never a token:
text that came back from the server is passed through a :class:`Redactor` first, because a
message such as "consumer token X is invalid" would otherwise leak a secret into logs.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

REQUEST_ID_HEADER = "x-tlx-request-id"
REDACTED = "***"


class Redactor:
    """Replaces known secret values in free text. Empty or very short values are ignored."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        # A 1-3 character "secret" would redact ordinary words; real tokens are long.
        if len(secret) >= 4:
            self._secrets.add(secret)

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"


@dataclass(frozen=True)
class ValidationMessage:
    """One entry of ``validationMessages``; ``path`` and ``rootId`` exist on real responses only."""

    field: str | None
    message: str | None
    path: str | None = None
    root_id: int | None = None


class ConflictKind(enum.Enum):
    """The four documented 409 codes; each calls for a different reaction."""

    OBJECT_EXISTS = 7000  # already there: look it up and link
    REVISION = 8000  # stale version: re-read, re-apply, PUT again
    LOCKED = 10000  # locked (approved, invoiced...): cannot change, report
    DUPLICATE_ENTRY = 14000  # duplicate: look it up and link
    UNKNOWN = 0


class TripletexError(Exception):
    """Base class. ``str()`` is safe to log: it holds no token and no request body."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        request_id: str | None = None,
        developer_message: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.developer_message = developer_message
        self.method = method
        self.path = path
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        parts = [f"{where}{self.message}"]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.request_id:
            parts.append(f"requestId={self.request_id}")
        return " ".join(parts)


class TripletexBadRequest(TripletexError):
    """400: malformed request, e.g. an illegal ``fields`` entry (code 4000/11000/12000)."""


class TripletexValidationError(TripletexError):
    """422: permanent; dead-letter it with :attr:`validation_messages`."""

    def __init__(self, message: str, *, validation_messages: list[ValidationMessage], **kw: Any) -> None:
        self.validation_messages = validation_messages
        super().__init__(message, **kw)

    @property
    def fields(self) -> list[str]:
        return [m.field for m in self.validation_messages if m.field]

    def _render(self) -> str:
        base = super()._render()
        if not self.validation_messages:
            return base
        details = "; ".join(f"{m.field or m.path}: {m.message}" for m in self.validation_messages)
        return f"{base} [{details}]"


class TripletexConflictError(TripletexError):
    """409; :attr:`kind` says which of the documented conflicts it is."""

    @property
    def kind(self) -> ConflictKind:
        try:
            return ConflictKind(self.code)
        except ValueError:
            return ConflictKind.UNKNOWN

    @property
    def is_revision(self) -> bool:
        return self.kind is ConflictKind.REVISION

    @property
    def means_exists(self) -> bool:
        """7000 and 14000 both say the object is already there."""
        return self.kind in (ConflictKind.OBJECT_EXISTS, ConflictKind.DUPLICATE_ENTRY)


class TripletexAuthError(TripletexError):
    """401 after one re-mint, or 403 (code 9000: the employee token lacks an entitlement)."""


class TripletexNotFound(TripletexError):
    """404 (code 6000)."""


class TripletexRateLimited(TripletexError):
    """429 that outlasted the retry budget."""


class TripletexServerError(TripletexError):
    """5xx that outlasted the retry budget (or a 5xx on a write that is safe to repeat)."""


class TripletexOutcomeUnknown(TripletexError):
    """A non-idempotent write was sent but no answer came (timeout, dropped connection, 5xx).

    It may or may not have been applied. Never repeat it blindly: look the object up by its
    natural key first (see :mod:`.natural_keys`).
    """


class TripletexUnavailable(TripletexError):
    """The request could not be sent at all (connection refused, DNS, pool timeout)."""


class TripletexGuardError(TripletexError):
    """A state check before a non-idempotent call found a state the caller did not expect."""


def parse_error(
    response: httpx.Response, *, redact: Redactor, method: str | None = None, path: str | None = None
) -> TripletexError:
    """Turn an error response into the matching typed exception."""
    body: dict[str, Any] = {}
    try:
        raw = response.json()
        if isinstance(raw, dict):
            body = raw
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = {}
    status = response.status_code
    code = body.get("code") if isinstance(body.get("code"), int) else None
    message = redact(body.get("message")) or response.reason_phrase or f"HTTP {status}"
    request_id = body.get("requestId") or response.headers.get(REQUEST_ID_HEADER)
    kw: dict[str, Any] = {
        "status": status,
        "code": code,
        "request_id": request_id,
        "developer_message": redact(body.get("developerMessage")),
        "method": method,
        "path": path,
    }
    if status == 422:
        messages = [
            ValidationMessage(
                field=redact(m.get("field")),
                message=redact(m.get("message")),
                path=redact(m.get("path")),
                root_id=m.get("rootId"),
            )
            for m in body.get("validationMessages") or []
            if isinstance(m, dict)
        ]
        return TripletexValidationError(message, validation_messages=messages, **kw)
    cls: type[TripletexError]
    if status == 400:
        cls = TripletexBadRequest
    elif status in (401, 403):
        cls = TripletexAuthError
    elif status == 404:
        cls = TripletexNotFound
    elif status == 409:
        cls = TripletexConflictError
    elif status == 429:
        cls = TripletexRateLimited
    elif status >= 500:
        cls = TripletexServerError
    else:
        cls = TripletexError
    return cls(message, **kw)
