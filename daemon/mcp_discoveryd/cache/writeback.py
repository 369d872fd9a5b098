"""Write-back after an outage: entries the shared store lacks, or holds an older version of."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..models import CacheEntry
from .base import Backend, entry_id

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
