"""Typed failures of the Drifti API, so callers branch on type instead of status codes.

Messages carry method, path, status, Drifti's error code and request id — enough to find
the request in Drifti's logs — and never a header, so the API key cannot leak through an
exception that ends up in a log line, a dead letter or an error-log entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class DriftiError(Exception):
    """Base of every error this client raises."""

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

    @property
    def retryable(self) -> bool:
        """Whether the same request might succeed later (the engine then retries, not dead-letters)."""
        return False


class DriftiAuthError(DriftiError):
    """401/403: the tenant's API key is missing, wrong or revoked. Retrying will not help."""


class DriftiNotFoundError(DriftiError):
    """404: the record (or route) does not exist for this tenant."""


class DriftiValidationError(DriftiError):
    """422: Drifti refused the data; ``details`` says which field and why. Permanent."""

    def __str__(self) -> str:
        base = super().__str__()
        if not self.details:
            return base
        fields = "; ".join(f"{d.field}: {d.message}" for d in self.details)
        return f"{base} [{fields}]"


class DriftiConflictError(DriftiError):
    """409: the write clashes with current state (duplicate number, approved hours, …).

    ``conflicting_id`` names the existing record for duplicates.
    """

    @property
    def conflicting_id(self) -> str | None:
        value = self.extra.get("conflicting_id")
        return str(value) if value is not None else None


class DriftiRateLimitedError(DriftiError):
    """429 that outlasted the client's patience; ``retry_after`` is Drifti's last hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)

    @property
    def retryable(self) -> bool:
        return True


class DriftiServerError(DriftiError):
    """5xx that persisted through every retry."""

    @property
    def retryable(self) -> bool:
        return True


class DriftiTransportError(DriftiError):
    """The request never got an answer (connect error, timeout) through every retry."""

    @property
    def retryable(self) -> bool:
        return True


class DriftiSignatureError(DriftiError):
    """A webhook whose signature or timestamp does not check out: reject it with 401."""
