"""Session tokens: mint, cache, renew.

Tripletex authenticates API calls with a *session* token created from the tenant's consumer
token and employee token. Expiry is date-granular (midnight Norwegian time on
``expirationDate``), so the manager mints ``today + valid_days`` and treats the session as
stale ``renew_days_before_expiry`` days early. A 401 on a call marks the session stale; the
transport then re-mints once and retries once.

We use ``POST /token/session/:create`` with a JSON body rather than the legacy ``PUT`` with
query parameters because query strings end up in access logs and httpx debug logs; a body
does not.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx
from pydantic import SecretStr

from .backoff import Backoff
from .config import RetryPolicy, SessionPolicy, TripletexCredentials
from .errors import Redactor, TripletexAuthError, TripletexError, TripletexValidationError, parse_error

log = logging.getLogger(__name__)

SESSION_CREATE_PATH = "/token/session/:create"

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Session:
    """One minted session. ``generation`` lets concurrent 401s agree on who re-mints."""

    token: SecretStr
    expiration_date: dt.date
    generation: int

    def basic_auth(self, company_id: str) -> str:
        raw = f"{company_id}:{self.token.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def __repr__(self) -> str:  # the dataclass default would be fine, but be explicit
        return f"Session(token=**********, expiration_date={self.expiration_date}, gen={self.generation})"


class SessionManager:
    """Holds the tenant's current session; one mint at a time per tenant."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        credentials: TripletexCredentials,
        *,
        policy: SessionPolicy,
        redactor: Redactor,
        tenant_id: str,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Clock = utc_now,
    ) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + SESSION_CREATE_PATH
        self._credentials = credentials
        self._policy = policy
        self._redact = redactor
        self._tenant_id = tenant_id
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._backoff = Backoff(self._retry.server_error_base_seconds, self._retry.server_error_cap_seconds)
        self._tz = ZoneInfo(policy.timezone)
        self._session: Session | None = None
        self._generation = 0
        self._lock = asyncio.Lock()
        self.mint_count = 0

    def __repr__(self) -> str:
        return f"SessionManager(tenant={self._tenant_id!r}, session={self._session!r})"

    def _today(self) -> dt.date:
        return self._clock().astimezone(self._tz).date()

    def _is_fresh(self, session: Session) -> bool:
        renew_on = session.expiration_date - dt.timedelta(days=self._policy.renew_days_before_expiry)
        return self._today() < renew_on

    async def current(self) -> Session:
        """A session that is not about to expire, minting one if needed."""
        session = self._session
        if session is not None and self._is_fresh(session):
            return session
        async with self._lock:
            session = self._session
            if session is not None and self._is_fresh(session):
                return session
            return await self._mint()

    async def invalidate(self, stale: Session) -> None:
        """Forget ``stale`` (after a 401) unless someone already replaced it."""
        async with self._lock:
            if self._session is not None and self._session.generation == stale.generation:
                self._session = None

    async def _mint(self) -> Session:
        expiration = self._today() + dt.timedelta(days=self._policy.valid_days)
        body = {
            "consumerToken": self._credentials.consumer_token.get_secret_value(),
            "employeeToken": self._credentials.employee_token.get_secret_value(),
            "expirationDate": expiration.isoformat(),
        }
        response = await self._post_with_retry(body)
        if response.status_code not in (200, 201):
            error = parse_error(response, redact=self._redact, method="POST", path=SESSION_CREATE_PATH)
            about_tokens = any("token" in (text or "").lower() for text in self._error_texts(error))
            if response.status_code == 422 and about_tokens:
                # "The consumer token is invalid or does not exist" is an auth problem (#53).
                raise TripletexAuthError(
                    error.message,
                    status=error.status,
                    code=error.code,
                    request_id=error.request_id,
                    method="POST",
                    path=SESSION_CREATE_PATH,
                )
            raise error
        try:
            payload = response.json()
        except ValueError:
            payload = None
        value = payload.get("value") if isinstance(payload, dict) else None
        if not isinstance(value, dict):
            raise TripletexAuthError("session create returned no session", status=response.status_code)
        token = value.get("token")
        if not token:
            raise TripletexAuthError("session create returned no token", status=response.status_code)
        self._redact.add(token)
        expiration_date = dt.date.fromisoformat(value.get("expirationDate") or expiration.isoformat())
        self._generation += 1
        self.mint_count += 1
        self._session = Session(SecretStr(token), expiration_date, self._generation)
        log.info(
            "tripletex session minted",
            extra={"tenant_id": self._tenant_id, "expiration_date": expiration_date.isoformat()},
        )
        return self._session

    @staticmethod
    def _error_texts(error: TripletexError) -> list[str | None]:
        texts: list[str | None] = [error.message]
        if isinstance(error, TripletexValidationError):
            texts += [m.field for m in error.validation_messages]
        return texts

    async def _post_with_retry(self, body: dict[str, str]) -> httpx.Response:
        """Creating a session is safe to repeat (an extra session is harmless): retry 429/5xx."""
        attempt = 0
        while True:
            attempt += 1
            failure: str | None = None
            try:
                response = await self._http.post(self._url, json=body)
            except httpx.HTTPError as exc:
                failure = type(exc).__name__
            if failure is None:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                if attempt >= self._retry.max_attempts:
                    return response
            elif attempt >= self._retry.max_attempts:
                # Raised outside the ``except``: the httpx exception holds the request (and so
                # the tokens in its body); it must not ride along as ``__context__``.
                raise TripletexError(
                    f"session create failed: {failure}", method="POST", path=SESSION_CREATE_PATH
                )
            await self._sleep(self._backoff.delay(attempt))
