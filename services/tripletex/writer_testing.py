"""Serving the Tripletex simulator over real HTTP for the writer's integration tests.

The writer builds its clients from a tenant's ``base_url`` like it does in production, so the
tests give it a real URL: the simulator under uvicorn on a free 127.0.0.1 port, in the test's
own event loop (its state stays inspectable in-process as well as through ``/_sim``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from services.core.asgi_serving import serve_asgi


@asynccontextmanager
async def serve_on_loopback(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (lifespan off) and yield its base URL (``http://127.0.0.1:N``)."""
    async with serve_asgi(app, lifespan="off") as url:
        yield url
