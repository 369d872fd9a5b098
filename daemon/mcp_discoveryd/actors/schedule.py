"""When a server actor runs next after a successful run: from the entry the cache holds."""

from __future__ import annotations

import random

from ..cache.health import Backoff
from ..models import CacheEntry

LAG = 0.25  # of an entry's lead (expiry minus refresh_at): this daemon's own refresh delay


def due_after_success(
    entry: CacheEntry | None,
    now: float,
    *,
    shared: bool,
    backoff: Backoff,
    rng: random.Random,
) -> float:
    """The next run: the entry's refresh time, or a backoff when the entry is already due.

    An entry still due after the run was not refreshed by it (the refresh went to another
    daemon, or was read from the cache): the next turn waits a backoff, never a moment,
    whatever lag the entry's own refresh time would give.
    """
    if entry is None:  # nothing written (or evicted at once): try again, unhurried
        return now + backoff.maximum
    if entry.refresh_at <= now:
        return now + backoff.delay(0, rng)
    return refresh_due(entry, shared=shared, rng=rng)


def refresh_due(entry: CacheEntry, *, shared: bool, rng: random.Random) -> float:
    """When to refresh ``entry``: on a shared Redis, its ``refresh_at`` plus a lag of our
    own (up to a quarter of its lead), so that daemons sharing the entry do not all wake
    at once: the first refreshes, the others hear of it first and reschedule."""
    if not shared:  # alone: nobody to defer to
        return entry.refresh_at
    lead = max(0.0, entry.expires_at - entry.refresh_at)
    return entry.refresh_at + rng.uniform(0.0, LAG * lead)
