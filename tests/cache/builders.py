"""Entries, catalogs and configs for the cache tests, built from real MCP wire shapes."""

from __future__ import annotations

import time
from typing import Any

from mcp_discoveryd.cache import CacheStats, RedisBackend, redis_backend
from mcp_discoveryd.config.settings import CacheSettings, DaemonConfig, GatewayConfig
from mcp_discoveryd.models import (
    BlockedTool,
    CacheEntry,
    CacheType,
    Catalog,
    ErrorKind,
    JSONObject,
    ServerSpec,
    StdioTarget,
    UpstreamError,
)
from mcp_discoveryd.secret import Secret, SecretUrl

HOUR = 3600.0


def tool(i: int, *, rich: bool = True) -> JSONObject:
    """One tool as an upstream lists it; ``rich`` adds output schema, annotations and _meta."""
    out: JSONObject = {
        "name": f"tool_{i}",
        "description": f"Does thing {i} with the given input and returns a result.",
        "inputSchema": {
            "type": "object",
            "properties": {
                f"arg{j}": {"type": "string", "description": f"arg {j}"} for j in range(4)
            },
            "required": ["arg0"],
        },
    }
    if rich:
        out["title"] = f"Tool {i}"
        out["outputSchema"] = {"type": "object", "properties": {"result": {"type": "string"}}}
        out["annotations"] = {"readOnlyHint": True, "destructiveHint": False}
        out["_meta"] = {"example.com/version": i}
    return out


def catalog(tools: int = 3) -> Catalog:
    """A catalog with tools, a prompt, a resource and a resource template."""
    return Catalog(
        tools=tuple(tool(i) for i in range(tools)),
        prompts=({"name": "greet", "arguments": [{"name": "who", "required": True}]},),
        resources=({"uri": "file:///readme.md", "name": "readme", "mimeType": "text/markdown"},),
        resource_templates=({"uriTemplate": "file:///{path}", "name": "file"},),
    )


def entry(
    gateway_id: str = "gw-1",
    server_name: str | None = "server-a",
    *,
    now: float | None = None,
    ttl: float = 4 * HOUR,
    grace: float = HOUR,
    tools: int = 3,
    cache_type: CacheType = CacheType.TOOLS,
    private: bool = False,
    fetched_at: float | None = None,
    **fields: Any,
) -> CacheEntry:
    """A tools (or config) entry fetched at ``fetched_at`` (default: ``now``)."""
    now = time.time() if now is None else now
    fetched = now if fetched_at is None else fetched_at
    if cache_type is CacheType.GATEWAY_CONFIG:
        server_name = None
        fields.setdefault("gateway_config", {"id": gateway_id, "name": "", "servers": []})
    return CacheEntry(
        cache_type=cache_type,
        gateway_id=gateway_id,
        server_name=server_name,
        source="discovery" if cache_type is CacheType.TOOLS else "config",
        fetched_at=fetched,
        refresh_at=fetched + ttl * 0.8,
        expires_at=fetched + ttl,
        stale_until=fetched + ttl + grace,
        catalog=catalog(tools) if cache_type is CacheType.TOOLS else Catalog(),
        private=private,
        **fields,
    )


def full_entry(now: float | None = None) -> CacheEntry:
    """An entry with every field set, for round trips."""
    return entry(
        now=now,
        server_info={"name": "demo", "version": "1.2.3"},
        protocol_version="2025-06-18",
        capabilities={"tools": {"listChanged": True}, "prompts": {}},
        blocked_tools=(BlockedTool("rm_rf", ("denied by pattern 'rm_*'", "destructive")),),
        content_hash="sha256:abc",
        last_error=UpstreamError(
            ErrorKind.HTTP_STATUS, "503 from upstream", stderr_tail=("boom",), http_status=503
        ),
        consecutive_failures=2,
        definition="d1:" + "0" * 64,
        policy="d1:" + "1" * 64,
    )


def gateway(gateway_id: str = "gw-1", servers: tuple[str, ...] = ("server-a",)) -> GatewayConfig:
    """A gateway whose servers are stdio commands (never run by the cache tests)."""
    specs = tuple(ServerSpec(name=n, target=StdioTarget(command="true")) for n in servers)
    return GatewayConfig(id=gateway_id, servers=specs)


def config(
    settings: CacheSettings | None = None,
    gateways: tuple[GatewayConfig, ...] | None = None,
    fmt: str = "toml",
) -> DaemonConfig:
    """A daemon config around the given cache settings."""
    return DaemonConfig(
        path="<test>",
        format="enkrypt" if fmt == "enkrypt" else "toml",
        gateways=gateways if gateways is not None else (gateway(),),
        cache=settings or CacheSettings(),
    )


def redis_settings(url: str, **overrides: Any) -> CacheSettings:
    """Redis settings for a test server; a password or key secret given as text is held as a Secret."""
    for name in ("password", "key_secret", "sentinel_password"):
        if isinstance(overrides.get(name), str):
            overrides[name] = Secret(overrides[name])
    return CacheSettings(backend="redis", url=SecretUrl(url), **overrides)


def make_redis_backend(settings: CacheSettings, **client_options: Any) -> RedisBackend:
    """A Redis backend straight from settings (close it with ``aclose``)."""
    return redis_backend(config(settings), CacheStats(), **client_options)
