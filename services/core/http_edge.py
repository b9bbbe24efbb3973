"""What both HTTP listeners do before a route sees a request: body limits, credentials, refusals.

* ``BodyLimit``: a pure ASGI middleware that answers 413 for a body over the limit before it is
  read in full (the declared ``Content-Length`` first, then the bytes as they stream in).
* ``BearerTokens``: named tokens from one setting (``name:token``, comma-separated), checked in
  constant time on bytes; no token configured means every call is refused (fail closed).
* ``unauthorized``: one answer (401, one body) for every reason a caller is not let in (unknown
  tenant, no secret, no or wrong signature or token). The reason goes to the log only, so the
  answer never tells which tenants exist.
* ``authenticate_webhook``: a tenant's webhook secret looked up and the signature checked, with a
  stand-in secret when there is none, so an unknown tenant costs the same work as a known one.
* ``RecentAnswers``: answers to recent deliveries by key, for replaying the same answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.tenants import TenantConfig, TenantDirectory, UnknownTenant

UNAUTHORIZED_BODY = {
    "error": {"status": 401, "code": "UNAUTHORIZED", "message": "The request could not be authenticated."}
}


def unauthorized(log: logging.Logger, what: str, reason: str, *, bearer: bool = False) -> JSONResponse:
    """401 with the same body whatever the ``reason``; the reason is logged, never answered."""
    log.warning("refused %s", what, extra={"status": 401, "reason": reason})
    headers = {"www-authenticate": "Bearer"} if bearer else None
    return JSONResponse(UNAUTHORIZED_BODY, status_code=401, headers=headers)


# --------------------------------------------------------------------------- body limit
class BodyTooLarge(Exception):
    """Raised into the app by ``BodyLimit`` when the streamed body passes the limit."""


class BodyLimit:
    """413 for a request body over ``max_bytes``, before the rest of it is read.

    A declared ``Content-Length`` over the limit is answered at once (the app never runs); a
    body without one (chunked) is counted as the app reads it, and the read that passes the
    limit raises ``BodyTooLarge`` inside the app; this middleware then answers 413 in its place.
    Either way the connection is closed rather than the rest of the body read.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(send)
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app answers after the limit passed, the answer is 413
            started |= message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": {
                    "status": 413,
                    "code": "BODY_TOO_LARGE",
                    "message": f"The body is larger than {self.max_bytes} bytes.",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None


# --------------------------------------------------------------------------- bearer tokens
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MIN_TOKEN_LENGTH = 16


class TokenListError(ValueError):
    """A malformed token setting; the message names the variable and the entry, never a token."""


@dataclass(frozen=True)
class BearerTokens:
    """Named bearer tokens from one setting; ``holder`` says whose token a request carries.

    The setting holds ``name:token`` entries separated by commas (``resync:3q…,demo:Zk…``); the
    name identifies the caller in logs and spans. Only SHA-256 digests are kept, and a
    presented token is compared with every one of them (``hmac.compare_digest`` on bytes), so
    neither the time taken nor the token's length tells a caller how close a guess came.
    """

    variable: str
    digests: tuple[tuple[str, bytes], ...] = field(repr=False)

    @classmethod
    def parse(cls, variable: str, value: SecretStr | None) -> BearerTokens:
        """The tokens in ``value``; raises ``TokenListError`` naming ``variable`` (never a token)."""
        raw = value.get_secret_value() if value is not None else ""
        digests: list[tuple[str, bytes]] = []
        for number, entry in enumerate((e.strip() for e in raw.split(",")), start=1):
            if not entry:
                continue
            name, colon, token = entry.partition(":")
            if not colon or not _NAME.fullmatch(name):
                raise TokenListError(
                    f"{variable}: entry {number} is not name:token (name: letters, digits, _.-)"
                )
            if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
                raise TokenListError(
                    f"{variable}: the token of {name!r} is shorter than {MIN_TOKEN_LENGTH} characters"
                    " or has spaces"
                )
            digest = hashlib.sha256(token.encode()).digest()
            if any(n == name or d == digest for n, d in digests):
                raise TokenListError(f"{variable}: {name!r} or its token is listed twice")
            digests.append((name, digest))
        return cls(variable, tuple(digests))

    def __bool__(self) -> bool:
        return bool(self.digests)

    def holder(self, request: Request) -> str | None:
        """The name whose token the request's ``Authorization: Bearer`` carries, else ``None``."""
        presented = _bearer(request)
        if presented is None:
            return None
        digest = hashlib.sha256(presented).digest()
        found = None
        for name, expected in self.digests:  # every one compared: no early exit
            if hmac.compare_digest(digest, expected):
                found = name
        return found

    def admit(self, request: Request, log: logging.Logger, what: str) -> str | JSONResponse:
        """The holder's name, or the uniform 401 (why is logged: no token, an unknown one, none set)."""
        holder = self.holder(request)
        if holder is not None:
            return holder
        reason = "no or unknown bearer token" if self.digests else f"{self.variable} is not set"
        return unauthorized(log, what, reason, bearer=True)


def _bearer(request: Request) -> bytes | None:
    """The token of the raw ``Authorization`` header (bytes, as sent), if it is a bearer one."""
    for name, value in request.headers.raw:
        if name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
            return None
    return None


# --------------------------------------------------------------------------- webhook secrets
# Checked against when a tenant has no secret (or does not exist): the same work, then a refusal.
_STAND_IN_SECRET = SecretStr(secrets.token_hex(32))


async def authenticate_webhook(
    tenants: TenantDirectory,
    tenant_id: str,
    secret_of: Callable[[TenantConfig], SecretStr | None],
    signature_problem: Callable[[SecretStr], str | None],
) -> tuple[TenantConfig | None, str]:
    """``(tenant, "")`` when the delivery is the tenant's, else ``(None, why)``.

    ``secret_of`` picks the side's webhook secret; ``signature_problem`` checks the delivery
    against a secret and says what is wrong (``None``: authentic). It runs for every request,
    with a stand-in secret when the tenant is unknown or has none, which is then refused: a
    delivery is never let through unsigned.
    """
    try:
        tenant: TenantConfig | None = await tenants.get(tenant_id)
    except UnknownTenant:
        tenant = None
    secret = secret_of(tenant) if tenant is not None else None
    problem = signature_problem(secret or _STAND_IN_SECRET)
    if tenant is None:
        return None, "no such tenant"
    if secret is None:
        return None, "the tenant has no webhook secret for this side"
    if problem is not None:
        return None, problem
    return tenant, ""


# --------------------------------------------------------------------------- recent answers
class RecentAnswers:
    """The answers given to recent deliveries, by key, for ``window_s`` seconds (bounded in number).

    In process only: a repeat that reaches another replica is answered afresh, which is harmless
    where repeats also yield the same event ids downstream.
    """

    def __init__(
        self,
        window_s: float,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._clock = clock
        self._answers: OrderedDict[tuple[str, str], tuple[float, int, bytes]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> Response | None:
        self._expire()
        found = self._answers.get(key)
        if found is None:
            return None
        _, status, body = found
        return Response(body, status_code=status, media_type="application/json")

    def put(self, key: tuple[str, str], answer: Response) -> None:
        self._answers[key] = (self._clock() + self.window_s, answer.status_code, bytes(answer.body))
        self._answers.move_to_end(key)
        while len(self._answers) > self.max_entries:
            self._answers.popitem(last=False)

    def _expire(self) -> None:
        now = self._clock()
        while self._answers:
            key, (expires, _, _) = next(iter(self._answers.items()))
            if expires > now:
                return
            del self._answers[key]
