"""Real HTTP servers inside a test: uvicorn on a free 127.0.0.1 port, in a task group.

async with serve_app(build_high().streamable_http_app()) as base:
    url = f"{base}/mcp"
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp
from tests.cache.redis_config import TlsFiles

STARTUP_LIMIT = 10.0


class ReadyServer(uvicorn.Server):
    """uvicorn's server with an event for "listening" (it only offers a flag)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = anyio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@asynccontextmanager
async def serve_app(
    app: ASGIApp, tls: TlsFiles | None = None, *, port: int = 0, client_ca: str | None = None
) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yields the base URL (``http://127.0.0.1:PORT``).

    With ``tls``, the server speaks HTTPS with that certificate (``https://...``); with
    ``port``, on that port (a server restarted where its clients expect it), else a free one;
    with ``client_ca``, only clients with a certificate signed by it get through (mTLS).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))  # bound before uvicorn starts: no race for the port
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=1,
        ssl_certfile=None if tls is None else tls.cert_path,
        ssl_keyfile=None if tls is None else tls.key_path,
        ssl_ca_certs=client_ca,
        ssl_cert_reqs=ssl.CERT_REQUIRED if client_ca else ssl.CERT_NONE,
    )
    server = ReadyServer(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            with anyio.fail_after(STARTUP_LIMIT):
                await server.ready.wait()
            try:
                yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
            finally:
                server.should_exit = True
    finally:
        sock.close()


def status_app(status: int) -> Starlette:
    """Answers every request on every path with ``status`` (401, 500, ...)."""

    async def answer(request: Request) -> Response:
        headers = {"www-authenticate": "Bearer"} if status == 401 else None
        return PlainTextResponse(f"status {status}", status_code=status, headers=headers)

    methods = ["GET", "POST", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", answer, methods=methods)])
