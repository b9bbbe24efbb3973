"""How the Drifti client sends requests: the shared retrying ``Requester`` with Drifti's errors.

The retry rules live in ``services.restclient.requester``; this module says which of Drifti's
typed errors answers which status (``ERRORS``), and keeps the names the client imports.
"""

from __future__ import annotations

import logging

from services.drifti.client import errors
from services.restclient.api_errors import ErrorTypes
from services.restclient.bearer_auth import BearerAuth as BearerAuth
from services.restclient.requester import ApiDialect
from services.restclient.requester import Requester as Requester
from services.restclient.retry_after import parse_retry_after as parse_retry_after
from services.restclient.retry_policy import RETRYABLE_STATUS as RETRYABLE_STATUS
from services.restclient.retry_policy import RetryPolicy as RetryPolicy
from services.restclient.retry_policy import Sleep as Sleep

log = logging.getLogger("services.drifti.client")

ERRORS = ErrorTypes[errors.DriftiError](
    product="Drifti",
    base=errors.DriftiError,
    auth=errors.DriftiAuthError,
    not_found=errors.DriftiNotFoundError,
    conflict=errors.DriftiConflictError,
    validation=errors.DriftiValidationError,
    rate_limited=errors.DriftiRateLimitedError,
    server=errors.DriftiServerError,
)
# (response, method, path) -> the typed DriftiError for a failed response
error_from_response = ERRORS.from_response
DIALECT = ApiDialect("Drifti", log, error_from_response, transport_error=errors.DriftiTransportError)
