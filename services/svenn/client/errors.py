"""Typed failures of the Svenn API, so callers branch on type instead of status codes.

Messages carry method, path, status, Svenn's error code and request id — enough to find the
request in Svenn's logs — and never a header, so the API key cannot leak through an
exception that ends up in a log line, a dead letter or an error-log entry (S-X1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class SvennError(Exception):
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


class SvennAuthError(SvennError):
    """401/403: the tenant's API key is missing, wrong or revoked. Retrying will not help."""


class SvennNotFoundError(SvennError):
    """404: the record (or route) does not exist for this tenant."""


SvennNotFound = SvennNotFoundError


class SvennValidationError(SvennError):
    """422: Svenn refused the data; ``details`` says which field and why. Permanent."""

    def __str__(self) -> str:
        base = super().__str__()
        if not self.details:
            return base
        fields = "; ".join(f"{d.field}: {d.message}" for d in self.details)
        return f"{base} [{fields}]"


class SvennConflictError(SvennError):
    """409: the write clashes with current state (duplicate number, deleted record, …).

    ``conflicting_id`` names the existing record for duplicates, so a writer can link to it
    instead of creating a second one.
    """

    @property
    def conflicting_id(self) -> str | None:
        value = self.extra.get("conflicting_id")
        return str(value) if value is not None else None


class SvennVersionConflictError(SvennConflictError):
    """412: the record changed since it was read (optimistic lock), and re-applying ran out."""

    @property
    def current_version(self) -> int | None:
        value = self.extra.get("current_version")
        return int(value) if value is not None else None


class SvennRateLimitedError(SvennError):
    """429 that outlasted the client's patience; ``retry_after`` is Svenn's last hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class SvennServerError(SvennError):
    """5xx that persisted through every retry."""


class SvennTransportError(SvennError):
    """The request never got an answer (connect error, timeout) through every retry."""


class SvennSignatureError(SvennError):
    """A webhook whose signature or timestamp does not check out: reject it with 401/400."""
