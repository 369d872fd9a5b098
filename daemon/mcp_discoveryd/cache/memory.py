"""The in-process backend: bounded, least recently used out first, safe across threads.

Entries are frozen values and a hit returns the stored object itself: no copy,
no decode. Bounds are in entries and in bytes, where an entry's bytes are the
size of its encoded form (the same bytes Redis would hold); an entry holds its
catalog and accepted tools encoded, so its heap is about that size too (see the
cache benchmark).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..models import CacheEntry, CacheType
from . import codec
from .base import ClearCounts, ClearScope, EntryId, EntrySummary, Inspection, Totals, entry_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Slot:
    entry: CacheEntry
    size: int


class MemoryBackend:
    """A bounded LRU map of entry identity -> immutable entry."""

    name = "memory"

    def __init__(self, max_entries: int = 10_000, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._slots: OrderedDict[EntryId, _Slot] = OrderedDict()
        self._bytes = 0
        self.evictions = 0
        self.generation = 0  # bumped whenever the set of held identities changes

    @property
    def entry_count(self) -> int:
        """Entries held now (live or not yet noticed to be past stale_until)."""
        return len(self._slots)

    @property
    def byte_count(self) -> int:
        """Sum of the held entries' encoded sizes."""
        return self._bytes

    def lookup(
        self, cache_type: CacheType, gateway_id: str, server_name: str | None, now: float
    ) -> CacheEntry | None:
        """The live entry itself (no copy), or None; marks it recently used."""
        key = (cache_type, gateway_id, server_name)
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                return None
            if now >= slot.entry.stale_until:
                self._drop(key)
                return None
            self._slots.move_to_end(key)
            return slot.entry

    def store(self, entry: CacheEntry, size: int | None = None, *, now: float) -> bool:
        """Keep an entry (``size``: its encoded length, computed when not given)."""
        if now >= entry.stale_until:
            return False
        if size is None:
            size = len(codec.encode(entry))
        if size > self.max_bytes:
            logger.warning(
                "cache entry %s/%s (%d bytes) exceeds the memory bound; not kept",
                entry.gateway_id,
                entry.server_name,
                size,
            )
            return False
        key = entry_id(entry)
        with self._lock:
            old = self._slots.pop(key, None)
            if old is not None:
                self._bytes -= old.size  # replaced: the set of identities is unchanged
            else:
                self.generation += 1
            self._slots[key] = _Slot(entry, size)
            self._bytes += size
            while len(self._slots) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._slots)))
                self.evictions += 1
        return True

    def remove(self, key: EntryId) -> bool:
        """Forget one entry; True when it was held."""
        with self._lock:
            if key not in self._slots:
                return False
            self._drop(key)
            return True

    def discard(self, entry: CacheEntry) -> bool:
        """Forget ``entry`` if it is still the one held (not one stored since); True if so."""
        key = entry_id(entry)
        with self._lock:
            slot = self._slots.get(key)
            if slot is None or slot.entry is not entry:
                return False
            self._drop(key)
            return True

    def entries(self) -> list[CacheEntry]:
        """Every held entry, least recently used first."""
        with self._lock:
            return [slot.entry for slot in self._slots.values()]

    def next_refresh_at(self, now: float) -> float | None:
        """The earliest refresh time among live entries."""
        with self._lock:
            times = [s.entry.refresh_at for s in self._slots.values() if now < s.entry.stale_until]
        return min(times, default=None)

    @property
    def enkrypt_compat(self) -> bool:
        """See ``Backend.enkrypt_compat``: never, for memory."""
        return False

    async def ping(self) -> None:
        """See ``Backend.ping``: memory always answers."""

    async def aclose(self) -> None:
        """See ``Backend.aclose``: nothing to release."""

    async def get(
        self, cache_type: CacheType, gateway_id: str, server_name: str | None, *, now: float
    ) -> CacheEntry | None:
        """The live entry, or None (``lookup`` as a coroutine)."""
        return self.lookup(cache_type, gateway_id, server_name, now)

    async def fetch(
        self, cache_type: CacheType, gateway_id: str, server_name: str | None, *, now: float
    ) -> tuple[CacheEntry, int] | None:
        """See ``Backend.fetch``."""
        key = (cache_type, gateway_id, server_name)
        entry = self.lookup(cache_type, gateway_id, server_name, now)
        with self._lock:
            slot = self._slots.get(key)
        return (entry, slot.size) if entry is not None and slot is not None else None

    async def put_many(
        self, entries: Sequence[CacheEntry], *, now: float, blobs: Sequence[bytes] | None = None
    ) -> None:
        """See ``Backend.put_many``."""
        sizes = [len(b) for b in blobs] if blobs is not None else [None] * len(entries)
        for entry, size in zip(entries, sizes, strict=True):
            self.store(entry, size, now=now)

    async def stored_versions(self, ids: Sequence[EntryId], *, now: float) -> dict[EntryId, float]:
        """See ``Backend.stored_versions``."""
        found = ((i, self.lookup(*i, now)) for i in ids)
        return {i: e.fetched_at for i, e in found if e is not None}

    async def inspect(
        self, gateway_id: str | None, server_names: Sequence[str], *, now: float
    ) -> Inspection:
        """See ``Backend.inspect``."""
        gateways: set[str] = set()
        tools = configs = 0
        wanted = set(server_names)
        summaries: dict[tuple[CacheType, str | None], EntrySummary] = {}
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            e = slot.entry
            if now >= e.stale_until:
                continue
            gateways.add(e.gateway_id)
            if e.cache_type is CacheType.TOOLS:
                tools += 1
            else:
                configs += 1
            if e.gateway_id == gateway_id and (e.server_name is None or e.server_name in wanted):
                summaries[(e.cache_type, e.server_name)] = EntrySummary.of(e, slot.size)
        return Inspection(Totals(len(gateways), tools, configs), summaries)

    async def clear(
        self, scope: ClearScope, *, known: Mapping[str, Sequence[str]] | None = None
    ) -> ClearCounts:
        """See ``Backend.clear``."""
        tools = configs = 0
        gateways: set[str] = set()
        with self._lock:
            for key in [k for k in self._slots if scope.covers(*k)]:
                self._drop(key)
                gateways.add(key[1])
                if key[0] is CacheType.TOOLS:
                    tools += 1
                else:
                    configs += 1
        return ClearCounts(tools, configs, len(gateways))

    def _drop(self, key: EntryId) -> None:
        slot = self._slots.pop(key)
        self._bytes -= slot.size
        self.generation += 1
