"""What every cache backend offers, and the small values they exchange.

A backend stores ``CacheEntry`` values and keeps, per gateway, an index of
``EntrySummary`` records so that status and clear never read whole catalogs
nor scan the key space. Backends raise ``CacheUnavailableError`` when their
store cannot be reached; the tiered ``Cache`` turns that into degraded mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..models import CacheEntry, CacheType

EntryId = tuple[CacheType, str, str | None]  # (cache type, gateway id, server name or None)


def entry_id(entry: CacheEntry) -> EntryId:
    """The identity an entry is stored under."""
    return (entry.cache_type, entry.gateway_id, entry.server_name)


@dataclass(frozen=True, slots=True)
class EntrySummary:
    """What status needs to know about one entry, without its catalog."""

    cache_type: CacheType
    server_name: str | None
    source: str
    tool_count: int
    fetched_at: float
    refresh_at: float
    expires_at: float
    stale_until: float
    error: str | None = None
    consecutive_failures: int = 0
    blocked_count: int = 0
    size: int = 0  # encoded bytes
    private: bool = False

    @classmethod
    def of(cls, entry: CacheEntry, size: int) -> EntrySummary:
        """The summary of an entry whose encoded form is ``size`` bytes."""
        return cls(
            cache_type=entry.cache_type,
            server_name=entry.server_name,
            source=entry.source,
            tool_count=entry.catalog.tool_count,
            fetched_at=entry.fetched_at,
            refresh_at=entry.refresh_at,
            expires_at=entry.expires_at,
            stale_until=entry.stale_until,
            error=entry.last_error.message if entry.last_error else None,
            consecutive_failures=entry.consecutive_failures,
            blocked_count=len(entry.blocked_tools),
            size=size,
            private=entry.private,
        )


@dataclass(frozen=True, slots=True)
class Totals:
    """Live entries in a store, over every gateway."""

    gateways: int = 0
    tool_caches: int = 0
    config_caches: int = 0


@dataclass(frozen=True, slots=True)
class Inspection:
    """A store's totals and, for one gateway, the summaries of its entries."""

    totals: Totals
    summaries: Mapping[tuple[CacheType, str | None], EntrySummary]  # live entries only

    def merged_with(self, local: Inspection) -> Inspection:
        """These totals (the shared store's); per entry the newer of this and ``local``."""
        summaries = dict(self.summaries)
        for key, summary in local.summaries.items():
            other = summaries.get(key)
            if other is None or summary.fetched_at > other.fetched_at:
                summaries[key] = summary
        return Inspection(self.totals, summaries)


@dataclass(frozen=True, slots=True)
class ClearScope:
    """Which entries a clear removes: a gateway (or all), a server (or all), and types."""

    gateway_id: str | None
    server_name: str | None
    types: frozenset[CacheType]

    def covers(self, cache_type: CacheType, gateway_id: str, server_name: str | None) -> bool:
        """True when an entry with this identity falls inside the scope."""
        if cache_type not in self.types:
            return False
        if self.gateway_id is not None and gateway_id != self.gateway_id:
            return False
        if cache_type is CacheType.TOOLS and self.server_name is not None:
            return server_name == self.server_name
        return True


@dataclass(frozen=True, slots=True)
class ClearCounts:
    """How many entries of each type a clear removed, and from how many gateways."""

    tool_caches: int = 0
    config_caches: int = 0
    gateways: int = 0

    def most(self, other: ClearCounts) -> ClearCounts:
        """Per figure, the larger of the two (memory and Redis counted the same entries)."""
        return ClearCounts(
            max(self.tool_caches, other.tool_caches),
            max(self.config_caches, other.config_caches),
            max(self.gateways, other.gateways),
        )


class Backend(Protocol):
    """The shared store behind the memory tier, as ``Cache`` calls it (Redis; memory in tests).

    Every call may raise ``CacheUnavailableError``; ``Cache`` turns that into degraded mode.
    """

    name: str

    @property
    def enkrypt_compat(self) -> bool:
        """True when entries are also written in Secure MCP Gateway's layout."""
        ...

    async def ping(self) -> None:
        """Prove the store answers (and accepts the credentials)."""
        ...

    async def fetch(
        self, cache_type: CacheType, gateway_id: str, server_name: str | None, *, now: float
    ) -> tuple[CacheEntry, int] | None:
        """The live entry (not past ``stale_until``) and its encoded size; undecodable is None."""
        ...

    async def put_many(
        self, entries: Sequence[CacheEntry], *, now: float, blobs: Sequence[bytes] | None = None
    ) -> Sequence[EntryId] | None:
        """Store entries (``blobs``: their encoded forms, when already made); the ids skipped
        because the store holds a version fetched later (None: the store never skips)."""
        ...

    async def stored_versions(self, ids: Sequence[EntryId], *, now: float) -> dict[EntryId, float]:
        """``fetched_at`` of the live stored entry for each id that has one."""
        ...

    async def inspect(
        self, gateway_id: str | None, server_names: Sequence[str], *, now: float
    ) -> Inspection:
        """Totals, plus summaries of the named servers' and the config entry of one gateway."""
        ...

    async def clear(
        self, scope: ClearScope, *, known: Mapping[str, Sequence[str]] | None = None
    ) -> ClearCounts:
        """Remove every entry in scope (``known``: configured gateway id -> server names)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
