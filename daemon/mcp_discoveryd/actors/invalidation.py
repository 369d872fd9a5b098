"""The invalidation listener as a core actor of the daemon.

Other daemons' "updated"/"cleared" events reach this daemon's memory through
``cache.listener.run_listener``; here they also reach the server actors they concern,
which look at their entry again: one refreshed elsewhere is rescheduled from its new
``refresh_at`` (not refreshed again), one cleared is discovered again (under the lease,
so once between the daemons). A crash is restarted with backoff; past ``restart_limit``
crashes within ``restart_window`` it fails the daemon (the service manager restarts it).
"""

from __future__ import annotations

import contextlib
import logging
import time

import anyio
from anyio.abc import TaskStatus

from ..cache import Cache
from ..cache.events import CacheEvent
from ..cache.health import Backoff
from ..cache.listener import run_listener
from ..cache.redis_backend import RedisBackend
from ..config.settings import DaemonSettings
from ..models import CacheType
from .supervisor import ActorSet, Key

logger = logging.getLogger(__name__)

RESTART_BACKOFF = Backoff(initial=0.1, maximum=10.0)


async def run_invalidation(
    cache: Cache,
    actors: ActorSet,
    settings: DaemonSettings,
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Listen (ready once subscribed) and pass events on to the actors, until cancelled."""
    remote = cache.remote
    if not isinstance(remote, RedisBackend):
        task_status.started()
        return
    keys = _Keys(actors, remote)

    def on_event(event: CacheEvent | None) -> None:
        if event is not None and event.kind == "updated":  # one entry: found by its hash
            key = keys.find(event.ref)
            if key is not None:
                actors.nudge(key)
            return
        for ref, key in keys.by_ref().items():  # a clear's scope, or anything (a resync)
            if event is None or event.covers(ref):
                actors.nudge(key)

    crashes: list[float] = []
    with remote.hub.observe(on_event):
        while True:
            try:
                await run_listener(cache, task_status=task_status)
                return
            except Exception as exc:
                now = time.monotonic()
                crashes = [t for t in crashes if now - t < settings.restart_window] + [now]
                if len(crashes) > settings.restart_limit:
                    raise
                logger.error("invalidation listener crashed (%r); restarting", exc, exc_info=exc)
                with contextlib.suppress(RuntimeError):  # it crashed before its handshake
                    task_status.started()
                task_status = anyio.TASK_STATUS_IGNORED  # a restart is not a start
                await anyio.sleep(RESTART_BACKOFF.delay(len(crashes) - 1))


class _Keys:
    """The actors' keys by hashed identity, rebuilt only when the set of actors changed.

    Each key's hash is kept between rebuilds, and one event's lookup rebuilds only on a
    miss: while thousands of actors start, the set changes between most events, and a
    full rehash per event was quadratic (a removed actor's key found is ignored by nudge).
    """

    def __init__(self, actors: ActorSet, remote: RedisBackend) -> None:
        self._actors, self._remote = actors, remote
        self._generation = -1
        self._map: dict[str, Key] = {}
        self._hashed: dict[Key, str] = {}

    def find(self, ref: str) -> Key | None:
        """The actor key of one hashed identity (from a map at most one miss old)."""
        key = self._map.get(ref)
        return key if key is not None else self.by_ref().get(ref)

    def by_ref(self) -> dict[str, Key]:
        """Every actor's key by hashed identity, as of now."""
        if self._actors.generation != self._generation:
            self._generation = self._actors.generation
            keys = list(self._actors.handles)
            if len(self._hashed) > 2 * len(keys) + 1024:  # forget long-gone actors
                self._hashed = {}
            for key in keys:
                if key not in self._hashed:
                    self._hashed[key] = self._remote.keys.entry_ref(CacheType.TOOLS, *key)
            self._map = {self._hashed[key]: key for key in keys}
        return self._map
