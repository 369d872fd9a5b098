"""``mcp-discoveryd mcp``: a stdio MCP server that forwards to the daemon's ``/mcp``.

MCP clients that spawn their servers (Claude Desktop, IDEs, gateways) reach the
daemon's tools through it. It is an MCP server on stdin/stdout and an MCP client of
the daemon over the Unix socket, each side negotiating its own protocol era, so
either side may be legacy or 2026-07-28. Tool listings and results pass through
unchanged (annotations, schemas and structured content included). The daemon
serves ``/mcp`` statelessly, so the bridge keeps working across a daemon restart;
a call made while no daemon answers gets a tool error that says so.

The connection runs as the bridge's user: the socket's permissions and peer
credentials decide what it may do, exactly as for any other client.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx2
import mcp_types as types
from mcp import Client, Implementation, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server

from .. import __version__
from ..errors import DaemonUnavailable

logger = logging.getLogger(__name__)

DEFAULT_SOCKET = "/run/mcp-discoveryd/control.sock"
# Any host name does over a Unix socket; this one shows in the daemon's access log.
MCP_URL = "http://mcp-discoveryd/mcp"
CONNECT_TIMEOUT = 5.0
HANDSHAKE_TIMEOUT = 10.0  # also bounds tools/list
# discover_tools waits for upstreams (each bounded by its own deadline, 30 s by default)
CALL_TIMEOUT = 300.0


def _reason(exc: BaseException) -> str:
    """The first leaf of a (nested) exception group, as one line."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


@asynccontextmanager
async def connect(socket_path: str) -> AsyncIterator[Client]:
    """An MCP client session with the daemon on ``socket_path``; ``DaemonUnavailable`` if none."""
    transport = httpx2.AsyncHTTPTransport(uds=socket_path)
    timeout = httpx2.Timeout(CONNECT_TIMEOUT, read=CALL_TIMEOUT)
    async with httpx2.AsyncClient(transport=transport, timeout=timeout) as http:
        client = Client(
            streamable_http_client(MCP_URL, http_client=http),
            cache=None,  # the daemon's answers are live state: never served from a client cache
            client_info=Implementation(name="mcp-discoveryd-bridge", version=__version__),
            read_timeout_seconds=HANDSHAKE_TIMEOUT,  # a socket that accepts but never answers
        )
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(client)
            except* (OSError, httpx2.HTTPError, MCPError, TimeoutError) as group:
                raise DaemonUnavailable(socket_path, _reason(group)) from None
            yield client


def build_bridge(daemon: Client, socket_path: str) -> Server[Any]:
    """The stdio-side server: every tools request goes to ``daemon``."""

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        try:
            return await daemon.list_tools(cursor=params.cursor if params else None)
        except (OSError, httpx2.HTTPError) as exc:
            text = str(DaemonUnavailable(socket_path, _reason(exc)))
            raise MCPError(types.INTERNAL_ERROR, text) from exc

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        try:
            return await daemon.call_tool(
                params.name, params.arguments, read_timeout_seconds=CALL_TIMEOUT
            )
        except (OSError, httpx2.HTTPError) as exc:
            text = str(DaemonUnavailable(socket_path, _reason(exc)))
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=text)], is_error=True
            )

    return Server(
        "mcp-discoveryd",
        version=__version__,
        instructions="Read and manage the MCP discovery cache of this host's mcp-discoveryd.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_bridge(socket_path: str) -> None:
    """Bridge stdin/stdout to the daemon until stdin closes; ``DaemonUnavailable`` at start."""
    async with connect(socket_path) as daemon:
        server = build_bridge(daemon, socket_path)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
