"""A real daemon's MCP endpoint on real Unix sockets, and MCP clients that reach it.

Until the control-socket server merges, ``with_peer`` stands in for it: a small ASGI
wrapper that records a fixed ``Peer`` in each request's scope, as that server records
the connection's ``SO_PEERCRED``. One uvicorn server per peer, one endpoint behind all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.types import ASGIApp, Receive, Scope, Send
from tests.actors.support import write_config
from tests.servers.http_harness import ReadyServer

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config import load_config
from mcp_discoveryd.control.mcp_tools import McpEndpoint, mcp_endpoint
from mcp_discoveryd.control.peer import PEER_STATE_KEY, Peer

ADMIN = Peer(pid=1, uid=0, gid=0, may_change=True)
READER = Peer(pid=2, uid=4242, gid=4242, may_change=False)
STARTUP_LIMIT = 10.0


def with_peer(app: ASGIApp, peer: Peer | None) -> ASGIApp:
    """``app`` behind a stand-in socket server that records ``peer`` (None: records none)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if peer is not None:
            scope.setdefault("state", {})[PEER_STATE_KEY] = peer
        await app(scope, receive, send)

    return wrapped


@asynccontextmanager
async def serve_uds(app: ASGIApp, path: str) -> AsyncIterator[None]:
    """Serve ``app`` with uvicorn (httptools) on a Unix socket at ``path`` until the block ends."""
    config = uvicorn.Config(
        app,
        uds=path,
        lifespan="off",
        log_level="warning",
        http="httptools",
        timeout_graceful_shutdown=1,
    )
    server = ReadyServer(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(STARTUP_LIMIT):
            await server.ready.wait()
        try:
            yield
        finally:
            server.should_exit = True


@dataclass(frozen=True)
class Served:
    """A running daemon, its API, and one socket per peer name."""

    daemon: Daemon
    api: DaemonApi
    endpoint: McpEndpoint
    config_path: Path
    sockets: Mapping[str, str]


@asynccontextmanager
async def short_dir() -> AsyncIterator[Path]:
    """A directory short enough for Unix socket paths (about 100 bytes at most)."""
    directory = Path(tempfile.mkdtemp(prefix="m", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@asynccontextmanager
async def served_daemon(
    tmp: Path, peers: Mapping[str, Peer | None], *, config: Path | None = None
) -> AsyncIterator[Served]:
    """A daemon on raw stdio servers "a", "b" (discovered) and "c" (config-defined), its
    MCP endpoint served on one socket per peer (``sockets[name]``).

    TTL 1 h: no refresh mid-test. The tests compare entries and count spawns; with the
    4 s default a bridge that takes seconds to start under load met a refresh.
    """
    path = config or write_config(
        tmp / "d.toml",
        {"a": [], "b": ["--tools", "5"], "c": []},
        config_defined=["c"],
        cache='tool_ttl = "1h"\nstale_grace = "1h"',
    )
    async with short_dir() as sockdir, Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
        endpoint = mcp_endpoint(api)
        sockets = {name: os.path.join(sockdir, f"{name}.sock") for name in peers}
        async with endpoint.lifespan(), AsyncExitStack() as stack:
            for name, peer in peers.items():
                await stack.enter_async_context(
                    serve_uds(with_peer(endpoint.app, peer), sockets[name])
                )
            yield Served(daemon, api, endpoint, path, sockets)


@asynccontextmanager
async def mcp_client(socket_path: str, *, mode: str = "auto") -> AsyncIterator[Client]:
    """An ``mcp.Client`` over streamable HTTP through the Unix socket."""
    transport = httpx2.AsyncHTTPTransport(uds=socket_path)
    async with httpx2.AsyncClient(transport=transport, timeout=30) as http:
        client = Client(
            streamable_http_client("http://daemon/mcp", http_client=http),
            cache=None,
            mode=mode,
        )
        async with client:
            yield client


async def raw_call(
    http: httpx2.AsyncClient, tool: str, arguments: dict[str, Any]
) -> httpx2.Response:
    """One ``tools/call`` POSTed as is (no SDK client): what a minimal HTTP client sends."""
    return await http.post(
        "http://daemon/mcp",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        },
        headers={
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": "2025-11-25",
        },
    )
