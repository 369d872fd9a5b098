"""The JSON the MCP tools answer with, built from the daemon's API and config.

Nothing here reads a secret: a server is shown by name, gateway, transport and
description (never its command, arguments, environment, URL or headers), and
catalogs are the guardrail-checked entries ``DaemonApi.catalog`` serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ..cache.status import iso_utc
from ..config.settings import DaemonConfig, GatewayConfig
from ..errors import AmbiguousServerError, UnknownTargetError
from ..models import CacheEntry, DiscoveryReport, JSONObject
from ..report import report_json, server_json
from .catalogs import entry_json

CatalogOf = Callable[[str, str], CacheEntry | None]


def _iso(ts: float) -> str | None:
    """ISO 8601 UTC, or None for a time that never comes (config-defined entries never expire)."""
    return iso_utc(ts)


def gateways_of(config: DaemonConfig, gateway_id: str | None) -> Sequence[GatewayConfig]:
    """The gateways a request covers: one by id, or all; ``UnknownTargetError`` if unknown."""
    if gateway_id is None:
        return config.gateways
    gateway = config.gateway(gateway_id)
    if gateway is None:
        raise UnknownTargetError("gateway", gateway_id, [g.id for g in config.gateways])
    return (gateway,)


def gateway_of_server(config: DaemonConfig, server_name: str, gateway_id: str | None) -> str:
    """The gateway serving ``server_name``: the one named, else the only one that has it.

    A server name found in several gateways needs the gateway named (never a guess).
    """
    holders = [g.id for g in gateways_of(config, gateway_id) if g.server(server_name)]
    if not holders:
        known = {s.name for g in gateways_of(config, gateway_id) for s in g.servers}
        raise UnknownTargetError("server", server_name, sorted(known))
    if len(holders) > 1:
        raise AmbiguousServerError(server_name, holders)
    return holders[0]


def servers_json(
    config: DaemonConfig, gateway_id: str | None, rows: Sequence[JSONObject], catalog: CatalogOf
) -> JSONObject:
    """Every configured server of the gateway(s): how it is reached, its state and entry."""
    states = {(r["gateway"], r["server"]): r for r in rows}
    now = time.time()
    servers: list[JSONObject] = []
    for gateway in gateways_of(config, gateway_id):
        for spec in gateway.servers:
            row = states.get((gateway.id, spec.name), {})
            entry = catalog(gateway.id, spec.name)
            servers.append(
                {
                    "gateway": gateway.id,
                    "server_name": spec.name,
                    "description": spec.description,
                    "transport": spec.target.transport.value,
                    "source": "config" if spec.is_config_defined else "discovery",
                    "state": row.get("state", "config" if spec.is_config_defined else "none"),
                    "entry": entry.freshness(now) if entry is not None else "none",
                    "tool_count": entry.catalog.tool_count if entry is not None else None,
                    "blocked_count": len(entry.blocked_tools) if entry is not None else None,
                    "fetched_at": _iso(entry.fetched_at) if entry is not None else None,
                    "expires_at": _iso(entry.expires_at) if entry is not None else None,
                    "next_run_in_s": row.get("next_run_in_s"),
                    "last_error": row.get("last_error"),
                    "pending_tool_changes": len(row.get("tool_changes", ())),
                }
            )
    return {"status": "success", "server_count": len(servers), "servers": servers}


def catalog_json(entry: CacheEntry) -> JSONObject:
    """One server's served catalog with its freshness: the HTTP API's catalog answer
    (``catalogs.entry_json``), with the Enkrypt-style ``status`` and ``server_name``."""
    body = entry_json(entry.gateway_id, entry, time.time())
    return {"status": "success", "server_name": entry.server_name, **body}


def discover_json(report: DiscoveryReport, server_name: str | None) -> JSONObject:
    """A run's report: Enkrypt's one-server shape when one server was named, else all-servers."""
    if server_name is None or len(report.outcomes) != 1:
        return report_json(report)
    outcome = report.outcomes[0]
    one = server_json(outcome)
    tools = len(outcome.catalog.tools)
    if outcome.ok:
        message = f"Discovered {tools} tools for {server_name} (source: {outcome.source})"
    else:
        reason = outcome.error.message if outcome.error else "; ".join(outcome.violations)
        message = f"Discovery failed for {server_name}: {reason}"
    return {"status": one["status"], "server_name": server_name, "message": message, **one}
