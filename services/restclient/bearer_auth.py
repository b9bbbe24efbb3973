"""Bearer-key authentication for httpx that keeps the key out of reprs and logs.

Shared by the Svenn and Drifti clients: the tenant's key lives only here, in a ``SecretStr``.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx
from pydantic import SecretStr


class BearerAuth(httpx.Auth):
    """Adds the tenant's key per request; the key lives only here, in a ``SecretStr``."""

    def __init__(self, api_key: str | SecretStr) -> None:
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(api_key=**********)"
