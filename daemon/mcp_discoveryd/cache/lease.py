"""Refresh leases across daemons that share a Redis: one refreshes a key, the others wait.

A lease is ``SET P:v1:{G}:lease:S <random token> NX PX <ttl>``; it is released
by compare-and-delete and renewed by compare-and-pexpire (Lua, ``scripts.py``),
so a daemon never deletes or extends a lease another daemon took after its own
expired. The lease is an optimisation, not a guarantee: writes stay idempotent
(newer ``fetched_at`` wins), so two refreshes of one key only cost time.

``wait_for_update`` returns when another daemon's "updated"/"cleared" event for
the key arrives (the invalidation listener passes it on) or, as a fallback for
lost events, when the lease key is gone (polled with ``PTTL``). The caller then
re-reads the entry. Redis unreachable: leases are granted locally (``degraded``),
never an error and never a wait. Redis busy (its pool stayed exhausted) is load, not
an outage: a lease request asks again until Redis decides it, for up to
``[cache] busy_wait``, then raises ``CacheBusyError`` (the actor backs off); a renewal
or a wait asks again on its next tick.

A server actor's refresh, in outline::

    lease = await coordinator.try_acquire(gateway_id, name, ttl_s=deadline + margin)
    if lease is None:                       # another daemon refreshes this key
        await coordinator.wait_for_update(gateway_id, name, timeout=deadline + margin)
        entry = await cache.catalog(gateway_id, spec)  # reschedule from it; if the
        ...                                            # holder failed, try_acquire again
    else:
        try:
            ...discover, calling lease.renew() every ttl/3 while it runs...
            await cache.record(outcomes, gateways)     # publishes "updated"
        finally:
            await lease.release()                      # shielded, bounded
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import anyio

from ..errors import CacheBusyError, CacheUnavailableError
from ..models import CacheType
from .busy import BUSY_WAIT, patiently
from .redis_backend import RedisBackend
from .scripts import RELEASE_LEASE, RENEW_LEASE
from .tiered import Cache

if TYPE_CHECKING:  # redis-py only once Redis is configured
    from .redis import ScriptCall

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.5  # seconds between PTTL checks while waiting for another daemon
RELEASE_BOUND = 2.0  # seconds a release may take, even in a cancelled task (shutdown)
WaitResult = Literal["updated", "cleared", "released", "timeout"]


class Lease(Protocol):
    """The right to refresh one (gateway, server) entry until released or expired."""

    @property
    def degraded(self) -> bool:
        """True when granted locally because the shared store was unreachable."""
        ...

    async def release(self) -> bool:
        """Give it up; False when it had already expired (or the store was unreachable)."""
        ...

    async def renew(self, ttl_s: float | None = None) -> bool:
        """Extend it (by its own TTL unless given); False when it is no longer ours."""
        ...


class Coordinator(Protocol):
    """Single flight across daemons for one key."""

    async def try_acquire(self, gateway_id: str, server_name: str, ttl_s: float) -> Lease | None:
        """A lease, or None when another daemon holds it."""
        ...

    async def wait_for_update(
        self,
        gateway_id: str,
        server_name: str,
        timeout: float,  # noqa: ASYNC109  # a result, not a raise
    ) -> WaitResult:
        """Until the holder's result is published, its lease ends, or ``timeout``."""
        ...


@dataclass(frozen=True, slots=True)
class LocalLease:
    """A lease nobody else competes for (no shared store, or it is unreachable)."""

    degraded: bool = False

    async def release(self) -> bool:
        """See ``Lease.release``."""
        return True

    async def renew(self, ttl_s: float | None = None) -> bool:
        """See ``Lease.renew``."""
        return True


class LocalCoordinator:
    """One daemon alone: every lease is granted; there is never anyone to wait for."""

    async def try_acquire(self, gateway_id: str, server_name: str, ttl_s: float) -> Lease | None:
        """See ``Coordinator.try_acquire``."""
        return LocalLease()

    async def wait_for_update(
        self,
        gateway_id: str,
        server_name: str,
        timeout: float,  # noqa: ASYNC109  # a result, not a raise
    ) -> WaitResult:
        """See ``Coordinator.wait_for_update``: nobody else holds a lease."""
        return "released"


