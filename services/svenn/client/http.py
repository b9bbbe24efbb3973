"""How the Svenn client sends requests: the shared retrying ``Requester`` with Svenn's errors.

The retry rules live in ``services.restclient.requester``; this module says which of Svenn's
typed errors answers which status (``ERRORS``), and keeps the names the client imports.
"""

from __future__ import annotations

import logging

from services.restclient.api_errors import ErrorTypes
from services.restclient.bearer_auth import BearerAuth as BearerAuth
from services.restclient.requester import ApiDialect
from services.restclient.requester import Requester as Requester
from services.restclient.retry_after import parse_retry_after as parse_retry_after
from services.restclient.retry_policy import RETRYABLE_STATUS as RETRYABLE_STATUS
from services.restclient.retry_policy import RetryPolicy as RetryPolicy
from services.restclient.retry_policy import Sleep as Sleep
from services.svenn.client import errors

log = logging.getLogger("services.svenn.client")

ERRORS = ErrorTypes[errors.SvennError](
    product="Svenn",
    base=errors.SvennError,
    auth=errors.SvennAuthError,
    not_found=errors.SvennNotFoundError,
    conflict=errors.SvennConflictError,
    validation=errors.SvennValidationError,
    rate_limited=errors.SvennRateLimitedError,
    server=errors.SvennServerError,
    version_conflict=errors.SvennVersionConflictError,
)
# (response, method, path) -> the typed SvennError for a failed response
error_from_response = ERRORS.from_response
DIALECT = ApiDialect("Svenn", log, error_from_response, transport_error=errors.SvennTransportError)
