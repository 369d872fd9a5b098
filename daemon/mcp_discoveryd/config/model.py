"""The loaded, validated configuration: frozen values that the rest of the daemon reads.

Loaders (``toml.py``, ``enkrypt.py``) turn files into these; nothing else reads
files or the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from ..models import DEFAULT_INHERIT_ENV, ServerSpec
from ..secret import Secret, SecretUrl

HOUR = 3600.0


def default_spawn_limit() -> int:
    """Concurrent stdio spawns: spawning is CPU-bound, so about the core count."""
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class DiscoverySettings:
    """How discovery talks to upstreams."""

    max_concurrent_spawns: int = field(default_factory=default_spawn_limit)
    default_timeout: float = 30.0  # seconds; per server, covering connect, listing and close
    page_cap: int = 100  # pages per list before the listing is cut off as an error
    max_reply_bytes: int = 8 * 1024 * 1024  # a catalog past this is an oversized reply
    mode: Literal["legacy", "auto"] = "legacy"  # handshake era; auto tries 2026-07-28 first
    inherit_env: tuple[str, ...] = DEFAULT_INHERIT_ENV  # what stdio children get of our env


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """Where results are kept and for how long."""

    backend: Literal["memory", "redis"] = "memory"
    url: SecretUrl | None = None  # may carry a password
    password: Secret | None = None
    cluster: bool = False
    sentinels: tuple[str, ...] = ()  # "host:port" of each sentinel
    sentinel_service: str = "mymaster"
    key_prefix: str = "mcpd"
    key_secret: Secret | None = None  # HMAC key for identifiers
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

    def gateway(self, gateway_id: str) -> GatewayConfig | None:
        return next((g for g in self.gateways if g.id == gateway_id), None)
