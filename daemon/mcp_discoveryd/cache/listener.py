"""The invalidation listener actor: other daemons' "updated"/"cleared" events into our memory.

Started with ``TaskGroup.start``; ready once subscribed (or once the first
attempt failed: an unreachable Redis never holds the daemon's start back).

- "updated" from another daemon: the entry, if this daemon holds it in memory,
  is read again from Redis and kept when it is not older than ours; waiters in
  ``Coordinator.wait_for_update`` are woken either way.
- "cleared": every memory entry in scope fetched before the clear is dropped.
- Our own events are ignored (the instance id says whose they are).
- Pub/sub loses what is published while a connection is down. So on every
  subscribe confirmation (the first after a start or a supervisor's restart,
  after our reconnect, or after redis-py's silent one) the listener resyncs: it
  applies the clears recorded since it last heard from Redis, and re-reads every
  held entry whose stored version is newer (one pipeline over the indexes),
  writes back held entries Redis no longer has (it restarted empty), then wakes
  every waiter. With an empty memory (a first start) that is cheap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskStatus

from ..errors import CacheBusyError, CacheUnavailableError
from ..models import CacheEntry
from .base import EntryId
from .events import CacheEvent
from .health import Backoff
from .redis_backend import RedisBackend
from .tiered import Cache
from .writeback import write_newer

logger = logging.getLogger(__name__)

IDLE_PING = 5.0  # seconds of silence before the connection is proven alive with a PING
CLOCK_MARGIN = 5.0  # seconds: clears looked up from this long before the last sign of life
LISTENER_BACKOFF = Backoff(initial=0.2, maximum=5.0)


async def run_listener(
    cache: Cache,
    *,
    backoff: Backoff = LISTENER_BACKOFF,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Listen until cancelled; returns at once (ready) when the cache has no Redis behind it.

    ``sleep`` waits between reconnects (a seam for tests).
    """
    remote = cache.remote
    if not isinstance(remote, RedisBackend):
        task_status.started()
        return
    refs = _Refs(cache, remote)
    ready = False
    heard = clock()  # the last moment the subscription was known to be alive
    attempt = 0
    while True:
        try:
            async with remote.connection.subscribe(remote.keys.events_channel) as sub:
                quiet = 0.0
                while True:
                    reply = await sub.next(1.0)
                    if reply is None:
                        quiet += 1.0
                        if quiet >= IDLE_PING:
                            await sub.ping()
                            quiet = 0.0
                        continue
                    quiet = 0.0
                    kind, data = reply
                    if kind == "subscribe":
                        # Every subscription resyncs: the first one after a (supervisor's)
                        # restart, and redis-py's silent reconnects, may follow lost events.
                        attempt = 0
                        await resync_view(cache, remote, since=heard - CLOCK_MARGIN)
                        if not ready:
                            task_status.started()
                            ready = True
                    else:
                        await apply_event(cache, remote, data, refs)
                    heard = clock()
        except (CacheUnavailableError, CacheBusyError) as exc:  # busy: a resync's read; redo it
            logger.debug("cache: invalidation listener lost Redis: %s", exc.reason)
            if not ready:
                task_status.started()
                ready = True
            await sleep(backoff.delay(attempt))
            attempt += 1


class _Refs:
    """Hashed identity -> held identity, rebuilt only when memory's set of entries changed.

    Each identity's hash is kept between rebuilds: a preload changes the set once per
    new entry, and hashing every held identity each time was quadratic (2,000 servers:
    millions of HMACs per daemon).
    """

    def __init__(self, cache: Cache, remote: RedisBackend) -> None:
        self._cache, self._remote = cache, remote
        self._generation = -1
        self._map: dict[str, EntryId] = {}
        self._hashed: dict[EntryId, str] = {}

    def held(self, ref: str) -> EntryId | None:
        memory = self._cache.memory
        if memory.generation != self._generation:
            self._generation = memory.generation
            ids = _held_ids(self._cache)
            if len(self._hashed) > 2 * len(ids) + 1024:  # forget long-gone identities
                self._hashed = {}
            hashed = self._hashed
            for ident in ids:
                if ident not in hashed:
                    hashed[ident] = _ref(self._remote, ident)
            self._map = {hashed[i]: i for i in ids}
        return self._map.get(ref)


