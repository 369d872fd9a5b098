"""The control socket's server: an actor of the daemon serving HTTP/1.1 on its listener.

uvicorn's protocol (httptools) does the HTTP; the asyncio server is created here on the
socket ``activation.open_listener`` gave, so uvicorn's own process handling (signals,
workers, binding) stays out. Started with ``TaskGroup.start``: ready once it accepts.
Cancelled at shutdown: it stops accepting, lets requests in flight end within a
bound, then cancels the rest, so none outlives the cache it reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Protocol

import anyio
from anyio.abc import TaskStatus
from uvicorn.config import Config
from uvicorn.server import ServerState

from ..api import DaemonApi
from ..app import Daemon
from .activation import BACKLOG, Listener
from .http import ASGIApp, Receive, Scope, Send
from .protocol import ControlProtocol, Guard
from .routes import ControlApp

logger = logging.getLogger(__name__)

CLOSE_GRACE = 2.0  # seconds requests in flight get at shutdown before they are cancelled


class Endpoint(Protocol):
    """An ASGI app served at /mcp and the lifespan it is served within."""

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None: ...

    def lifespan(self) -> AbstractAsyncContextManager[object]: ...


async def serve_control(
    daemon: Daemon,
    listener: Listener,
    *,
    mcp: ASGIApp | None = None,
    mcp_lifespan: AbstractAsyncContextManager[object] | None = None,
    endpoint: Callable[[DaemonApi], Endpoint] | None = None,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the control API (and an MCP app at /mcp) on ``listener`` until cancelled.

    The MCP app is ``mcp`` (served within ``mcp_lifespan``), or the one ``endpoint`` makes
    from this daemon's API (``endpoint(api).app`` within ``endpoint(api).lifespan()``).
    """
    settings = daemon.config.control
    api = DaemonApi(daemon)
    if endpoint is not None:
        made = endpoint(api)
        mcp, mcp_lifespan = made.app, made.lifespan()
    app = ControlApp(api, daemon, mcp)
    config = Config(
        app,
        http="httptools",
        ws="none",
        lifespan="off",
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=False,
        timeout_keep_alive=max(1, round(settings.keep_alive)),
    )
    config.load()
    state = ServerState()
    guard = Guard(settings, listener.admin_gid)
    loop = asyncio.get_running_loop()
    async with AsyncExitStack() as stack:
        if mcp_lifespan is not None:
            await stack.enter_async_context(mcp_lifespan)
        server = await loop.create_server(
            lambda: ControlProtocol(config, state, {}, guard, _loop=loop),
            sock=listener.sock,
            backlog=BACKLOG,
        )
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await _close(server, state)


async def _close(server: asyncio.Server, state: ServerState) -> None:
    """Stop accepting; requests in flight get ``CLOSE_GRACE``, then are cancelled."""
    server.close()
    for connection in list(state.connections):
        connection.shutdown()  # idle ones close now; busy ones after their answer
    if state.tasks:
        await asyncio.wait(list(state.tasks), timeout=CLOSE_GRACE)
    tasks = list(state.tasks)
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)
    for connection in list(state.connections):
        connection.transport.abort()
