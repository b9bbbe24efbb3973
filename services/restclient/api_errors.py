"""The shape every client error has, and reading it from the API's JSON error envelope.

Messages carry method, path, status, the API's error code and request id — enough to find
the request in the API's logs — and never a header, so an API key cannot leak through an
exception that ends up in a log line, a dead letter or an error-log entry. Svenn's and
Drifti's error hierarchies derive from ``ApiClientError`` and add their own subclasses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from services.restclient.retry_after import parse_retry_after


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ApiClientError(Exception):
    """Base of the Svenn and Drifti clients' errors (each has its own subclass tree)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        details: list[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.method = method
        self.path = path
        self.details = details or []
        self.extra = extra or {}
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.method} {self.path}" if self.method else ""
        meta = ", ".join(
            part
            for part in (
                where,
                f"status={self.status}" if self.status is not None else "",
                f"code={self.code}" if self.code else "",
                f"request_id={self.request_id}" if self.request_id else "",
            )
            if part
        )
        return f"{self.message} ({meta})" if meta else self.message


E = TypeVar("E", bound=ApiClientError)


def envelope_fields(
    response: httpx.Response, method: str, path: str, fallback_message: str
) -> tuple[str, dict[str, Any]]:
    """The message and constructor keywords for an error built from ``response``'s envelope."""
    try:
        body = response.json().get("error") or {}
        if not isinstance(body, dict):
            body = {}
    except (ValueError, AttributeError):
        body = {}
    details = [
        FieldError(str(d.get("field", "")), str(d.get("message", "")))
        for d in body.get("details") or []
        if isinstance(d, dict)
    ]
    known = {"status", "code", "message", "details", "request_id"}
    kwargs: dict[str, Any] = {
        "status": response.status_code,
        "code": body.get("code"),
        "request_id": body.get("request_id") or response.headers.get("X-Request-Id"),
        "method": method,
        "path": path,
        "details": details,
        "extra": {k: v for k, v in body.items() if k not in known},
    }
    message = str(body.get("message") or response.reason_phrase or fallback_message)
    return message, kwargs


# Behaviour shared by the products' error subclasses. A product class lists its own base
# first, e.g. ``class SvennValidationError(SvennError, ListsFieldErrors)``.


class ListsFieldErrors(ApiClientError):
    """A 422 whose message names each refused field."""

    def __str__(self) -> str:
        base = super().__str__()
        if not self.details:
            return base
        fields = "; ".join(f"{d.field}: {d.message}" for d in self.details)
        return f"{base} [{fields}]"


class NamesConflictingRecord(ApiClientError):
    """A 409 whose ``conflicting_id`` names the existing record for duplicates."""

    @property
    def conflicting_id(self) -> str | None:
        value = self.extra.get("conflicting_id")
        return str(value) if value is not None else None


class CarriesRetryAfter(ApiClientError):
    """A 429 that keeps the API's last wait hint, in seconds, as ``retry_after``."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


@dataclass(frozen=True)
class ErrorTypes(Generic[E]):
    """Which of a product's error classes answers which status."""

    product: str
    base: type[E]
    auth: type[E]  # 401, 403
    not_found: type[E]  # 404
    conflict: type[E]  # 409
    validation: type[E]  # 400, 422
    rate_limited: Callable[..., E]  # 429; a CarriesRetryAfter, constructed with retry_after=
    server: type[E]  # 5xx
    version_conflict: type[E] | None = None  # 412, where the API has optimistic locking

    def from_response(self, response: httpx.Response, method: str, path: str) -> E:
        message, kwargs = envelope_fields(response, method, path, f"{self.product} request failed")
        status = response.status_code
        if status in (401, 403):
            return self.auth(message, **kwargs)
        if status == 404:
            return self.not_found(message, **kwargs)
        if status == 412 and self.version_conflict is not None:
            return self.version_conflict(message, **kwargs)
        if status == 409:
            return self.conflict(message, **kwargs)
        if status in (400, 422):
            return self.validation(message, **kwargs)
        if status == 429:
            return self.rate_limited(message, retry_after=parse_retry_after(response), **kwargs)
        if status >= 500:
            return self.server(message, **kwargs)
        return self.base(message, **kwargs)
