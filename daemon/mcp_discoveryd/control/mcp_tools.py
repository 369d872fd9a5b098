"""The daemon's operations as MCP tools, served at ``/mcp`` on the control socket.

Stateless streamable HTTP with JSON responses: each POST carries one request and
gets one JSON answer. There is no session table, no task or GET stream held per
client and nothing to expire, and a client (the stdio bridge, a gateway) keeps
working across a daemon restart. The tools never call back to the client (no
sampling or elicitation) and have no progress to stream, which is all a session
or SSE would buy. Both protocol eras are served (legacy ``initialize`` and
2026-07-28).

Built on the SDK's low-level ``Server``: each tool's arguments are a strict pydantic
model that forbids unknown fields, so its input schema says
``additionalProperties: false`` and a wrong type or an unknown field is answered
with a tool error naming the field (``MCPServer`` ignores unknown arguments).

Authorization: a changing tool (``clear_cache``, ``discover_tools``) runs only when
the connection's peer (``control/peer.py``) may change the daemon; without a
recorded peer it is refused too. Reads follow the socket's file permissions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import mcp_types as types
from mcp import MCPError
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types import INVALID_PARAMS
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from .. import __version__
from ..api import DaemonApi
from ..config.settings import DaemonConfig
from ..discovery.phases import select
from ..errors import DiscoverydError
from ..models import JSONObject
from . import mcp_views as views
from .peer import peer_of

logger = logging.getLogger(__name__)

MCP_PATHS = frozenset({"/mcp", "/mcp/"})
MAX_BODY = 64 * 1024  # tool arguments are names and flags; the SDK's default is 4 MiB
# cache/status.py's names and aliases (a test keeps the two equal), listed in the schema
CacheTypeName = Literal[
    "all",
    "gateway_config",
    "gateway",
    "gateway_cache",
    "gateway_config_cache",
    "server_config",
    "tools",
]


class _Args(BaseModel):
    """Tool arguments: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class StatusArgs(_Args):
    """get_cache_status arguments."""

    gateway: str | None = Field(None, description="include this gateway's entries (config id)")


class ClearArgs(_Args):
    """clear_cache arguments."""

    gateway: str | None = Field(None, description="only this gateway (default: every gateway)")
    server_name: str | None = Field(None, description="only this server's tools")
    cache_type: CacheTypeName | None = Field(
        None,
        description="all (default), gateway_config (or gateway, gateway_cache, "
        "gateway_config_cache), or server_config (or tools)",
    )


class DiscoverArgs(_Args):
    """discover_tools arguments."""

    server_name: str | None = Field(None, description="only this server (default: all)")
    gateway: str | None = Field(None, description="only this gateway (default: all)")
    refresh: bool = Field(True, description="ask the upstreams even when a fresh catalog is cached")


class ListServersArgs(_Args):
    """list_servers arguments."""

    gateway: str | None = Field(None, description="only this gateway (default: all)")


class CatalogArgs(_Args):
    """get_catalog arguments."""

    server_name: str = Field(description="the server whose cached catalog to read")
    gateway: str | None = Field(
        None, description="its gateway (needed only when several gateways have the name)"
    )


A = TypeVar("A", bound=_Args)
Run = Callable[[DaemonApi, A], Awaitable[JSONObject]]


@dataclass(frozen=True, slots=True)
class ToolDef(Generic[A]):
    """One tool: what is listed, how its arguments are read, and what it runs."""

    name: str
    title: str
    description: str
    args: type[A]
    annotations: types.ToolAnnotations
    changes: bool  # refused unless the peer may change the daemon
    run: Run[A]

    def listed(self) -> types.Tool:
        """The tool as ``tools/list`` shows it."""
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.args.model_json_schema(),
            output_schema={"type": "object"},
            annotations=self.annotations,
        )


def _config(api: DaemonApi) -> DaemonConfig:
    """The running config (the one ``DaemonApi`` answers for; read per call: reloads swap it)."""
    return api._daemon.config  # DaemonApi offers no public config yet


async def _status(api: DaemonApi, args: StatusArgs) -> JSONObject:
    views.gateways_of(_config(api), args.gateway)  # an unknown gateway is an error, not "all"
    return await api.status(args.gateway)


async def _clear(api: DaemonApi, args: ClearArgs) -> JSONObject:
    if args.gateway is not None or args.server_name is not None:
        select(_config(api), args.gateway, args.server_name)  # unknown names raise
    return await api.clear(args.gateway, args.server_name, args.cache_type)


async def _discover(api: DaemonApi, args: DiscoverArgs) -> JSONObject:
    report = await api.discover(args.gateway, args.server_name, refresh=args.refresh)
    return views.discover_json(report, args.server_name)


async def _list_servers(api: DaemonApi, args: ListServersArgs) -> JSONObject:
    config = _config(api)
    views.gateways_of(config, args.gateway)
    rows = (await api.status(args.gateway))["servers"]
    return views.servers_json(config, args.gateway, rows, api.catalog)


async def _catalog(api: DaemonApi, args: CatalogArgs) -> JSONObject:
    gateway = views.gateway_of_server(_config(api), args.server_name, args.gateway)
    entry = api.catalog(gateway, args.server_name)
    if entry is None:
        raise _NoCatalog(gateway, args.server_name)
    return views.catalog_json(entry)


class _NoCatalog(DiscoverydError):
    """The server has no catalog to serve (not discovered yet, or past its grace period)."""

    def __init__(self, gateway: str, server: str) -> None:
        super().__init__(
            f"no catalog cached for {gateway}/{server} (not discovered yet, or expired past "
            "its grace period); discover_tools fetches it"
        )


_READ = types.ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

TOOLS: tuple[ToolDef[Any], ...] = (
    ToolDef(
        "get_cache_status",
        "Cache status",
        "The daemon's state, every server's state and the cache status (Enkrypt's "
        "cache_status shape plus the daemon's fields).",
        StatusArgs,
        _READ,
        changes=False,
        run=_status,
    ),
    ToolDef(
        "clear_cache",
        "Clear the cache",
        "Clear cached entries by gateway, server and cache type; cleared servers are "
        "discovered again at once.",
        ClearArgs,
        types.ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
        ),
        changes=True,
        run=_clear,
    ),
    ToolDef(
        "discover_tools",
        "Discover tools",
        "Discover one server, a gateway or all servers (joining discoveries already in "
        "flight); returns tools, prompts, resources and what the guardrails blocked.",
        DiscoverArgs,
        # The reference's annotations (Enkrypt's discover_all_tools): a hint for models
        # that it changes nothing they own; the socket still treats it as a change.
        _READ,
        changes=True,
        run=_discover,
    ),
    ToolDef(
        "list_servers",
        "List servers",
        "Every configured server: gateway, transport, source, state, cache entry "
        "freshness and tool count.",
        ListServersArgs,
        _READ,
        changes=False,
        run=_list_servers,
    ),
    ToolDef(
        "get_catalog",
        "Server catalog",
        "One server's cached catalog (tools, prompts, resources, templates) with its "
        "freshness, as checked by today's tool policy.",
        CatalogArgs,
        _READ,
        changes=False,
        run=_catalog,
    ),
)


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
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(result))],
            structured_content=result,
        )

    return Server(
        "mcp-discoveryd",
        version=__version__,
        instructions="Read and manage the MCP discovery cache of this host's mcp-discoveryd.",
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
