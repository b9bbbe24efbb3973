"""The tenant the current piece of work is for, so logs and HTTP spans name it without being told.

A consumer handles one message at a time inside its span (``tracing.consume_span``), and a
webhook receiver knows its tenant from the path; both set it here for the duration. A log
line written anywhere below (a client's retry warning, a writer's error) then carries
``tenant_id``, and so does the span of each HTTP call made on the tenant's behalf.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_TENANT: ContextVar[str | None] = ContextVar("tsync_tenant", default=None)


def current_tenant() -> str | None:
    return _TENANT.get()


@contextmanager
def tenant_scope(tenant_id: str | None) -> Iterator[None]:
    """Work inside the block is for ``tenant_id`` (``None`` keeps whatever was set)."""
    if tenant_id is None:
        yield
        return
    token = _TENANT.set(tenant_id)
    try:
        yield
    finally:
        _TENANT.reset(token)
