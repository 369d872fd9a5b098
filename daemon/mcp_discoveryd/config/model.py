"""The loaded, validated configuration: frozen values that the rest of the daemon reads.

Loaders (``toml.py``, ``enkrypt.py``) turn files into these; nothing else reads
files or the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from ..models import ServerSpec

HOUR = 3600.0


def default_spawn_limit() -> int:
    """Live stdio children at most: the safety bound under the CPU admission (4 per core, >= 32)."""
    return max(32, 4 * (os.cpu_count() or 1))


@dataclass(frozen=True, slots=True)
class DiscoverySettings:
    """How discovery talks to upstreams."""

    max_concurrent_spawns: int = field(default_factory=default_spawn_limit)
    # "cpu": spawn while the starting children leave a core idle; "count": the cap alone
    spawn_admission: Literal["cpu", "handshake", "count"] = "cpu"
    default_timeout: float = 30.0  # seconds; per server, covering connect, listing and close
    page_cap: int = 100  # pages per list before the listing is cut off as an error
    max_reply_bytes: int = 8 * 1024 * 1024  # a catalog past this is an oversized reply
    mode: Literal["legacy", "auto"] = "legacy"  # handshake era; auto tries 2026-07-28 first


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """Where results are kept and for how long."""

    backend: Literal["memory", "redis"] = "memory"
    url: str | None = field(default=None, repr=False)  # may carry a password
    password: str | None = field(default=None, repr=False)
    cluster: bool = False
    sentinels: tuple[str, ...] = ()  # "host:port" of each sentinel
    sentinel_service: str = "mymaster"
    key_prefix: str = "mcpd"
    key_secret: str | None = field(default=None, repr=False)  # HMAC key for identifiers
    tool_ttl: float = 4 * HOUR
    config_ttl: float = 24 * HOUR
    stale_grace: float = 1 * HOUR  # served stale this long past expiry while refresh fails
    min_ttl: float = 60.0  # floor for an upstream's ttlMs hint
    max_entries: int = 10_000  # memory backend bound
    max_bytes: int = 256 * 1024 * 1024  # memory backend bound
    enkrypt_compat: bool | None = None  # None: on for an Enkrypt config with external cache


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """One gateway: its servers and the identities its cache entries are stored under."""

    id: str
    servers: tuple[ServerSpec, ...]
    name: str = ""
    cache_ids: tuple[str, ...] = ()  # empty means (id,)

    @property
    def effective_cache_ids(self) -> tuple[str, ...]:
        return self.cache_ids or (self.id,)

    def server(self, name: str) -> ServerSpec | None:
        return next((s for s in self.servers if s.name == name), None)


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """Everything the daemon was configured with."""

    path: str
    format: Literal["toml", "enkrypt"]
    gateways: tuple[GatewayConfig, ...]
    discovery: DiscoverySettings = DiscoverySettings()
    cache: CacheSettings = CacheSettings()
    extra_secrets: frozenset[str] = field(default=frozenset(), repr=False)  # API keys and such

    def gateway(self, gateway_id: str) -> GatewayConfig | None:
        return next((g for g in self.gateways if g.id == gateway_id), None)

    def secrets(self) -> frozenset[str]:
        """Every secret value in the config, so output paths can redact them."""
        found: set[str] = set()
        for gw in self.gateways:
            for spec in gw.servers:
                t = spec.target
                found.update(getattr(t, "env", {}).values())
                found.update(getattr(t, "headers", {}).values())
        for value in (self.cache.password, self.cache.key_secret):
            if value:
                found.add(value)
        found.update(self.extra_secrets)
        return frozenset(v for v in found if len(v) >= 4)
