"""The read path: which tier answers a lookup, and what the answer counts as.

Memory answers at once when it holds a fresh entry the caller accepts;
otherwise the shared store is asked (another daemon may have refreshed the
entry), and a newer entry found there is kept in memory. A shared store that
cannot be reached is reported through ``on_down`` and the read carries on
from memory: no ``CacheUnavailableError`` leaves this module. A busy one (its pool
stayed exhausted) is load, not an outage: the read answers from memory, nothing reported.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import CacheBusyError, CacheUnavailableError
from ..models import CacheEntry, CacheType
from .base import Backend
from .memory import MemoryBackend
from .stats import Result, Tier

OnDown = Callable[[CacheUnavailableError], None]


async def read_through(
    memory: MemoryBackend,
    remote: Backend | None,
    cache_type: CacheType,
    gateway_id: str,
    server_name: str | None,
    *,
    now: float,
    accept: Callable[[CacheEntry], bool],
    on_down: OnDown,
) -> tuple[CacheEntry | None, Tier]:
    """The newest live entry and the tier that answered; ``remote`` (None when it is not
    to be asked) is asked unless memory holds a fresh entry that ``accept`` takes."""
    local = memory.lookup(cache_type, gateway_id, server_name, now)
    chosen, tier = local, "memory"
    settled = local is not None and local.freshness(now) == "fresh" and accept(local)
    if remote is not None and not settled:
        try:
            found = await remote.fetch(cache_type, gateway_id, server_name, now=now)
        except CacheUnavailableError as exc:
            on_down(exc)
        except CacheBusyError:
            pass  # memory's answer stands
        else:
            newer = found is not None and (
                local is None
                or found[0].fetched_at >= local.fetched_at
                or (accept(found[0]) and not accept(local))
            )
            if found is not None and newer:
                memory.store(found[0], found[1], now=now)
                chosen, tier = found[0], "redis"
            elif local is None:
                tier = "redis"  # asked, and Redis had nothing either
    return chosen, _tier(tier)


async def held_tools(
    memory: MemoryBackend,
    remote: Backend | None,
    gateway_id: str,
    server_name: str,
    *,
    now: float,
    on_down: OnDown,
) -> CacheEntry | None:
    """The tools entry held now (memory, else ``remote`` when given), without counting a request."""
    local = memory.lookup(CacheType.TOOLS, gateway_id, server_name, now)
    if local is not None or remote is None:
        return local
    try:
        found = await remote.fetch(CacheType.TOOLS, gateway_id, server_name, now=now)
    except CacheUnavailableError as exc:
        on_down(exc)
        return None
    except CacheBusyError:
        return None
    return found[0] if found is not None else None


def any_entry(entry: CacheEntry) -> bool:
    """Accept every entry (a plain ``get``)."""
    return True


def read_result(chosen: CacheEntry | None, now: float) -> Result:
    """What a read counts as: a miss, or a hit or stale by the entry's freshness now."""
    if chosen is None:
        return "miss"
    return "hit" if chosen.freshness(now) == "fresh" else "stale"


def _tier(name: str) -> Tier:
    return "memory" if name == "memory" else "redis"
