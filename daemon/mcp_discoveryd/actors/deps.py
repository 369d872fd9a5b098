"""What every server actor uses and none owns: the fetcher, the cache, the guardrails,
the refresh coordinator, a clock. Each is safe to share between actors."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..cache.lease import Coordinator, LocalCoordinator
from ..config.settings import DaemonConfig, DaemonSettings
from ..discovery import guardrails
from ..discovery.selection import CatalogCache, Fetcher
from ..models import CacheEntry, CacheType

if TYPE_CHECKING:
    from .watcher import WatchPool


class ActorCache(CatalogCache, Protocol):
    """What an actor needs of the cache: discovery's part and a synchronous memory read."""

    def lookup(
        self, cache_type: CacheType, gateway_id: str, server_name: str | None
    ) -> CacheEntry | None:
        """The entry held in memory, or None."""
        ...


@dataclass(frozen=True, slots=True)
class ActorDeps:
    """What every server actor uses and none owns (each is safe to share)."""

    config: DaemonConfig  # the config the actor was started under
    fetcher: Fetcher
    cache: ActorCache
    checks: guardrails.Guardrails = field(default_factory=guardrails.Guardrails)
    # leases across daemons on one Redis; alone, every lease is granted
    coordinator: Coordinator = field(default_factory=LocalCoordinator)
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    watch: WatchPool | None = None  # list_changed watching; None: nothing is watched

    @property
    def settings(self) -> DaemonSettings:
        return self.config.daemon
