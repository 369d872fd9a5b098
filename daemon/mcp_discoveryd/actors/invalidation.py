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
from ..config.model import DaemonSettings
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
    refs: dict[Key, str] = {}  # keyed hashes, computed once per actor

    def on_event(event: CacheEvent | None) -> None:
        for key in list(actors.handles):
            ref = refs.get(key) or refs.setdefault(
                key, remote.keys.entry_ref(CacheType.TOOLS, *key)
            )
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
