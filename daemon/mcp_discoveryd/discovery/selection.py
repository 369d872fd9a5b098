"""What a discovery run covers (``select``) and the two parts it is given: a ``Fetcher``
of upstream catalogs and a ``CatalogCache`` it reads and records into."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..config.settings import DaemonConfig, GatewayConfig
from ..errors import UnknownTargetError
from ..models import CacheEntry, ServerOutcome, ServerSpec, UpstreamResult


class Fetcher(Protocol):
    """Anything that can list one upstream's catalog (the real one is UpstreamClient)."""

    async def fetch(self, spec: ServerSpec) -> UpstreamResult: ...


class CatalogCache(Protocol):
    """The part of the cache that discovery reads and writes."""

    async def catalog(self, gateway_id: str, spec: ServerSpec) -> CacheEntry | None:
        """The live entry made from this definition (fresh or stale), or None."""
        ...

    async def record(
        self, outcomes: Sequence[ServerOutcome], gateways: Sequence[GatewayConfig]
    ) -> None:
        """Keep what a run learnt, under the cache's own policy."""
        ...

    async def held(self, gateway_id: str, server_name: str) -> CacheEntry | None:
        """The entry held for a server under any definition (its accepted tool set)."""
        ...


@dataclass(frozen=True, slots=True)
class Selection:
    """One (gateway, server) pair chosen for a run."""

    gateway: GatewayConfig
    spec: ServerSpec


def select(
    config: DaemonConfig, gateway_id: str | None = None, server_name: str | None = None
) -> list[Selection]:
    """The (gateway, server) pairs a run covers; unknown names raise UnknownTargetError."""
    gateways = list(config.gateways)
    if gateway_id is not None:
        gateway = config.gateway(gateway_id)
        if gateway is None:
            raise UnknownTargetError("gateway", gateway_id, [g.id for g in config.gateways])
        gateways = [gateway]
    chosen = [Selection(g, s) for g in gateways for s in g.servers]
    if server_name is not None:
        chosen = [sel for sel in chosen if sel.spec.name == server_name]
        if not chosen:
            known = {s.name for g in gateways for s in g.servers}
            raise UnknownTargetError("server", server_name, sorted(known))
    return chosen