@dataclass(frozen=True, slots=True)
class RedisLease:
    """A lease held in Redis under a random token."""

    key: str
    token: str
    ttl_ms: int
    _release: ScriptCall = field(repr=False)
    _renew: ScriptCall = field(repr=False)
    degraded: bool = False

    async def release(self) -> bool:
        """See ``Lease.release``: deletes the key only while it holds our token.

        Shielded (within ``RELEASE_BOUND``): it is called from ``finally`` blocks of
        cancelled discoveries, and a lease left behind stalls the other daemons until PX.
        """
        released = False
        with anyio.move_on_after(RELEASE_BOUND, shield=True):
            try:
                released = bool(await self._release([self.key], [self.token]))
            except (CacheUnavailableError, CacheBusyError):
                pass  # it expires by itself
        return released

    async def renew(self, ttl_s: float | None = None) -> bool:
        """See ``Lease.renew``: extends the key only while it holds our token."""
        ttl_ms = _ms(ttl_s) if ttl_s is not None else self.ttl_ms
        try:
            return bool(await self._renew([self.key], [self.token, ttl_ms]))
        except CacheUnavailableError:
            return False
        except CacheBusyError:
            return True  # not known lost: the next renewal asks again


class RedisCoordinator:
    """Leases in the shared Redis; waiters woken by the invalidation listener's events."""

    def __init__(
        self,
        backend: RedisBackend,
        *,
        poll_interval: float = POLL_INTERVAL,
        busy_wait: float = BUSY_WAIT,
    ) -> None:
        self._backend = backend
        self._busy_wait = busy_wait
        self._connection = backend.connection
        self._keys = backend.keys
        self._poll = poll_interval
        self._release = self._connection.script("lease_release", RELEASE_LEASE)
        self._renew = self._connection.script("lease_renew", RENEW_LEASE)

    async def try_acquire(self, gateway_id: str, server_name: str, ttl_s: float) -> Lease | None:
        """See ``Coordinator.try_acquire``; a local lease while Redis is unreachable;
        ``CacheBusyError`` when its pool stayed busy past ``busy_wait``."""
        key = self._keys.lease_key(gateway_id, server_name)
        token = secrets.token_hex(16)
        ttl_ms = _ms(ttl_s)
        try:
            got = await patiently(
                lambda: self._connection.call("lease", "SET", key, token, "NX", "PX", ttl_ms),
                limit=self._busy_wait,
                pool=self._connection.gate,
            )
        except CacheUnavailableError as exc:
            logger.debug("lease granted locally: %s", exc.reason)
            return LocalLease(degraded=True)
        if got is None:
            return None
        return RedisLease(key, token, ttl_ms, self._release, self._renew)

    async def wait_for_update(
        self,
        gateway_id: str,
        server_name: str,
        timeout: float,  # noqa: ASYNC109  # a result, not a raise
    ) -> WaitResult:
        """See ``Coordinator.wait_for_update``; "released" too when Redis is unreachable."""
        key = self._keys.lease_key(gateway_id, server_name)
        ref = self._keys.entry_ref(CacheType.TOOLS, gateway_id, server_name)
        with anyio.move_on_after(timeout), self._backend.hub.watch(ref) as waiter:
            while True:
                with anyio.move_on_after(self._poll):
                    await waiter.event.wait()
                if waiter.seen is not None:
                    return "cleared" if waiter.seen.kind == "cleared" else "updated"
                try:
                    remaining = await self._connection.call("lease_pttl", "PTTL", key)
                except CacheUnavailableError:
                    return "released"  # the caller re-reads, then acquires (locally)
                except CacheBusyError:
                    continue  # unknown yet: the next poll asks again
                if int(remaining) < 0:  # -2: gone (released or expired)
                    return "released"
        return "timeout"


def coordinator_for(cache: Cache, *, poll_interval: float = POLL_INTERVAL) -> Coordinator:
    """The coordinator that fits a cache: Redis leases when it has a Redis backend."""
    if isinstance(cache.remote, RedisBackend):
        return RedisCoordinator(
            cache.remote, poll_interval=poll_interval, busy_wait=cache.settings.busy_wait
        )
    return LocalCoordinator()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
