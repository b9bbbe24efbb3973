"""Svenn's error envelope: the shared one in ``services.restsim.error_envelope``, re-exported."""

from services.restsim.error_envelope import (
    REQUEST_ID_HEADER,
    ApiError,
    error_response,
    field_error,
    install_error_handlers,
    not_found,
    validation_error,
)

__all__ = [
    "REQUEST_ID_HEADER",
    "ApiError",
    "error_response",
    "field_error",
    "install_error_handlers",
    "not_found",
    "validation_error",
]
