"""A server actor's turn across daemons sharing a Redis: take the key's lease, or wait for
the daemon that holds it and use its result.

The lease (``cache.lease``) is an optimisation, not a guarantee: writes are idempotent
(the newer ``fetched_at`` wins), so a turn taken twice costs one extra discovery, never
wrong data. With the memory cache, or Redis unreachable, every lease is granted locally.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from ..cache import Cache
from ..cache.lease import Coordinator, Lease, LocalLease
from ..cache.listener import refetch
from ..config.settings import GatewayConfig
from ..discovery.selection import Selection
from ..models import CacheEntry, CacheType, ServerOutcome, ServerSpec
from ..telemetry import record
from .deps import ActorCache

# A holder seen this many times in a row without a result: read the cache, retry later.
MAX_WAITS = 3


async def take_turn(
    coordinator: Coordinator,
    cache: ActorCache,
    sel: Selection,
    *,
    lease_ttl: float,
    wait_limit: float,
    before: float | None,
    on_wait: Callable[[], None],
) -> Lease | None:
    """Our lease (discover upstream, then release it), or None: use what the cache holds.

    None when another daemon wrote an entry newer than ``before`` (the ``fetched_at`` we
    held when our turn came) while we waited, or when a holder kept the key through
    ``MAX_WAITS`` waits. A lease that ended without a result (its holder died or failed)
    is taken over. Also None without waiting when the entry was already refreshed
    elsewhere (our view lagged behind Redis).
    """
    gw, name = sel.gateway.id, sel.spec.name
    for _ in range(MAX_WAITS):
        lease = await coordinator.try_acquire(gw, name, lease_ttl)
        record.lease(gw, name, acquired=lease is not None)
        if lease is not None:
            if _newer(await reread(cache, sel), before):  # refreshed just before we asked
                await lease.release()
                return None
            return lease
        on_wait()
        await coordinator.wait_for_update(gw, name, timeout=wait_limit)
        if _newer(await reread(cache, sel), before):
            return None
    return None


@asynccontextmanager
async def exclusive(
    coordinator: Coordinator,
    cache: ActorCache,
    sel: Selection,
    *,
    lease_ttl: float,
    wait_limit: float,
) -> AsyncIterator[CacheEntry | None]:
    """The key's lease for a change that must not race a refresh (accepting a tool change):
    waits while another daemon holds it, yields the entry as Redis holds it then, and
    releases after the block.

    A refresh that read the entry before the change and wrote after it would put the old
    accepted set back under a newer ``fetched_at`` (newer wins). Under the lease no
    refresh runs, and the change is made to the newest entry. A holder that keeps the key
    through ``MAX_WAITS`` waits: the change goes ahead without the lease (the newest
    entry is still the one changed; the lease is an optimisation).
    """
    gw, name = sel.gateway.id, sel.spec.name
    lease: Lease | None = None
    for _ in range(MAX_WAITS):
        lease = await coordinator.try_acquire(gw, name, lease_ttl)
        if lease is not None:
            break
        await coordinator.wait_for_update(gw, name, timeout=wait_limit)
    try:  # not renewed (``kept`` would wrap the block's errors in a group): a change is quick
        yield await reread(cache, sel)
    finally:
        if lease is not None:
            await lease.release()  # shielded and bounded


async def reread(cache: ActorCache, sel: Selection) -> CacheEntry | None:
    """The entry after another daemon may have written it: Redis's copy when newer."""
    ident = (CacheType.TOOLS, sel.gateway.id, sel.spec.name)
    if isinstance(cache, Cache):
        return await refetch(cache, ident)
    return cache.lookup(*ident)


@asynccontextmanager
async def kept(lease: Lease | None, ttl: float) -> AsyncIterator[None]:
    """Renew ``lease`` every ``ttl / 3`` while the block runs (a long discovery keeps it)."""

    if lease is None or isinstance(lease, LocalLease):  # none, or granted locally: nothing to renew
        yield
        return
    held = lease

    async def renew() -> None:
        while True:
            await anyio.sleep(ttl / 3)
            if not await held.renew(ttl):
                return  # lost (expired, or Redis unreachable): the write stays idempotent

    async with anyio.create_task_group() as tg:
        tg.start_soon(renew)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()


@dataclass(frozen=True, slots=True)
class RunCache:
    """The cache as one actor run sees it: a run that only read the cache records nothing.

    Recording it would rewrite the gateway's config entry (and every other daemon would
    re-read it) once per daemon per key per period; the run that asked the upstream
    still records it, as do the start and each reload.
    """

    inner: ActorCache

    async def catalog(self, gateway_id: str, spec: ServerSpec) -> CacheEntry | None:
        """See ``CatalogCache.catalog``."""
        return await self.inner.catalog(gateway_id, spec)

    async def held(self, gateway_id: str, server_name: str) -> CacheEntry | None:
        """See ``CatalogCache.held``."""
        return await self.inner.held(gateway_id, server_name)

    async def record(
        self, outcomes: Sequence[ServerOutcome], gateways: Sequence[GatewayConfig]
    ) -> None:
        """See ``CatalogCache.record``; nothing when every outcome was read from the cache."""
        if all(o.source == "cache" and o.error is None for o in outcomes):
            return
        await self.inner.record(outcomes, gateways)


def _newer(entry: CacheEntry | None, before: float | None) -> bool:
    """True when ``entry`` is a result written after ``before`` and still fresh."""
    if entry is None or entry.freshness(time.time()) != "fresh":
        return False
    return before is None or entry.fetched_at > before
