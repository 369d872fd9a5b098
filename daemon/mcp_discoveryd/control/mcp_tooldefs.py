"""The MCP tools' definitions: arguments, annotations, and what each one runs.

Each tool's arguments are a strict pydantic model that forbids unknown fields, so
its input schema says ``additionalProperties: false`` and a wrong type or an
unknown field is refused by name (``MCPServer`` would ignore unknown arguments).
Annotations are those ``reference/enkrypt-compat.md`` lists. ``changes`` marks the
tools that only peers that may change the daemon can run (``mcp_tools.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Literal, TypeVar

import mcp_types as types
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..api import DaemonApi
from ..auth.clearing import check_forget_logins
from ..config.settings import DaemonConfig
from ..discovery.selection import select
from ..errors import DiscoverydError
from ..models import JSONObject
from . import mcp_views as views

# cache/status.py's names and aliases (a test keeps the two equal), listed in the schema
CacheTypeName = Literal[
    "all",
    "gateway_config",
    "gateway",
    "gateway_cache",
    "gateway_config_cache",
    "server_config",
    "tools",
    "tokens",
    "oauth_tokens",
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
        "gateway_config_cache), server_config (or tools), or tokens (the OAuth access "
        "tokens held for upstreams; the next discovery gets new ones)",
    )
    forget_logins: bool = Field(
        False,
        description="with cache_type tokens: also forget the stored logins "
        "(authorization_code), so a person must run `auth login` again",
    )

    @model_validator(mode="after")
    def _logins_are_tokens(self) -> ClearArgs:
        check_forget_logins(self.cache_type, self.forget_logins)  # as the socket's clear
        return self


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
    return api.config


async def _status(api: DaemonApi, args: StatusArgs) -> JSONObject:
    views.gateways_of(_config(api), args.gateway)  # an unknown gateway is an error, not "all"
    return await api.status(args.gateway)


async def _clear(api: DaemonApi, args: ClearArgs) -> JSONObject:
    if args.gateway is not None or args.server_name is not None:
        select(_config(api), args.gateway, args.server_name)  # unknown names raise
    return await api.clear(
        args.gateway, args.server_name, args.cache_type, forget_logins=args.forget_logins
    )


async def _discover(api: DaemonApi, args: DiscoverArgs) -> JSONObject:
    report = await api.discover(args.gateway, args.server_name, refresh=args.refresh)
    return views.discover_json(report, args.server_name)


async def _list_servers(api: DaemonApi, args: ListServersArgs) -> JSONObject:
    config = _config(api)
    views.gateways_of(config, args.gateway)
    rows = (await api.status(args.gateway))["servers"]
    # a listing glances at every server's entry: not a catalog read to count
    return views.servers_json(config, args.gateway, rows, partial(api.catalog, counted=False))


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


READ = types.ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

TOOLS: tuple[ToolDef[Any], ...] = (
    ToolDef(
        "get_cache_status",
        "Cache status",
        "The daemon's state, every server's state and the cache status (Enkrypt's "
        "cache_status shape plus the daemon's fields).",
        StatusArgs,
        READ,
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
        READ,
        changes=True,
        run=_discover,
    ),
    ToolDef(
        "list_servers",
        "List servers",
        "Every configured server: gateway, transport, source, state, cache entry "
        "freshness and tool count.",
        ListServersArgs,
        READ,
        changes=False,
        run=_list_servers,
    ),
    ToolDef(
        "get_catalog",
        "Server catalog",
        "One server's cached catalog (tools, prompts, resources, templates) with its "
        "freshness, as checked by today's tool policy.",
        CatalogArgs,
        READ,
        changes=False,
        run=_catalog,
    ),
)
