"""Async Tripletex API v2 client: sessions, paging, locking, rate limits, find-before-create.

One :class:`TripletexClient` per tenant; one :class:`LimiterRegistry` per process, shared::

    limiters = LimiterRegistry()
    async with TripletexClient(PRODUCTION_BASE_URL, tenant_id, consumer_token=ct, employee_token=et,
                               limiters=limiters) as tx:
        project = (await tx.projects.ensure(Project(number="2024.17", ...))).record  # never duplicates
        await tx.projects.update(project.id, lambda p: setattr(p, "is_closed", True))  # 409-safe
        async for entry in tx.timesheet.iterate(dt.date(2026, 11, 1), dt.date(2026, 12, 1)):
            ...

Writes that Tripletex cannot make idempotent are exposed as ``ensure*``/``*_once`` calls that
look before they write; errors are the typed exceptions below.
"""

from .client import TripletexClient
from .config import (
    PRODUCTION_BASE_URL,
    TEST_BASE_URL,
    ClientSettings,
    LimiterPolicy,
    RetryPolicy,
    SessionPolicy,
    TripletexCredentials,
)
from .errors import (
    ConflictKind,
    TripletexAuthError,
    TripletexBadRequest,
    TripletexConflictError,
    TripletexError,
    TripletexGuardError,
    TripletexNotFound,
    TripletexOutcomeUnknown,
    TripletexRateLimited,
    TripletexServerError,
    TripletexUnavailable,
    TripletexValidationError,
    ValidationMessage,
)
from .locking import Updated
from .natural_keys import Ensured
from .rate_limit import LimiterRegistry

__all__ = [
    "PRODUCTION_BASE_URL",
    "TEST_BASE_URL",
    "ClientSettings",
    "ConflictKind",
    "Ensured",
    "LimiterPolicy",
    "LimiterRegistry",
    "RetryPolicy",
    "SessionPolicy",
    "TripletexAuthError",
    "TripletexBadRequest",
    "TripletexClient",
    "TripletexConflictError",
    "TripletexCredentials",
    "TripletexError",
    "TripletexGuardError",
    "TripletexNotFound",
    "TripletexOutcomeUnknown",
    "TripletexRateLimited",
    "TripletexServerError",
    "TripletexUnavailable",
    "TripletexValidationError",
    "Updated",
    "ValidationMessage",
]
