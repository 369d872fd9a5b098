"""The cache the daemon uses: memory in front, Redis (when configured) behind.

Reads: a fresh entry in memory is answered at once (no round trip, no copy);
otherwise Redis is asked (another daemon may have refreshed the entry) and what
it has is kept in memory. Writes go to both, encoded once.

Degraded mode: when Redis cannot be reached, at start or mid-run, every
operation carries on from memory and status says so. A background task retries
with exponential backoff; when Redis answers again it first replays the clears
made meanwhile, then writes back every live shared entry held in memory (unless
Redis holds a newer one), then whatever was written during the write-back, and
only then reports healthy. No Redis error ever reaches a caller.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import anyio
from anyio.abc import TaskStatus

from ..config.model import DaemonConfig, GatewayConfig
from ..errors import CacheUnavailableError
from ..models import CacheEntry, CacheType, JSONObject
from . import codec, status
from .base import ClearCounts, ClearScope, EntryId, Inspection, entry_id
from .health import DEFAULT_BACKOFF, Backoff, Health
from .memory import MemoryBackend
from .redis_backend import RedisBackend
from .stats import CacheStats, Result, Tier

logger = logging.getLogger(__name__)

WRITE_BACK_CHUNK = 500  # entries per pipeline when Redis returns


class Cache:
    """Memory, optionally backed by a shared Redis; never raises because Redis is down."""

    def __init__(
        self,
        config: DaemonConfig,
        *,
        memory: MemoryBackend,
        remote: RedisBackend | None = None,
        stats: CacheStats | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.memory = memory
        self.remote = remote
        self.stats = stats or CacheStats()
        self._backoff = backoff
        self._clock = clock
        self._rng = rng or random.Random()
        self._health = Health(since=clock())
        self._down = anyio.Event()
        self._recovered = anyio.Event()
        self._dirty: set[EntryId] = set()  # written to memory only while degraded
        self._pending_clears: list[ClearScope] = []

    @property
    def backend(self) -> str:
        """The store behind memory: "memory", "redis", "redis-cluster" or "redis-sentinel"."""
        return self.remote.name if self.remote is not None else "memory"

    @property
    def health(self) -> Health:
        """The shared store's health now."""
        return self._health

    async def wait_healthy(self) -> None:
        """Return once the shared store is healthy (at once when it is)."""
        while not self._health.ok:
            await self._recovered.wait()

    def update_config(self, config: DaemonConfig) -> None:
        """Take a reloaded config (gateways, TTL figures in status); keys do not change."""
        self.config = config

    async def connect(self) -> None:
        """Check Redis once at start; an unreachable Redis starts degraded mode, not an error."""
        if self.remote is None:
            return
        try:
            await self.remote.ping()
        except CacheUnavailableError as exc:
            self._mark_down(exc)
        else:
            logger.info("cache: %s reachable", self.backend)

    def lookup(
        self, cache_type: CacheType, gateway_id: str, server_name: str | None
    ) -> CacheEntry | None:
        """The entry held in memory, synchronously (any thread); None when absent or past grace."""
        return self.memory.lookup(cache_type, gateway_id, server_name, self._clock())

    async def get(
        self, cache_type: CacheType, gateway_id: str, server_name: str | None
    ) -> CacheEntry | None:
        """The freshest live entry from memory or Redis; None past ``stale_until``."""
        now = self._clock()
        local = self.memory.lookup(cache_type, gateway_id, server_name, now)
        chosen, tier = local, "memory"
        fresh_locally = local is not None and local.freshness(now) == "fresh"
        if self.remote is not None and self._health.ok and not fresh_locally:
            try:
                found = await self.remote.fetch(cache_type, gateway_id, server_name, now=now)
            except CacheUnavailableError as exc:
                self._mark_down(exc)
            else:
                if found is not None and (local is None or found[0].fetched_at >= local.fetched_at):
                    self.memory.store(found[0], found[1], now=now)
                    chosen, tier = found[0], "redis"
                elif local is None:
                    tier = "redis"  # asked, and Redis had nothing either
        result: Result = "miss" if chosen is None else _result(chosen.freshness(now))
        self.stats.record_request(cache_type, _tier(tier), result)
        return chosen

    async def put_many(self, entries: Sequence[CacheEntry]) -> None:
        """Store entries in memory and (shared ones) in Redis, in one pipeline."""
        if not entries:
            return
        now = self._clock()
        blobs = [codec.encode(e) for e in entries]
        for entry, blob in zip(entries, blobs, strict=True):
            self.memory.store(entry, len(blob), now=now)
        if self.remote is None:
            return
        shared = [i for i, e in enumerate(entries) if not e.private]
        if not self._health.ok:
            self._dirty.update(entry_id(entries[i]) for i in shared)
            return
        try:
            await self.remote.put_many(
                [entries[i] for i in shared], now=now, blobs=[blobs[i] for i in shared]
            )
        except CacheUnavailableError as exc:
            self._mark_down(exc)
            self._dirty.update(entry_id(entries[i]) for i in shared)

    async def status(
        self, gateway: GatewayConfig | None = None, config: DaemonConfig | None = None
    ) -> JSONObject:
        """Enkrypt's ``cache_status`` for one gateway (or none), plus the daemon's own fields."""
        config = config or self.config
        now = self._clock()
        names = [s.name for s in gateway.servers] if gateway is not None else []
        gateway_id = gateway.id if gateway is not None else None
        view = await self.memory.inspect(gateway_id, names, now=now)
        if self.remote is not None and self._health.ok:
            try:
                shared = await self.remote.inspect(gateway_id, names, now=now)
            except CacheUnavailableError as exc:
                self._mark_down(exc)
            else:
                view = _merge(shared, view)
        return status.cache_status(
            view, gateway, config.cache, now=now, backend=self._backend_fields(now)
        )

    async def clear(
        self,
        gateway_id: str | None = None,
        server_name: str | None = None,
        cache_type: str | CacheType | None = None,
    ) -> JSONObject:
        """Clear by gateway, server and type (Enkrypt's aliases); ``{"status", "message"}``."""
        try:
            scope = status.clear_scope(gateway_id, server_name, cache_type)
        except ValueError as exc:
            return {"status": "error", "message": str(exc)}
        counts = await self.memory.clear(scope)
        self._dirty = {i for i in self._dirty if not scope.covers(*i)}
        deferred = False
        if self.remote is not None:
            if self._health.ok:
                try:
                    shared = await self.remote.clear(scope, known=self._known(scope))
                except CacheUnavailableError as exc:
                    self._mark_down(exc)
                    deferred = True
                else:
                    counts = _most(counts, shared)
            else:
                deferred = True
            if deferred:
                self._pending_clears.append(scope)
        result = status.clear_result(scope, counts)
        if deferred:
            result["deferred"] = True  # applied to Redis when it is reachable again
        return result

    async def forget(
        self,
        gateway_id: str | None = None,
        server_name: str | None = None,
        cache_type: str | CacheType | None = None,
    ) -> int:
        """Drop entries from memory only (another daemon changed or cleared them in Redis)."""
        counts = await self.memory.clear(status.clear_scope(gateway_id, server_name, cache_type))
        return counts.tool_caches + counts.config_caches

    async def run_recovery(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """The reconnect actor: sleeps until Redis goes down, then retries until it is back."""
        task_status.started()
        if self.remote is None:
            return
        while True:
            await self._down.wait()
            attempt = 0
            while not self._health.ok:
                delay = self._backoff.delay(attempt, self._rng)
                self._health = replace(
                    self._health, attempts=attempt, next_retry_at=self._clock() + delay
                )
                await anyio.sleep(delay)
                try:
                    written = await self._recover()
                except CacheUnavailableError as exc:
                    attempt += 1
                    self._health = replace(self._health, reason=exc.reason)
                    logger.debug("cache: %s still unavailable: %s", self.backend, exc.reason)
                    continue
                except Exception:  # a bug here must not end reconnection for good
                    attempt += 1
                    logger.exception("cache: write-back to %s failed", self.backend)
                    continue
                logger.warning(
                    "cache: %s reachable again after %d retries; wrote back %d entries",
                    self.backend,
                    attempt,
                    written,
                )
                self._down = anyio.Event()
                self._health = Health(since=self._clock(), written_back=written)
                self._recovered.set()

    async def _recover(self) -> int:
        """Replay clears, write back memory, then what arrived meanwhile; the count written."""
        assert self.remote is not None
        await self.remote.ping()
        self._dirty.clear()  # the full pass below covers everything in memory now
        await self._replay_clears()
        now = self._clock()
        live = [e for e in self.memory.entries() if not e.private and now < e.stale_until]
        written = await self._write_back(live)
        while self._dirty or self._pending_clears:
            await self._replay_clears()
            ids, self._dirty = self._dirty, set()
            now = self._clock()
            found = (self.memory.lookup(*i, now) for i in ids)
            written += await self._write_back([e for e in found if e is not None])
        return written

    async def _replay_clears(self) -> None:
        """Apply, in order, the clears made while Redis was unreachable."""
        assert self.remote is not None
        while self._pending_clears:
            scope = self._pending_clears[0]
            await self.remote.clear(scope, known=self._known(scope))
            self._pending_clears.pop(0)

    async def _write_back(self, entries: Sequence[CacheEntry]) -> int:
        """Write entries that Redis lacks or holds an older version of."""
        assert self.remote is not None
        written = 0
        for start in range(0, len(entries), WRITE_BACK_CHUNK):
            chunk = entries[start : start + WRITE_BACK_CHUNK]
            now = self._clock()
            stored = await self.remote.stored_versions([entry_id(e) for e in chunk], now=now)
            newer = [e for e in chunk if stored.get(entry_id(e), -1.0) < e.fetched_at]
            if newer:
                await self.remote.put_many(newer, now=now)
                written += len(newer)
        return written

    def _mark_down(self, exc: CacheUnavailableError) -> None:
        if self._health.ok:
            logger.warning(
                "cache: %s unavailable (%s); working from memory and retrying",
                self.backend,
                exc.reason,
            )
            self._health = Health("degraded", since=self._clock(), reason=exc.reason)
            self._recovered = anyio.Event()
            self._down.set()

    def _known(self, scope: ClearScope) -> dict[str, list[str]]:
        """Configured gateways in scope and their server names (for Redis's clear)."""
        return {
            g.id: [s.name for s in g.servers]
            for g in self.config.gateways
            if scope.gateway_id is None or g.id == scope.gateway_id
        }

    def _backend_fields(self, now: float) -> dict[str, Any]:
        h = self._health
        snap = self.stats.snapshot()
        return {
            "backend": self.backend,
            "health": h.state,
            "health_since": status.iso_utc(h.since),
            "degraded": None
            if h.ok
            else {
                "reason": h.reason,
                "retries": h.attempts,
                "next_retry_at": status.iso_utc(h.next_retry_at),
                "pending_writes": len(self._dirty),
                "pending_clears": len(self._pending_clears),
            },
            "requests": snap.results(),
            "decode_errors": snap.decode_errors,
            "bytes": self.memory.byte_count,
            "memory_tier": {
                "entries": self.memory.entry_count,
                "bytes": self.memory.byte_count,
                "max_entries": self.memory.max_entries,
                "max_bytes": self.memory.max_bytes,
                "evictions": self.memory.evictions,
            },
            "next_refresh_at": status.iso_utc(self.memory.next_refresh_at(now)),
            "enkrypt_compat": self.remote is not None and self.remote.compat is not None,
        }


def _merge(shared: Inspection, local: Inspection) -> Inspection:
    """Redis's totals; per entry the newer of Redis's and memory's (private ones only in memory)."""
    summaries = dict(shared.summaries)
    for key, summary in local.summaries.items():
        other = summaries.get(key)
        if other is None or summary.fetched_at > other.fetched_at:
            summaries[key] = summary
    return Inspection(shared.totals, summaries)


def _most(a: ClearCounts, b: ClearCounts) -> ClearCounts:
    return ClearCounts(
        max(a.tool_caches, b.tool_caches),
        max(a.config_caches, b.config_caches),
        max(a.gateways, b.gateways),
    )


def _result(freshness: str) -> Result:
    return "hit" if freshness == "fresh" else "stale"


def _tier(name: str) -> Tier:
    return "memory" if name == "memory" else "redis"
