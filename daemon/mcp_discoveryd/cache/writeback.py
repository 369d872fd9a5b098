"""Write-back after an outage: entries the shared store lacks, or holds an older version of."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..models import CacheEntry
from .base import Backend, ClearScope, EntryId, entry_id
from .memory import MemoryBackend

Known = Mapping[str, Sequence[str]]  # configured gateway id -> its server names

WRITE_BACK_CHUNK = 500  # entries per pipeline when Redis returns


async def write_newer(
    remote: Backend, entries: Sequence[CacheEntry], *, clock: Callable[[], float]
) -> int:
    """Write each entry unless the store holds one fetched at the same time or later; the count."""
    written = 0
    for start in range(0, len(entries), WRITE_BACK_CHUNK):
        chunk = entries[start : start + WRITE_BACK_CHUNK]
        now = clock()
        stored = await remote.stored_versions([entry_id(e) for e in chunk], now=now)
        newer = [e for e in chunk if stored.get(entry_id(e), -1.0) < e.fetched_at]
        if newer:
            await remote.put_many(newer, now=now)
            written += len(newer)
    return written


@dataclass
class Backlog:
    """What the shared store has not got yet: entries written to memory and clears made
    while it was unreachable (or busy), in the order they were made."""

    dirty: set[EntryId] = field(default_factory=set)
    clears: list[tuple[ClearScope, Known]] = field(default_factory=list)

    def owe(self, entries: Iterable[CacheEntry]) -> None:
        """These entries are held in memory and not in the shared store."""
        self.dirty.update(entry_id(e) for e in entries)

    def take_owed(self, memory: MemoryBackend, now: float) -> list[CacheEntry]:
        """The owed entries memory still holds, no longer owed (the caller writes them)."""
        ids, self.dirty = self.dirty, set()
        found = (memory.lookup(*i, now) for i in ids)
        return [e for e in found if e is not None]

    def defer(self, scope: ClearScope, known: Known) -> None:
        """A clear the shared store could not take now: replayed, in order, when it can."""
        self.clears.append((scope, known))

    def counts(self) -> tuple[int, int]:
        """How many entries and clears are owed."""
        return len(self.dirty), len(self.clears)

    def pending_writes(self) -> tuple[EntryId, ...]:
        """The entries written to memory only (sorted)."""
        return tuple(sorted(self.dirty, key=lambda i: (i[0].value, i[1], i[2] or "")))

    def forget(self, scope: ClearScope) -> None:
        """A clear: the entries it covers are no longer owed to the shared store."""
        self.dirty = {i for i in self.dirty if not scope.covers(*i)}

    async def replay(
        self, remote: Backend, memory: MemoryBackend, *, clock: Callable[[], float]
    ) -> int:
        """Replay the clears, write back every live shared entry memory holds (unless the
        store has a newer one), then whatever arrived meanwhile; the count written."""
        self.dirty.clear()  # the full pass below covers everything in memory now
        await self._replay_clears(remote)
        now = clock()
        live = [e for e in memory.entries() if not e.private and now < e.stale_until]
        written = await write_newer(remote, live, clock=clock)
        while self.dirty or self.clears:
            await self._replay_clears(remote)
            ids, self.dirty = self.dirty, set()
            now = clock()
            found = (memory.lookup(*i, now) for i in ids)
            written += await write_newer(remote, [e for e in found if e is not None], clock=clock)
        return written

    async def _replay_clears(self, remote: Backend) -> None:
        while self.clears:  # in order; one that fails stays first for the next attempt
            scope, known = self.clears[0]
            await remote.clear(scope, known=known)
            self.clears.pop(0)
