"""The running daemon's state as metrics: the cache's events, and the observable gauges.

``bind(daemon)`` is called once the cache is open; each gauge reads the daemon's
current objects at collection time (a reload that replaces them is seen at once).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from . import instruments as i
from . import record
from .tokens import bind_tokens

if TYPE_CHECKING:
    from ..app import Daemon


def bind(daemon: Daemon) -> None:
    """Count the cache's lookups and operations; read the gauges from ``daemon``."""
    if not record.enabled():
        return
    daemon.cache.stats.add_listener(record.CacheListener())

    def entries() -> Iterable[tuple[float, record.Attributes]]:
        return [(daemon.cache.memory.entry_count, {i.TIER: "memory"})]

    def size() -> Iterable[tuple[float, record.Attributes]]:
        return [(daemon.cache.memory.byte_count, {i.TIER: "memory"})]

    def requests() -> Iterable[tuple[float, record.Attributes]]:
        counts = daemon.cache.stats.snapshot().requests
        return [
            (n, {i.CACHE_TYPE: kind.value, i.TIER: tier, i.RESULT: result, i.READER: reader})
            for (kind, tier, result, reader), n in counts.items()
        ]

    def up() -> Iterable[tuple[float, record.Attributes]]:
        if daemon._actors is None:  # not started yet, or stopped
            return []
        out: list[tuple[float, record.Attributes]] = []
        for (gateway, server), handle in list(daemon.actors.handles.items()):
            if handle.state.runs:  # unknown until its first discovery ended
                ok = handle.state.last_status == "success"
                out.append((1.0 if ok else 0.0, {i.GATEWAY: gateway, i.SERVER: server}))
        return out

    def watched() -> Iterable[tuple[float, record.Attributes]]:
        watch = daemon._deps.watch if daemon._deps is not None else None
        return [(watch.stats.open, {})] if watch is not None else []

    def waiting() -> Iterable[tuple[float, record.Attributes]]:
        pool = daemon.cache.pool
        return [] if pool is None else [(pool.waiting, {i.BACKEND: daemon.cache.backend})]

    def busy() -> Iterable[tuple[float, record.Attributes]]:
        pool = daemon.cache.pool
        if pool is None:
            return []
        figures, backend = pool.figures(), daemon.cache.backend
        counts = {"queued": figures.queued, "exhausted": figures.exhausted}
        counts["gave_up"] = figures.gave_up
        return [(n, {i.BACKEND: backend, i.POOL_EVENT: event}) for event, n in counts.items()]

    record.observe(i.CACHE_REQUESTS, requests)
    record.observe(i.CACHE_ENTRIES, entries)
    record.observe(i.CACHE_SIZE, size)
    record.observe(i.UPSTREAM_UP, up)
    record.observe(i.WATCHED_SESSIONS, watched)
    record.observe(i.POOL_WAITING, waiting)
    record.observe(i.POOL_BUSY, busy)
    bind_tokens(daemon)
