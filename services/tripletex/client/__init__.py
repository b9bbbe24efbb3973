"""Async Tripletex API v2 client: sessions, paging, locking, rate limits, find-before-create."""

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
    "ValidationMessage",
]
