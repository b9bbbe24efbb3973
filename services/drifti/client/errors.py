"""Typed failures of the Drifti API, so callers branch on type instead of status codes.

Messages carry method, path, status, Drifti's error code and request id — enough to find
the request in Drifti's logs — and never a header, so the API key cannot leak through an
exception that ends up in a log line, a dead letter or an error-log entry.
"""

from __future__ import annotations

from services.restclient.api_errors import (
    ApiClientError,
    CarriesRetryAfter,
    ListsFieldErrors,
    NamesConflictingRecord,
)
from services.restclient.api_errors import FieldError as FieldError


class DriftiError(ApiClientError):
    """Base of every error this client raises."""

    @property
    def retryable(self) -> bool:
        """Whether the same request might succeed later (the engine then retries, not dead-letters)."""
        return False


class DriftiAuthError(DriftiError):
    """401/403: the tenant's API key is missing, wrong or revoked. Retrying will not help."""


class DriftiNotFoundError(DriftiError):
    """404: the record (or route) does not exist for this tenant."""


class DriftiValidationError(DriftiError, ListsFieldErrors):
    """422: Drifti refused the data; ``details`` says which field and why. Permanent."""


class DriftiConflictError(DriftiError, NamesConflictingRecord):
    """409: the write clashes with current state (duplicate number, approved hours, …).

    ``conflicting_id`` names the existing record for duplicates.
    """


class DriftiRateLimitedError(DriftiError, CarriesRetryAfter):
    """429 that outlasted the client's patience; ``retry_after`` is Drifti's last hint in seconds."""

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
