"""One error envelope for every failure a simulator returns (Svenn and Drifti share it).

Clients branch on ``error.code`` (stable, machine-readable) and show ``error.message``;
``details`` carries field-level messages for 422s. Every response has an ``X-Request-Id``
and errors repeat it, so a log line on either side can be matched with the other.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

REQUEST_ID_HEADER = "X-Request-Id"


class ApiError(Exception):
    """Raised anywhere in a handler; rendered as the JSON error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}
        self.extra = extra or {}


def validation_error(field: str, message: str) -> ApiError:
    return ApiError(
        422, "VALIDATION_FAILED", "The request failed validation.", details=[field_error(field, message)]
    )


def field_error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def not_found(resource: str, resource_id: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"No {resource} with id {resource_id!r}.")


def error_response(
    request: Request | None,
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None) if request is not None else None
    body: dict[str, Any] = {
        "status": status,
        "code": code,
        "message": message,
        "details": details or [],
        "request_id": request_id,
    }
    body.update(extra or {})
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    # FastAPI prefixes locations with where the value came from ("body", "query"); the
    # client only needs the field path, e.g. "member_ids.2".
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Route FastAPI's own errors (bad JSON, unknown route, wrong method) into our envelope."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(
            request,
            exc.status,
            exc.code,
            exc.message,
            details=exc.details,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors():
            message = str(err.get("msg", "invalid"))
            if err.get("type") == "extra_forbidden":
                message = "Unknown field."
            elif err.get("type") == "json_invalid":
                message = "Body is not valid JSON."
            details.append(field_error(_loc_to_field(err.get("loc", ())), message))
        return error_response(
            request, 422, "VALIDATION_FAILED", "The request failed validation.", details=details
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
        code = codes.get(exc.status_code, f"HTTP_{exc.status_code}")
        return error_response(
            request, exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {})
        )
