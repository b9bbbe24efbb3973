"""Typed failures of the Svenn API, so callers branch on type instead of status codes.

Messages carry method, path, status, Svenn's error code and request id — enough to find the
request in Svenn's logs — and never a header, so the API key cannot leak through an
exception that ends up in a log line, a dead letter or an error-log entry (S-X1).
"""

from __future__ import annotations

from services.restclient.api_errors import (
    ApiClientError,
    CarriesRetryAfter,
    ListsFieldErrors,
    NamesConflictingRecord,
)
from services.restclient.api_errors import FieldError as FieldError


class SvennError(ApiClientError):
    """Base of every error this client raises."""


class SvennAuthError(SvennError):
    """401/403: the tenant's API key is missing, wrong or revoked. Retrying will not help."""


class SvennNotFoundError(SvennError):
    """404: the record (or route) does not exist for this tenant."""


SvennNotFound = SvennNotFoundError


class SvennValidationError(SvennError, ListsFieldErrors):
    """422: Svenn refused the data; ``details`` says which field and why. Permanent."""


class SvennConflictError(SvennError, NamesConflictingRecord):
    """409: the write clashes with current state (duplicate number, deleted record, …).

    ``conflicting_id`` names the existing record for duplicates, so a writer can link to it
    instead of creating a second one.
    """


class SvennVersionConflictError(SvennConflictError):
    """412: the record changed since it was read (optimistic lock), and re-applying ran out."""

    @property
    def current_version(self) -> int | None:
        value = self.extra.get("current_version")
        return int(value) if value is not None else None


class SvennRateLimitedError(SvennError, CarriesRetryAfter):
    """429 that outlasted the client's patience; ``retry_after`` is Svenn's last hint in seconds."""


class SvennServerError(SvennError):
    """5xx that persisted through every retry."""


class SvennTransportError(SvennError):
    """The request never got an answer (connect error, timeout) through every retry."""


class SvennSignatureError(SvennError):
    """A webhook whose signature or timestamp does not check out: reject it with 401/400."""
