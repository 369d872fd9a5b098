"""The daemon's status (``DaemonApi.status``): its own fields, a row per server, the cache's.

Status is read often (operators, dashboards, the CLI) and covers every server, so a
server's row is kept while what it shows stays the same objects: the actor's state
snapshot (replaced on every change), its cache entry (immutable) and the entry's
freshness (which moves with the clock). A row holds no time relative to now. Its JSON
text is kept beside it, so ``/v1/status`` joins encoded rows instead of encoding 10,000
dictionaries per request.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import __version__
from .actors.messages import ActorState
from .auth.clearing import oauth_servers
from .cache.status import iso_utc
from .discovery.guardrails import tooldiff
from .models import CacheEntry, CacheType, JSONObject

if TYPE_CHECKING:
    from .app import Daemon

Key = tuple[str, str]


@dataclass(slots=True)
class Row:
    """One server's status row and what it was made from (its text made on first use).

    ``row`` holds nothing relative to now; an actor's row gets ``next_run_in_s`` (seconds
    until its next refresh or retry) added as it is answered.
    """

    state: ActorState | None
    entry: CacheEntry | None
    freshness: str
    row: JSONObject
    text: bytes | None = field(default=None)

    def at(self, now: float) -> JSONObject:
        """The row as answered at ``now``."""
        if self.state is None:
            return self.row
        return {**self.row, "next_run_in_s": self._in(now)}

    def encoded(self, now: float) -> bytes:
        """The row as JSON text at ``now``."""
        if self.text is None:
            self.text = json.dumps(self.row).encode()
        if self.state is None:
            return self.text
        return self.text[:-1] + b', "next_run_in_s": ' + json.dumps(self._in(now)).encode() + b"}"

    def _in(self, now: float) -> float | None:
        at = self.state.next_run_at if self.state is not None else None
        return round(at - now, 1) if at else None


class StatusRows:
    """Builds status for one daemon, keeping each server's row until it changes."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        self._rows: dict[Key, Row] = {}

    async def parts(
        self, gateway_id: str | None, now: float
    ) -> tuple[JSONObject, list[Row], JSONObject]:
        """The daemon's own fields, the rows in config order, and the cache status."""
        daemon = self._daemon
        handles = daemon.actors.handles
        lookup = daemon.cache.lookup
        kept, rows = self._rows, {}
        for gw in daemon.config.gateways:
            for spec in gw.servers:
                key = (gw.id, spec.name)
                if spec.is_config_defined:
                    entry = daemon.config_entries.get(key)
                    state = None
                elif (handle := handles.get(key)) is not None:
                    state, entry = handle.state, lookup(CacheType.TOOLS, *key)
                else:
                    continue
                freshness = entry.freshness(now) if entry is not None else "none"
                old = kept.get(key)
                if old and old.state is state and old.entry is entry and old.freshness == freshness:
                    rows[key] = old
                elif state is None:
                    rows[key] = Row(None, entry, freshness, _config_row(key, entry))
                else:
                    rows[key] = Row(
                        state, entry, freshness, _actor_row(key, state, entry, freshness)
                    )
        self._rows = rows  # replaced whole: removed servers' rows go with it
        gateway = daemon.config.gateway(gateway_id) if gateway_id is not None else None
        return self._head(now), list(rows.values()), await daemon.cache.status(gateway)

    async def status(self, gateway_id: str | None) -> JSONObject:
        """The whole status (the rows are shared with later answers: never change them)."""
        now = time.time()
        head, rows, tail = await self.parts(gateway_id, now)
        return {"daemon": head, "servers": [row.at(now) for row in rows], **tail}

    async def encoded(self, gateway_id: str | None) -> bytes:
        """The whole status as JSON text, from the kept row texts."""
        now = time.time()
        head, rows, tail = await self.parts(gateway_id, now)
        servers = b", ".join(row.encoded(now) for row in rows)
        rest = json.dumps(tail).encode()
        rest = b", " + rest[1:] if len(rest) > 2 else b"}"
        return (
            b'{"daemon": ' + json.dumps(head).encode() + b', "servers": [' + servers + b"]" + rest
        )

    def _head(self, now: float) -> JSONObject:
        daemon = self._daemon
        handles = daemon.actors.handles
        health = daemon.cache.health
        return {
            "version": __version__,
            "state": daemon.phase,
            "uptime_s": round(now - daemon.started_at, 1),
            "config": daemon.config.path,
            "started_at": daemon.started_at,
            "ready_at": daemon.ready_at,
            "reload_error": daemon.reload_error,
            "last_reload": dict(daemon.last_reload) if daemon.last_reload is not None else None,
            "backend": {
                "name": daemon.cache.backend,
                "health": health.state,
                "since": health.since,
                "reason": health.reason,
            },
            "preloaded": sum(1 for h in handles.values() if h.preloaded.is_set()),
            "actors": len(handles),
            "config_defined": len(daemon.config_entries),
            "watch": daemon.deps.watch.status() if daemon.deps.watch is not None else None,
            "oauth": oauth_rows(daemon),
        }


