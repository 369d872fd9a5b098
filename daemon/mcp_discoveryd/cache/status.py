"""The shapes that status and clear return: Enkrypt's, plus the daemon's own fields.

``cache_status`` follows Secure MCP Gateway's ``enkrypt_get_cache_status``
(``gateway_specific`` and ``global``); every time is real UTC in ISO 8601 and
every expiry figure is computed from the entries' own times at the moment of
the call. Clear accepts Enkrypt's ``cache_type`` values and aliases and answers
with its ``{"status", "message"}`` wording.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..config.settings import CacheSettings, GatewayConfig
from ..models import CacheType, JSONObject
from .base import ClearCounts, ClearScope, EntrySummary, Inspection
from .gate import PoolFigures
from .health import Health
from .memory import MemoryBackend
from .stats import StatsSnapshot

HOUR = 3600.0

CONFIG_ALIASES = frozenset({"gateway_config", "gateway", "gateway_cache", "gateway_config_cache"})
TOOLS_ALIASES = frozenset({"server_config", "tools"})
ALL_ALIASES = frozenset({"all"})


def iso_utc(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with a ``Z``; None for None and for a time that never
    comes or no calendar holds (config-defined entries never expire: ``inf``)."""
    if ts is None:
        return None
    try:
        text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):  # inf, nan, past year 9999
        return None
    return text.replace("+00:00", "Z")


def hours_until(ts: float, now: float) -> float:
    """Hours from now to ``ts`` (negative once past), to 4 decimals."""
    return round((ts - now) / HOUR, 4)


def clear_scope(
    gateway_id: str | None, server_name: str | None, cache_type: str | CacheType | None
) -> ClearScope:
    """What a clear request covers; ValueError for an unknown ``cache_type``.

    None means everything, as in Enkrypt, except that None with a server name
    means that server's tools (Enkrypt would drop every server's): a request
    that names a server is never widened. "all" always means everything.
    """
    value = cache_type.value if isinstance(cache_type, CacheType) else cache_type
    if value is None:
        if server_name is not None:
            return ClearScope(gateway_id, server_name, frozenset({CacheType.TOOLS}))
        return ClearScope(gateway_id, None, frozenset(CacheType))
    key = value.strip().lower()
    if key in ALL_ALIASES:
        return ClearScope(gateway_id, None, frozenset(CacheType))
    if key in CONFIG_ALIASES:
        return ClearScope(gateway_id, None, frozenset({CacheType.GATEWAY_CONFIG}))
    if key in TOOLS_ALIASES:
        return ClearScope(gateway_id, server_name, frozenset({CacheType.TOOLS}))
    accepted = sorted(ALL_ALIASES | CONFIG_ALIASES | TOOLS_ALIASES)
    raise ValueError(f"unknown cache_type {value!r}; use one of: {', '.join(accepted)}")


def clear_result(scope: ClearScope, counts: ClearCounts) -> JSONObject:
    """Enkrypt's ``{"status", "message"}`` for a finished clear."""
    tools, configs = counts.tool_caches, counts.config_caches
    config_word = "cleared" if configs else "none"
    every_gateway = scope.gateway_id is None
    where = " of all gateways" if every_gateway else ""
    if len(scope.types) == len(CacheType):
        if every_gateway:
            message = (
                f"Cache cleared for all gateways ({counts.gateways} gateways): "
                f"{tools} servers and {configs} gateway configs"
            )
        else:
            message = (
                f"Cache cleared for all servers ({tools} servers) "
                f"and gateway config ({config_word})"
            )
        return {"status": "success", "message": message}
    if scope.types == {CacheType.GATEWAY_CONFIG}:
        target = "all gateways" if every_gateway else scope.gateway_id
        if configs:
            return {"status": "success", "message": f"Gateway config cache cleared for {target}"}
        return {"status": "info", "message": f"No config cache found for {target}"}
    if scope.server_name is not None:
        if tools:
            return {
                "status": "success",
                "message": f"Cache cleared for server: {scope.server_name}",
            }
        return {"status": "info", "message": f"No cache found for server: {scope.server_name}"}
    return {
        "status": "success",
        "message": f"Cache cleared for all servers{where} ({tools} servers)",
    }


def cache_status(
    view: Inspection,
    gateway: GatewayConfig | None,
    settings: CacheSettings,
    *,
    now: float,
    backend: Mapping[str, Any],
) -> JSONObject:
    """The ``enkrypt_get_cache_status`` reply, with ``backend`` merged into ``global``."""
    totals = view.totals
    global_part: JSONObject = {
        "total_gateways": totals.gateways,
        "total_tool_caches": totals.tool_caches,
        "total_config_caches": totals.config_caches,
        "tool_cache_expiration_hours": round(settings.tool_ttl / HOUR, 4),
        "config_cache_expiration_hours": round(settings.config_ttl / HOUR, 4),
        "cache_type": "local" if settings.backend == "memory" else "external_cache",
        "stale_grace_hours": round(settings.stale_grace / HOUR, 4),
        "entries": totals.tool_caches + totals.config_caches,
        **backend,
    }
    specific = _gateway_part(view, gateway, now) if gateway is not None else None
    return {
        "status": "success",
        "cache_status": {"gateway_specific": specific, "global": global_part},
    }


