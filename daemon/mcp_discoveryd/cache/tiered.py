"""The cache the daemon uses: memory in front, Redis (when configured) behind.

Reads (``reads.py``): a fresh entry in memory is answered at once (no round trip, no copy);
otherwise Redis is asked (another daemon may have refreshed the entry) and what
it has is kept in memory. Writes go to both, encoded once. A tools entry is
served for a server only under the definition it was made from (``catalog``).

The cache owns its policy: the engine hands it a run's outcomes (``record``)
and the cache alone decides lifetimes, refresh times and what a failure does
to the entry it already holds (records it; never replaces good data).

Degraded mode: when Redis cannot be reached, at start or mid-run, every
operation carries on from memory and status says so. The recovery actor
(``recovery.py``) retries; ``resync`` then replays the clears made meanwhile,
writes back every live shared entry held in memory (unless Redis holds a newer
one), then whatever was written during the write-back, and only then is the
cache healthy again. No Redis outage ever reaches a caller. A busy Redis (its pool
stayed exhausted) is load, not an outage: writes and clears ask again (``busy.py``)
for up to ``[cache] busy_wait`` and then raise ``CacheBusyError`` (what was written is
in memory, not shared); reads and status answer from memory, and health stays "ok".
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TypeVar

import anyio

from ..config.settings import CacheSettings, GatewayConfig
from ..errors import CacheBusyError, CacheUnavailableError
from ..models import CacheEntry, CacheType, JSONObject, ServerOutcome, ServerSpec
from . import codec, status
from .base import Backend, EntryId, entry_id
from .busy import patiently
from .entries import entry_from_outcome, entry_with_failure, failed_attempt, gateway_config_entry
from .fingerprint import definition_fingerprint, policy_fingerprint
from .gate import Gate
from .health import Health
from .memory import MemoryBackend
from .reads import any_entry, held_tools, read_result, read_through
from .redis_backend import RedisBackend
from .stats import CacheStats, Reader, Tier
from .writeback import Backlog

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Cache:
    """Memory, optionally backed by a shared store; never raises because that store is down."""

    def __init__(
        self,
        settings: CacheSettings,
        *,
        memory: MemoryBackend,
        remote: Backend | None = None,
        stats: CacheStats | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.memory = memory
        self.remote = remote
        self.stats = stats or CacheStats()
        self._clock = clock
        self._rng = rng or random.Random()
        self._health = Health(since=clock())
        self._down = anyio.Event()
        self._recovered = anyio.Event()
        self._backlog = Backlog()  # what Redis has not got yet (written while degraded)
        self._configs: dict[str, GatewayConfig] = {}  # gateway id -> the config last recorded

    @property
    def backend(self) -> str:
        """The store behind memory: "memory", "redis", "redis-cluster" or "redis-sentinel"."""
        return self.remote.name if self.remote is not None else "memory"

    @property
    def pool(self) -> Gate | None:
        """The gate in front of Redis's connection pool (None without Redis)."""
        remote = self.remote
        return remote.connection.gate if isinstance(remote, RedisBackend) else None

    async def patiently(self, op: Callable[[], Awaitable[T]]) -> T:
        """``op()`` asked again while the pool is busy, within ``[cache] busy_wait``."""
        return await patiently(op, limit=self.settings.busy_wait, pool=self.pool)

    @property
    def health(self) -> Health:
        """The shared store's health now."""
        return self._health

    async def wait_healthy(self) -> None:
        """Return once the shared store is healthy (at once when it is)."""
        while not self._health.ok:
            await self._recovered.wait()

    async def wait_down(self) -> None:
        """Return once the shared store is seen unreachable (at once when it is)."""
        await self._down.wait()

    def pending_writes(self) -> tuple[EntryId, ...]:
        """Entries held in memory that the shared store does not have yet (sorted)."""
        return self._backlog.pending_writes()

    async def connect(self) -> None:
        """Check Redis once at start; an unreachable Redis starts degraded mode, not an error."""
        if self.remote is None:
            return
        try:
            await self.remote.ping()
        except CacheUnavailableError as exc:
            self._mark_down(exc)
        except CacheBusyError:
            logger.info("cache: %s busy at start (in use, not down)", self.backend)
        else:
            logger.info("cache: %s reachable", self.backend)

    def lookup(
        self, cache_type: CacheType, gateway_id: str, server_name: str | None
    ) -> CacheEntry | None:
        """The entry held in memory, synchronously (any thread); None when absent or past grace.
        Not counted: a reader counts what it serves (``count_read``)."""
        return self.memory.lookup(cache_type, gateway_id, server_name, self._clock())

    async def get(
        self, cache_type: CacheType, gateway_id: str, server_name: str | None
    ) -> CacheEntry | None:
        """The freshest live entry from memory or Redis; None past ``stale_until``."""
        chosen, tier = await self._read(cache_type, gateway_id, server_name, any_entry)
        self.count_read(cache_type, chosen, tier=tier, reader="daemon")
        return chosen

    async def catalog(self, gateway_id: str, spec: ServerSpec) -> CacheEntry | None:
        """The live tools entry made from this server definition; another definition's is a miss,
        and so is one whose blocked tools were removed under another tool policy.

        Stale entries (past ``expires_at``, within grace) are returned: the caller refreshes
        them and serves them only if the refresh fails.
        """
        definition, policy = self.fingerprint(spec), policy_fingerprint(spec.tool_policy)

        def made_for(e: CacheEntry) -> bool:
            return e.definition == definition and (not e.blocked_tools or e.policy == policy)

        chosen, tier = await self._read(CacheType.TOOLS, gateway_id, spec.name, made_for)
        if chosen is not None and not made_for(chosen):
            chosen = None
        self.count_read(CacheType.TOOLS, chosen, tier=tier, reader="daemon")
        return chosen

    async def held(self, gateway_id: str, server_name: str) -> CacheEntry | None:
        """The tools entry held now under any definition or policy (its accepted tool set)."""
        return await self._held(gateway_id, server_name, self._clock())

    def fingerprint(self, spec: ServerSpec) -> str:
        """The definition fingerprint this cache stores and checks for a server."""
        key = self.settings.key_secret
        return definition_fingerprint(spec, key.reveal() if key is not None else None)

    async def record(
        self, outcomes: Sequence[ServerOutcome], gateways: Sequence[GatewayConfig]
    ) -> None:
        """Keep what a run learnt, under this cache's TTLs, grace and jitter.

        Every gateway gets its secret-free config entry (rewritten only when its config
        changed, it is due for refresh, or memory lost it: one server's run rewriting a
        2,000-server summary was quadratic work, and every daemon re-read it); a fresh
        catalog replaces its entry; a failed refresh is recorded on the entry already held
        (``last_error``, ``consecutive_failures``) and never replaces its data.
        """
        now = self._clock()
        specs = {(g.id, s.name): s for g in gateways for s in g.servers}
        due = [g for g in gateways if self._config_due(g, now)]
        entries = [gateway_config_entry(g, self.settings, now=now) for g in due]
        for outcome in outcomes:
            spec = specs.get((outcome.gateway_id, outcome.server_name))
            if spec is None:
                continue
            definition = self.fingerprint(spec)
            if outcome.ok and outcome.source == "discovery":
                entries.append(
                    entry_from_outcome(
                        outcome,
                        self.settings,
                        now=now,
                        definition=definition,
                        policy=policy_fingerprint(spec.tool_policy),
                        rng=self._rng,
                    )
                )
            elif outcome.error is not None and failed_attempt(outcome):
                held = await self._held(outcome.gateway_id, outcome.server_name, now)
                if held is not None and held.definition == definition:
                    entries.append(entry_with_failure(held, outcome.error))
        await self.put_many(entries)
        self._configs.update((g.id, g) for g in due)

    def _config_due(self, gateway: GatewayConfig, now: float) -> bool:
        """True unless memory holds the gateway's config entry, recorded from this very
        config (configs are immutable; a reload makes new ones) and not yet due."""
        held = self.memory.lookup(CacheType.GATEWAY_CONFIG, gateway.id, None, now)
        recorded = self._configs.get(gateway.id)
        same = recorded is gateway or recorded == gateway
        return held is None or now >= held.refresh_at or not same

    async def put_many(self, entries: Sequence[CacheEntry]) -> None:
        """Store entries in memory and (shared ones) in Redis, in one pipeline.

        What Redis cannot take now (unreachable, or its pool busy past ``busy_wait``) is
        held in memory, served here and owed: an outage's recovery writes it back, and
        after a busy spell the next write that gets through takes it along.
        """
        if not entries:
            return
        now = self._clock()
        blobs = [codec.encode(e) for e in entries]
        for entry, blob in zip(entries, blobs, strict=True):
            self.memory.store(entry, len(blob), now=now)
        remote = self.remote
        if remote is None:
            return
        shared = [e for e in entries if not e.private]
        if not self._health.ok:
            self._backlog.owe(shared)
            return
        sent = {entry_id(e) for e in shared}
        owed = [e for e in self._backlog.take_owed(self.memory, now) if entry_id(e) not in sent]
        by_id = {entry_id(e): b for e, b in zip(entries, blobs, strict=True)}
        writes = [*shared, *owed]
        payload = [by_id.get(entry_id(e)) or codec.encode(e) for e in writes]
        try:
            older = await self.patiently(lambda: remote.put_many(writes, now=now, blobs=payload))
        except CacheUnavailableError as exc:
            self._mark_down(exc)
            self._backlog.owe(writes)
            return
        except CacheBusyError as exc:
            self._backlog.owe(writes)
            logger.warning("cache: %d entries held here, not shared yet: %s", len(writes), exc)
            return
        for entry in writes:  # skipped: Redis holds a newer version; read that one next
            if entry_id(entry) in (older or ()):
                self.memory.discard(entry)

    async def status(self, gateway: GatewayConfig | None = None) -> JSONObject:
        """Enkrypt's ``cache_status`` for one gateway (or none), plus the daemon's own fields."""
        now = self._clock()
        names = [s.name for s in gateway.servers] if gateway is not None else []
        gateway_id = gateway.id if gateway is not None else None
        view = await self.memory.inspect(gateway_id, names, now=now)
        if self.remote is not None and self._health.ok:
            try:
                shared = await self.remote.inspect(gateway_id, names, now=now)
            except CacheUnavailableError as exc:
                self._mark_down(exc)
            except CacheBusyError:
                pass  # memory's view, this once
            else:
                view = shared.merged_with(view)
        fields = status.backend_fields(
            self.backend,
            self._health,
            self.stats.snapshot(),
            self.memory,
            pending=self._backlog.counts(),
            enkrypt_compat=self.remote is not None and self.remote.enkrypt_compat,
            now=now,
            pool=self.pool.figures() if self.pool is not None else None,
        )
        return status.cache_status(view, gateway, self.settings, now=now, backend=fields)

    async def clear(
        self,
        gateway_id: str | None = None,
        server_name: str | None = None,
        cache_type: str | CacheType | None = None,
        *,
        gateways: Sequence[GatewayConfig] = (),
    ) -> JSONObject:
        """Clear by gateway, server and type (Enkrypt's aliases); ``{"status", "message"}``.

        ``gateways``: the configured ones, whose servers are cleared from Redis even when
        its index lost them. While Redis is unreachable the clear is kept and replayed
        when it returns: the reply then says ``"deferred": true``.
        """
        try:
            scope = status.clear_scope(gateway_id, server_name, cache_type)
        except ValueError as exc:
            return {"status": "error", "message": str(exc)}
        known = status.known_servers(scope, gateways)
        counts = await self.memory.clear(scope)
        self._backlog.forget(scope)
        deferred = False
        remote = self.remote
        if remote is not None:
            if self._health.ok:
                try:
                    shared = await self.patiently(lambda: remote.clear(scope, known=known))
                except CacheUnavailableError as exc:
                    self._mark_down(exc)
                    deferred = True
                else:
                    counts = counts.most(shared)
            else:
                deferred = True
            if deferred:
                self._backlog.defer(scope, known)
        result = status.clear_result(scope, counts)
        if deferred:
            result["deferred"] = True  # applied to Redis when it is reachable again
        return result

    def note_retry(self, attempt: int, delay: float) -> None:
        """The recovery actor waits ``delay`` seconds before retry ``attempt`` (for status)."""
        self._health = replace(self._health, attempts=attempt, next_retry_at=self._clock() + delay)

    def note_still_down(self, reason: str) -> None:
        """A retry failed: keep why (shown in status)."""
        self._health = replace(self._health, reason=reason)

    async def resync(self) -> int:
        """Replay clears, write back memory, then what arrived meanwhile; healthy after.

        Returns the count written; raises ``CacheUnavailableError`` while Redis is still
        unreachable (the recovery actor retries).
        """
        if self.remote is None:
            return 0
        await self.remote.ping()
        written = await self._backlog.replay(self.remote, self.memory, clock=self._clock)
        logger.warning(
            "cache: %s reachable again after %d retries; wrote back %d entries",
            self.backend,
            self._health.attempts,
            written,
        )
        self._down = anyio.Event()
        self._health = Health(since=self._clock(), written_back=written)
        self._recovered.set()
        return written

    def _shared(self) -> Backend | None:
        """The shared store when it is to be asked (configured and healthy)."""
        return self.remote if self._health.ok else None

    async def _read(
        self,
        cache_type: CacheType,
        gateway_id: str,
        server_name: str | None,
        accept: Callable[[CacheEntry], bool],
    ) -> tuple[CacheEntry | None, Tier]:
        return await read_through(
            self.memory,
            self._shared(),
            cache_type,
            gateway_id,
            server_name,
            now=self._clock(),
            accept=accept,
            on_down=self._mark_down,
        )

    def count_read(
        self, cache_type: CacheType, chosen: CacheEntry | None, *, tier: Tier, reader: Reader
    ) -> None:
        """Count one read as hit, stale (past ``expires_at``) or miss (None), for ``reader``."""
        self.stats.record_request(cache_type, tier, read_result(chosen, self._clock()), reader)

    async def _held(self, gateway_id: str, server_name: str, now: float) -> CacheEntry | None:
        return await held_tools(
            self.memory, self._shared(), gateway_id, server_name, now=now, on_down=self._mark_down
        )

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