def oauth_rows(daemon: Daemon) -> list[JSONObject]:
    """Per OAuth-protected server: whether a token is held and when it expires (never the token)."""
    tokens = daemon.tokens
    if tokens is None:
        return []
    rows: list[JSONObject] = []
    for server in oauth_servers(daemon.config):
        state = tokens.status_of(server.oauth, server.url)
        rows.append(
            {
                "gateway": server.gateway,
                "server": server.server,
                "client_id": state.client_id,
                "token_held": state.held,
                "expires_at": _iso(state.expires_at),
                "last_error": state.last_error,
                "login_required": state.login_required,
            }
        )
    return rows


def _iso(epoch: float | None) -> str | None:
    """UTC epoch seconds as ISO 8601 with a Z."""
    return iso_utc(epoch)


def _entry_fields(entry: CacheEntry | None, freshness: str) -> JSONObject:
    """What a status row says of a server's entry: freshness, counts and times (UTC ISO)."""
    if entry is None:
        return {"entry": "none", "source": None, "tool_count": 0}
    return {
        "entry": freshness,
        "source": entry.source,
        "tool_count": entry.catalog.tool_count,
        "fetched_at": _iso(entry.fetched_at),
        "refresh_at": _iso(entry.refresh_at),
        "expires_at": _iso(entry.expires_at),
        "consecutive_failures": entry.consecutive_failures,
    }


def _actor_row(
    key: tuple[str, str], state: ActorState, entry: CacheEntry | None, freshness: str
) -> JSONObject:
    """A discovered server's status row: its actor's state and its entry's."""
    return {
        "gateway": key[0],
        "server": key[1],
        "state": state.phase,
        **_entry_fields(entry, freshness),
        "runs": state.runs,
        "failures": state.failures,
        "restarts": state.restarts,
        "last_status": state.last_status,
        "last_error": state.last_error.to_json() if state.last_error else None,
        "next_refresh": _iso(state.next_run_at),
        "note": state.note,
        **changes_json(entry),
    }


def _config_row(key: tuple[str, str], entry: CacheEntry | None) -> JSONObject:
    """A config-defined server's status row: never discovered, never refreshed."""
    return {
        "gateway": key[0],
        "server": key[1],
        "state": "config",
        "entry": "fresh" if entry is not None else "none",
        "source": "config",
        "tool_count": entry.catalog.tool_count if entry is not None else 0,
        "blocked": [b.name for b in entry.blocked_tools] if entry is not None else [],
    }


def changes_json(entry: CacheEntry | None) -> JSONObject:
    """A server's pending tool changes and withheld tools, for status."""
    if entry is None:
        return {"tool_changes": [], "withheld": []}
    withheld = [
        b.name
        for b in entry.blocked_tools
        if any(r.startswith(tooldiff.WITHHELD) for r in b.reasons)
    ]
    return {
        "tool_changes": [tooldiff.change_json(c) for c in entry.tool_changes],
        "withheld": withheld,
    }
