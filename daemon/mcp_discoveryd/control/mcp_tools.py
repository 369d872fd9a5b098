"""The daemon's operations as MCP tools, served at ``/mcp`` on the control socket.

Stateless streamable HTTP with JSON responses: each POST carries one request and
gets one JSON answer. There is no session table, no task or GET stream held per
client and nothing to expire, and a client (the stdio bridge, a gateway) keeps
working across a daemon restart. The tools never call back to the client (no
sampling or elicitation) and have no progress to stream, which is all a session
or SSE would buy. Both protocol eras are served (legacy ``initialize`` and
2026-07-28).

Built on the SDK's low-level ``Server`` over the definitions in ``mcp_tooldefs.py``
(strict argument models: ``MCPServer`` would ignore unknown arguments); a bad
argument, an unknown name or a refusal is a tool error whose text says why.

Authorization: a changing tool (``clear_cache``, ``discover_tools``) runs only when
the connection's peer (``control/peer.py``) may change the daemon; without a
recorded peer it is refused too. Reads follow the socket's file permissions.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp import MCPError
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types import INVALID_PARAMS
from pydantic import ValidationError
from pydantic_core import to_json
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from .. import __version__
from ..api import DaemonApi
from ..errors import DiscoverydError
from . import MCP_INSTRUCTIONS, MCP_SERVER_NAME
from .mcp_tooldefs import TOOLS, ToolDef
from .peer import peer_of

MCP_PATHS = frozenset({"/mcp", "/mcp/"})
MAX_BODY = 64 * 1024  # tool arguments are names and flags; the SDK's default is 4 MiB


def _tool_error(message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)],
        structured_content={"status": "error", "message": message},
        is_error=True,
    )


def invalid_arguments(tool: str, exc: ValidationError) -> str:
    """Every problem with the arguments, by field (never echoing the values given)."""
    problems = [
        f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
        for err in exc.errors(include_input=False, include_url=False)
    ]
    return f"invalid arguments for {tool}: " + "; ".join(problems)


def _refusal(tool: str, request: object) -> str | None:
    """Why the peer of this request may not run a changing tool, or None when it may."""
    scope = getattr(request, "scope", None)
    peer = peer_of(scope) if isinstance(scope, dict) else None
    if peer is None:
        return f"{tool} refused: the connection's peer is unknown, so changes are not allowed"
    if peer.may_change:
        return None
    return (
        f"{tool} refused: uid {peer.uid} may not change the daemon "
        "(root, the daemon's user or the admin group may)"
    )


def build_server(api: DaemonApi, tools: Sequence[ToolDef[Any]] = TOOLS) -> Server[Any]:
    """The MCP server whose tools call ``api``."""
    by_name = {t.name: t for t in tools}
    listing = types.ListToolsResult(tools=[t.listed() for t in tools])

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listing

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = by_name.get(params.name)
        if tool is None:
            raise MCPError(INVALID_PARAMS, f"unknown tool {params.name!r}")
        try:
            args = tool.args.model_validate(params.arguments or {})
        except ValidationError as exc:
            return _tool_error(invalid_arguments(tool.name, exc))
        if tool.changes and (why := _refusal(tool.name, ctx.request)) is not None:
            return _tool_error(why)
        try:
            result = await tool.run(api, args)
        except DiscoverydError as exc:  # unknown names, a stopping daemon: the caller's to fix
            return _tool_error(str(exc))
        # the text as the structured content goes on the wire (a non-finite number: null)
        text = to_json(result, inf_nan_mode="null").decode()
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)], structured_content=result
        )

    return Server(
        MCP_SERVER_NAME,
        version=__version__,
        instructions=MCP_INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


@dataclass(frozen=True, slots=True)
class McpEndpoint:
    """``/mcp`` on the control socket: the ASGI app and the lifespan to serve it within."""

    manager: StreamableHTTPSessionManager

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request to ``/mcp``; any other path under it is a 404."""
        if scope["type"] == "http" and scope["path"] not in MCP_PATHS:
            reply = JSONResponse({"error": f"no MCP endpoint at {scope['path']}"}, 404)
            await reply(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        """The SDK's session manager, entered once around serving."""
        return self.manager.run()


def mcp_endpoint(api: DaemonApi) -> McpEndpoint:
    """The daemon's MCP tools over stateless streamable HTTP with JSON responses.

    No DNS-rebinding check: that guards TCP ports a browser can reach, and no browser
    reaches a Unix socket; who connects is decided by the socket's mode and peer.
    """
    manager = StreamableHTTPSessionManager(
        app=build_server(api),
        json_response=True,
        stateless=True,
        security_settings=None,
        max_request_body_size=MAX_BODY,
    )
    return McpEndpoint(manager)
