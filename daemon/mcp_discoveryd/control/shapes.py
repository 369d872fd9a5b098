"""Request bodies and answer shapes of the control routes, and the server-name index."""

from __future__ import annotations

import time

from ..app import Daemon
from ..auth.clearing import check_forget_logins, is_token_type
from ..cache.status import clear_scope
from ..config.settings import DaemonConfig
from ..errors import UnknownTargetError
from ..models import CacheType, DiscoveryReport, JSONObject
from ..report import report_json, server_json
from .catalogs import iso
from .http import Body, HttpError


class DiscoverBody(Body):
    """POST /v1/discover: one server, a gateway, or all (neither given)."""

    gateway: str | None = None
    server: str | None = None
    refresh: bool = True  # False: a fresh cached catalog answers without asking the upstream


class ClearBody(Body):
    """POST /v1/cache/clear: Enkrypt's ``clear_cache`` arguments."""

    gateway: str | None = None
    server: str | None = None
    cache_type: str | None = None  # all, gateway_config (and aliases), server_config, tokens
    forget_logins: bool = False  # tokens: also drop stored logins (auth login again)


class ReloadBody(Body):
    """POST /v1/reload: takes nothing."""


class AcceptBody(Body):
    """POST /v1/servers/{name}/accept: one tool's pending change, or every one (no tool)."""

    gateway: str | None = None
    tool: str | None = None


class ServerIndex:
    """Which gateways hold each server name, rebuilt when the config object changes."""

    def __init__(self) -> None:
        self._config: DaemonConfig | None = None
        self._holders: dict[str, tuple[str, ...]] = {}

    def _update(self, config: DaemonConfig) -> None:
        if config is self._config:
            return
        holders: dict[str, list[str]] = {}
        for gateway in config.gateways:
            for spec in gateway.servers:
                holders.setdefault(spec.name, []).append(gateway.id)
        self._holders = {name: tuple(ids) for name, ids in holders.items()}
        self._config = config

    def gateway(self, config: DaemonConfig, gateway_id: str) -> str:
        """``gateway_id`` if the config has it; 404 naming the known ones otherwise."""
        if config.gateway(gateway_id) is None:
            known = [g.id for g in config.gateways]
            raise HttpError(404, str(UnknownTargetError("gateway", gateway_id, known)))
        return gateway_id

    def resolve(self, config: DaemonConfig, gateway_id: str | None, server: str) -> str:
        """The gateway of ``server``: the one given, or the only one holding it."""
        self._update(config)
        holders = self._holders.get(server, ())
        if gateway_id is not None:
            if gateway_id in holders:
                return gateway_id
            self.gateway(config, gateway_id)
            gw = config.gateway(gateway_id)
            known = [s.name for s in gw.servers] if gw is not None else []
            raise HttpError(404, str(UnknownTargetError("server", server, known)))
        if not holders:
            raise HttpError(404, str(UnknownTargetError("server", server, list(self._holders))))
        if len(holders) > 1:
            raise HttpError(
                400,
                f"server {server!r} is in several gateways ({', '.join(holders)}): "
                "say which with gateway",
            )
        return holders[0]


def check_clear(
    gateway: str | None, server: str | None, cache_type: str | None, forget_logins: bool = False
) -> None:
    """400 for a cache type neither ``clear_scope`` nor the token cache knows."""
    if is_token_type(cache_type):
        return
    try:
        check_forget_logins(cache_type, forget_logins)
        clear_scope(gateway, server, cache_type)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None


def discover_json(report: DiscoveryReport, *, one: bool) -> JSONObject:
    """The Enkrypt discover shapes: one server's answer, or the all-servers report."""
    if not one or len(report.outcomes) != 1:
        return report_json(report)
    outcome = report.outcomes[0]
    body = server_json(outcome)
    body["server_name"] = outcome.server_name
    if outcome.ok:
        body["message"] = f"Discovered {len(outcome.catalog.tools)} tools"
    else:
        body["message"] = outcome.error.message if outcome.error else "discovery failed"
    return body


def health_json(daemon: Daemon) -> JSONObject:
    """Live (it answers), ready, and the parts that are degraded."""
    degraded: list[JSONObject] = []
    if daemon.phase in ("preloading", "ready"):
        health = daemon.cache.health
        if not health.ok:
            degraded.append({"part": "cache", "reason": health.reason})
        for (gw, name), handle in daemon.actors.handles.items():
            if handle.state.phase == "failed":
                degraded.append({"part": "server", "server": f"{gw}/{name}", "reason": "failed"})
    if daemon.reload_error:
        degraded.append({"part": "config", "reason": daemon.reload_error})
    ready = daemon.phase == "ready"
    status = ("degraded" if degraded else "ok") if ready else daemon.phase
    return {
        "status": status,
        "live": True,
        "ready": ready,
        "state": daemon.phase,
        "degraded": degraded,
    }


def servers_json(daemon: Daemon, gateway_id: str | None) -> JSONObject:
    """Every configured server: its gateway, kind, state, freshness and tool count."""
    handles = daemon.actors.handles
    now = time.time()
    rows: list[JSONObject] = []
    for gateway in daemon.config.gateways:
        if gateway_id is not None and gateway.id != gateway_id:
            continue
        for spec in gateway.servers:
            key = (gateway.id, spec.name)
            if spec.is_config_defined:
                entry = daemon.config_entries.get(key)
                state = "config"
            else:
                entry = daemon.cache.lookup(CacheType.TOOLS, gateway.id, spec.name)
                handle = handles.get(key)
                state = handle.state.phase if handle is not None else "none"
            rows.append(
                {
                    "gateway": gateway.id,
                    "server": spec.name,
                    "transport": spec.target.transport.value,
                    "source": "config" if spec.is_config_defined else "discovery",
                    "state": state,
                    "freshness": entry.freshness(now) if entry is not None else "none",
                    "tool_count": entry.catalog.tool_count if entry is not None else 0,
                    "expires_at": iso(entry.expires_at) if entry is not None else None,
                }
            )
    return {"servers": rows}
