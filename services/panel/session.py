"""The panel's session cookie: the access id and tenant, an expiry, and an HMAC over all three.

Signed rather than stored, so the panel needs no session table; the access row is still checked
on every request (``access.is_active``), so a revoked token's sessions end immediately. Tenant
ids and access ids contain no dots, which makes the dot a safe separator.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

COOKIE = "tsync_panel"
LIFETIME_S = 12 * 3600


@dataclass(frozen=True)
class Session:
    access_id: str
    tenant_id: str
    expires: int


class SessionSigner:
    """Issues and reads session cookies; ``secret=None`` means a random key for this process only."""

    def __init__(self, secret: str | None) -> None:
        self._key = (secret or secrets.token_hex(32)).encode()

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def issue(self, access_id: str, tenant_id: str, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + LIFETIME_S)
        body = f"{access_id}.{tenant_id}.{expires}"
        return f"{body}.{self._sign(body)}"

    def read(self, value: str | None, now: float | None = None) -> Session | None:
        """The session a cookie carries, or ``None`` when it is missing, forged or expired."""
        if not value:
            return None
        parts = value.split(".")
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        access_id, tenant_id, expires, signature = parts
        if not hmac.compare_digest(self._sign(f"{access_id}.{tenant_id}.{expires}"), signature):
            return None
        if int(expires) < (now if now is not None else time.time()):
            return None
        return Session(access_id, tenant_id, int(expires))

    def csrf(self, cookie_value: str) -> str:
        """The form token bound to one session: a POST must carry it (the cookie alone is not enough)."""
        return self._sign(f"csrf|{cookie_value}")[:32]