def backend_fields(
    backend: str,
    health: Health,
    stats: StatsSnapshot,
    memory: MemoryBackend,
    *,
    pending: tuple[int, int],
    enkrypt_compat: bool,
    now: float,
    pool: PoolFigures | None = None,
) -> JSONObject:
    """The daemon's own ``global`` fields: store, health, requests, the memory tier, and
    the Redis pool's gate (its queue and busy counts; None without Redis).

    ``pending``: writes and clears not yet applied to the shared store (degraded mode).
    """
    return {
        "backend": backend,
        "health": health.state,
        "health_since": iso_utc(health.since),
        "degraded": None
        if health.ok
        else {
            "reason": health.reason,
            "retries": health.attempts,
            "next_retry_at": iso_utc(health.next_retry_at),
            "pending_writes": pending[0],
            "pending_clears": pending[1],
        },
        "requests": stats.results(),
        "decode_errors": stats.decode_errors,
        "bytes": memory.byte_count,
        "memory_tier": {
            "entries": memory.entry_count,
            "bytes": memory.byte_count,
            "max_entries": memory.max_entries,
            "max_bytes": memory.max_bytes,
            "evictions": memory.evictions,
        },
        "next_refresh_at": iso_utc(memory.next_refresh_at(now)),
        "enkrypt_compat": enkrypt_compat,
        "pool": None if pool is None else dataclasses.asdict(pool),
    }


def _gateway_part(view: Inspection, gateway: GatewayConfig, now: float) -> JSONObject:
    config = view.summaries.get((CacheType.GATEWAY_CONFIG, None))
    servers: JSONObject = {}
    for spec in gateway.servers:
        summary = view.summaries.get((CacheType.TOOLS, spec.name))
        explicit = spec.is_config_defined
        if summary is None:
            servers[spec.name] = {
                "tool_count": len(spec.tools or ()) if explicit else 0,
                "error": None,
                "are_tools_explicitly_defined": explicit,
                "needs_discovery": not explicit,
                **_expiry(None, now),
            }
        else:
            expired = now >= summary.expires_at
            servers[spec.name] = {
                "tool_count": summary.tool_count,
                "error": summary.error,
                "are_tools_explicitly_defined": explicit,
                "needs_discovery": not explicit and expired,
                **_expiry(summary, now),
                **_details(summary, now),
            }
    refresh_times = [s.refresh_at for s in view.summaries.values()]
    return {
        "gateway_id": gateway.id,
        "config": {**_expiry(config, now), **(_details(config, now) if config else {})},
        "tools": {"server_count": len(gateway.servers), "servers": servers},
        "next_refresh_at": iso_utc(min(refresh_times, default=None)),
    }


def _expiry(summary: EntrySummary | None, now: float) -> JSONObject:
    """Enkrypt's four expiry fields, from the entry's own times."""
    if summary is None:
        return {"exists": False, "expires_at": None, "expires_in_hours": None, "is_expired": True}
    return {
        "exists": True,
        "expires_at": iso_utc(summary.expires_at),
        "expires_in_hours": hours_until(summary.expires_at, now),
        "is_expired": now >= summary.expires_at,
    }


def _details(summary: EntrySummary, now: float) -> JSONObject:
    """The daemon's own per-entry fields."""
    return {
        "is_stale": summary.expires_at <= now < summary.stale_until,
        "source": summary.source,
        "fetched_at": iso_utc(summary.fetched_at),
        "refresh_at": iso_utc(summary.refresh_at),
        "stale_until": iso_utc(summary.stale_until),
        "consecutive_failures": summary.consecutive_failures,
        "blocked_count": summary.blocked_count,
        "bytes": summary.size,
    }


def describe_scope(scope: ClearScope) -> str:
    """A clear's scope in words: which entries of which servers and gateways."""
    if scope.types == {CacheType.GATEWAY_CONFIG}:
        what = "the gateway config entry"
    elif scope.types == {CacheType.TOOLS}:
        what = "the tools entries"
    else:
        what = "the tools and gateway config entries"
    servers = f" of server {scope.server_name!r}" if scope.server_name is not None else ""
    where = f"gateway {scope.gateway_id!r}" if scope.gateway_id is not None else "every gateway"
    return f"{what}{servers} of {where}"


def known_servers(scope: ClearScope, gateways: Sequence[GatewayConfig]) -> dict[str, list[str]]:
    """Configured gateways in scope and their server names (for Redis's clear)."""
    return {
        g.id: [s.name for s in g.servers]
        for g in gateways
        if scope.gateway_id is None or g.id == scope.gateway_id
    }
