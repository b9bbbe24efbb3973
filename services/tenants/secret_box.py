"""Credentials encrypted at rest with Fernet keys from the environment (``TENANT_SECRET_KEYS``).

Several keys may be configured, comma-separated: the first seals, all of them open, so a key
is rotated by putting a new one first, running ``tsync tenants rotate-key`` (which re-seals
every tenant with it) and then dropping the old one. Nothing here ever puts key material or a
secret into an exception message or a repr.

Each blob is bound to its tenant: what is sealed is ``{"v": 2, "tenant_id": …, "secrets": …}``,
and Fernet authenticates all of it (AES-CBC + HMAC-SHA256), so the tenant id is associated data
nobody without the key can change. ``open`` refuses a blob sealed for another tenant: two rows'
blobs swapped (or one copied) in the database make both unreadable instead of swapping whose
credentials go where. Blobs sealed before this binding (a bare ``{side: {field: secret}}``)
still open, with ``bound`` false; ``tsync tenants rotate-key`` re-seals them bound.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from services.core.settings import Settings

# {side: {field: secret}}, e.g. {"tripletex": {"consumer_token": "...", "employee_token": "..."}}
Secrets = dict[str, dict[str, str]]


class SecretKeysMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "TENANT_SECRET_KEYS is not set: the tenant registry needs at least one Fernet key "
            "(generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        )


class SecretKeyInvalid(ValueError):
    """A configured key is not a Fernet key; says which one by position, never its value."""


class SecretsUnreadable(RuntimeError):
    """A sealed blob opens with none of the configured keys (a key was dropped too early), or was
    sealed for another tenant (rows swapped or copied in the database)."""


_BOUND = 2  # the format that names its tenant


def key_id(key: str) -> str:
    """A short fingerprint naming a key in the database and the CLI; reveals nothing of the key."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        keys = [k.strip() for k in keys if k.strip()]
        if not keys:
            raise SecretKeysMissing()
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode()))
            except (ValueError, TypeError):
                raise SecretKeyInvalid(
                    f"TENANT_SECRET_KEYS entry {position} is not a Fernet key (32 url-safe base64 bytes)"
                ) from None
        self._fernet = MultiFernet(fernets)
        self.key_id = key_id(keys[0])
        self.key_ids = tuple(key_id(k) for k in keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        if settings.tenant_secret_keys is None:
            raise SecretKeysMissing()
        return cls(settings.tenant_secret_keys.get_secret_value().split(","))

    def __repr__(self) -> str:
        return f"SecretBox(key_ids={self.key_ids!r})"

    def seal(self, secrets: Secrets, *, tenant_id: str) -> bytes:
        """``secrets`` sealed with the first key, bound to ``tenant_id``."""
        sealed = {"v": _BOUND, "tenant_id": tenant_id, "secrets": secrets}
        return self._fernet.encrypt(json.dumps(sealed, sort_keys=True).encode())

    def open(self, token: bytes, *, tenant_id: str) -> Secrets:
        """The secrets sealed for ``tenant_id``; ``SecretsUnreadable`` for another tenant's blob."""
        return self.unseal(token, tenant_id=tenant_id)[0]

    def unseal(self, token: bytes, *, tenant_id: str) -> tuple[Secrets, bool]:
        """(secrets, whether the blob is bound to its tenant; False: sealed before binding)."""
        try:
            plain = self._fernet.decrypt(token)
        except InvalidToken:
            raise SecretsUnreadable(
                f"the credentials of tenant {tenant_id!r} open with none of the keys in TENANT_SECRET_KEYS "
                f"(configured key ids: {', '.join(self.key_ids)})"
            ) from None
        opened = json.loads(plain)
        if opened.get("v") != _BOUND:
            unbound: Secrets = opened
            return unbound, False
        if opened.get("tenant_id") != tenant_id:
            raise SecretsUnreadable(
                f"the credentials stored for tenant {tenant_id!r} were sealed for another tenant "
                "(rows swapped or copied in the database?): refused"
            )
        secrets: Secrets = opened["secrets"]
        return secrets, True

    def reseal(self, token: bytes, *, tenant_id: str) -> bytes:
        """The same secrets sealed with the first key and bound to ``tenant_id`` (key rotation, binding)."""
        return self.seal(self.open(token, tenant_id=tenant_id), tenant_id=tenant_id)