async def apply_event(
    cache: Cache, remote: RedisBackend, data: bytes, refs: _Refs | None = None
) -> None:
    """Bring this daemon's memory up to one event from another daemon."""
    event = CacheEvent.decode(data)
    if event is None or event.instance == remote.instance_id:
        return
    if event.kind == "cleared":
        _drop_cleared(cache, remote, event)
    else:
        ident = (refs or _Refs(cache, remote)).held(event.ref)
        if ident is not None:
            await _reread(cache, remote, event.ref, ident)
    remote.hub.notify(event)


async def resync_view(cache: Cache, remote: RedisBackend, *, since: float) -> None:
    """After messages may have been lost: apply recent clears, re-read newer entries, and
    write back held entries Redis lost (restarted empty) that no clear removed."""
    for event in await remote.clears_since(since):
        if event.instance != remote.instance_id:
            _drop_cleared(cache, remote, event)
    pending = set(cache.pending_writes())  # ours, not in Redis yet: recovery writes them
    held = [i for i in _held_ids(cache) if i not in pending]
    now = time.time()
    stored = await remote.stored_versions(held, now=now)
    lost: list[CacheEntry] = []
    for ident in held:
        local = cache.memory.lookup(*ident, now)
        version = stored.get(ident)
        if local is not None and version is None:
            lost.append(local)
        elif local is not None and version is not None and version > local.fetched_at:
            await _reread(cache, remote, _ref(remote, ident), ident)
    if lost and cache.health.ok:  # degraded: the recovery actor writes everything back
        await write_newer(remote, lost, clock=time.time)
    remote.hub.notify_all(CacheEvent("updated", remote.instance_id, now))
    logger.info("cache: invalidation listener resynced %d held entries", len(held))


async def refetch(cache: Cache, ident: EntryId) -> CacheEntry | None:
    """The entry held after taking Redis's copy when not older than ours (another daemon's
    write whose event we may not have heard yet); memory's alone while Redis is down."""
    remote = cache.remote
    if isinstance(remote, RedisBackend) and cache.health.ok:
        try:
            found = await remote.fetch(*ident, now=time.time())
        except (CacheUnavailableError, CacheBusyError):
            found = None  # down: the recovery actor notices on the next write; busy: memory's
        if found is not None:
            local = cache.memory.lookup(*ident, time.time())
            if local is None or found[0].fetched_at >= local.fetched_at:
                cache.memory.store(found[0], found[1], now=time.time())
    return cache.memory.lookup(*ident, time.time())


def _held_ids(cache: Cache) -> list[EntryId]:
    """Identities of the shared entries held in memory."""
    return [
        (e.cache_type, e.gateway_id, e.server_name) for e in cache.memory.entries() if not e.private
    ]


def _ref(remote: RedisBackend, ident: EntryId) -> str:
    return remote.keys.entry_ref(*ident)


async def _reread(cache: Cache, remote: RedisBackend, ref: str, ident: EntryId) -> None:
    """Keep Redis's version of a held entry unless ours is newer."""
    now = time.time()
    found = await remote.fetch_ref(ref, now=now)
    if found is None:
        return
    entry, size = found
    if (entry.cache_type, entry.gateway_id, entry.server_name) != ident:
        return  # a hash collision or tampering: never store under another identity
    local = cache.memory.lookup(*ident, now)
    if local is None or entry.fetched_at >= local.fetched_at:
        cache.memory.store(entry, size, now=now)


def _drop_cleared(cache: Cache, remote: RedisBackend, event: CacheEvent) -> None:
    for entry in cache.memory.entries():
        ident = (entry.cache_type, entry.gateway_id, entry.server_name)
        covered = event.covers(_ref(remote, ident))
        if covered and entry.fetched_at <= event.at:
            cache.memory.remove(ident)
