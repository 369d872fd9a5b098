"""``mcp-discoveryd mcp``: a stdio MCP server that forwards to the daemon's ``/mcp``.

MCP clients that spawn their servers (Claude Desktop, IDEs, gateways) reach the
daemon's tools through it: an MCP server on stdin/stdout (the SDK's, negotiating
either protocol era with its client) whose ``tools/list`` and ``tools/call`` are sent
on to the daemon unchanged, annotations, schemas and structured content included.

The daemon side is one JSON-RPC request per POST (``DaemonLink``), not an SDK
client session: ``/mcp`` is stateless with JSON answers, so a request needs no
handshake before it, and each one fails on its own. The SDK's streamable HTTP
client parks a request whose POST cannot connect until its read timeout, and its
writer is gone afterwards; with one POST per request, a call made while no daemon
answers gets a tool error at once, and the next call after a daemon restart works.

The connection runs as the bridge's user: the socket's permissions and peer
credentials decide what it may do, exactly as for any other client.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, TypeVar

import anyio
import httpx2
import mcp_types as types
from mcp import MCPError
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import BaseModel, ValidationError

from .. import __version__
from ..errors import DaemonUnavailable
from . import MCP_INSTRUCTIONS, MCP_SERVER_NAME

logger = logging.getLogger(__name__)

DEFAULT_SOCKET = "/run/mcp-discoveryd/control.sock"
# Any host name does over a Unix socket; this one shows in the daemon's access log.
MCP_URL = "http://mcp-discoveryd/mcp"
CONNECT_TIMEOUT = 5.0
# discover_tools waits for upstreams (each bounded by its own deadline, 30 s by default)
CALL_TIMEOUT = 300.0
HEADERS = {
    "accept": "application/json, text/event-stream",
    # a handshake-era version: the daemon's stateless legacy path, born ready
    "mcp-protocol-version": HANDSHAKE_PROTOCOL_VERSIONS[-1],
}

R = TypeVar("R", bound=BaseModel)


def _reason(exc: BaseException) -> str:
    """An exception as one line."""
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


class DaemonLink:
    """Requests to the daemon's ``/mcp`` over its Unix socket, one POST each."""

    def __init__(self, http: httpx2.AsyncClient, socket_path: str) -> None:
        self._http = http
        self.socket_path = socket_path
        self._ids = itertools.count(1)

    async def request(self, method: str, params: BaseModel | None, result: type[R]) -> R:
        """The daemon's result; ``MCPError`` for its error, ``DaemonUnavailable`` for no answer."""
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        if params is not None:
            # _meta (progress token, era keys) belongs to the stdio session, not to this POST
            body["params"] = params.model_dump(
                by_alias=True, mode="json", exclude_none=True, exclude={"meta"}
            )
        try:
            reply = await self._http.post(MCP_URL, json=body, headers=HEADERS)
        except httpx2.TransportError as exc:
            raise DaemonUnavailable(self.socket_path, _reason(exc)) from None
        if reply.status_code != 200:
            raise DaemonUnavailable(self.socket_path, f"HTTP {reply.status_code} on /mcp")
        try:
            message = types.JSONRPCResponse.model_validate_json(reply.content)
        except ValidationError:
            try:
                failed = types.JSONRPCError.model_validate_json(reply.content)
            except ValidationError:
                raise DaemonUnavailable(self.socket_path, "not an MCP answer") from None
            raise MCPError(failed.error.code, failed.error.message, failed.error.data) from None
        return result.model_validate(message.result)


def build_bridge(link: DaemonLink) -> Server[Any]:
    """The stdio-side server: every tools request goes to the daemon through ``link``."""

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        try:
            return await link.request("tools/list", params, types.ListToolsResult)
        except DaemonUnavailable as exc:
            raise MCPError(types.INTERNAL_ERROR, str(exc)) from None

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        try:
            return await link.request("tools/call", params, types.CallToolResult)
        except DaemonUnavailable as exc:
            text = types.TextContent(type="text", text=str(exc))
            return types.CallToolResult(content=[text], is_error=True)

    return Server(
        MCP_SERVER_NAME,
        version=__version__,
        instructions=MCP_INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_bridge(socket_path: str) -> None:
    """Bridge stdin/stdout to the daemon until stdin closes; ``DaemonUnavailable`` at start."""
    transport = httpx2.AsyncHTTPTransport(uds=socket_path)
    timeout = httpx2.Timeout(CONNECT_TIMEOUT, read=CALL_TIMEOUT)
    async with httpx2.AsyncClient(transport=transport, timeout=timeout) as http:
        link = DaemonLink(http, socket_path)
        try:
            with anyio.fail_after(CONNECT_TIMEOUT * 2):  # a socket that accepts, never answers
                await link.request("ping", None, types.EmptyResult)
        except TimeoutError:
            raise DaemonUnavailable(socket_path, "no answer to ping") from None
        server = build_bridge(link)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
