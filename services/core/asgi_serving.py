"""Serving an ASGI app over real HTTP on a free loopback port, for tests and the sandbox.

Several harnesses need a real HTTP hop (webhook deliveries to the engine's ingest, the
writer's calls to a simulator); one implementation keeps the port handling and the
start-up wait identical everywhere.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import uvicorn


@asynccontextmanager
async def serve_asgi(app: Any, *, lifespan: Literal["auto", "on", "off"] = "on") -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port; yields its base URL (``http://127.0.0.1:N``).

    The socket is bound *before* uvicorn starts, so no other process can take the port between
    choosing and serving it; the server runs on the caller's event loop and is stopped
    (in-flight requests finished) on exit.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, a response written in two parts waits for the
    # client's delayed ACK (~40 ms per loopback request), which made every end-to-end test crawl.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # uvicorn exposes a flag, not an event
                if serving.done():
                    serving.result()  # surfaces the start-up error
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
        sock.close()
