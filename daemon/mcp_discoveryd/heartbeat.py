"""What the daemon tells the service manager while it runs: watchdog pings and status lines.

``run_heartbeat`` is a core actor of the daemon (started with ``TaskGroup.start``):

- ``WATCHDOG=1`` every half ``WATCHDOG_USEC``, sent from the event loop, so a blocked
  loop sends none; and only while every core actor still runs (``Liveness``), so a
  dead one stops the pings too and systemd restarts the daemon.
- ``STATUS=`` (``status_line``): a line a person reads in ``systemctl status``, every
  few seconds when it changed; during the preload with ``EXTEND_TIMEOUT_USEC``, so a
  long preload (bounded by ``preload_timeout``) outlives ``TimeoutStartSec`` while the
  loop runs, and a blocked loop does not.

READY, RELOADING and STOPPING are sent by the daemon itself at its phase changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from .models import CacheType

if TYPE_CHECKING:
    from .app import Daemon

logger = logging.getLogger(__name__)

STATUS_EVERY = 5.0  # seconds between status lines once ready (sent only when changed)
PRELOAD_STATUS_EVERY = 1.0  # seconds between progress lines (and extensions) while preloading
PRELOAD_EXTENSION = 10.0  # seconds each extension grants: several ticks, so one late tick is ok


class Liveness:
    """Which core actors run. One that returns has nothing (more) to do; one that is
    cancelled or raises while the daemon is not stopping is dead, and stays so."""

    def __init__(self) -> None:
        self.running: dict[str, anyio.CancelScope] = {}
        self.dead: list[str] = []
        self.stopping = False  # set at shutdown: actors cancelled then are meant to be

    @contextmanager
    def watch(self, name: str) -> Iterator[anyio.CancelScope]:
        """Mark ``name`` running for the block; an abnormal end outside shutdown kills it."""
        returned = False
        with anyio.CancelScope() as scope:
            self.running[name] = scope
            try:
                yield scope
                returned = True
            finally:
                del self.running[name]
                if not returned and not self.stopping:
                    self.dead.append(name)
                    logger.error("core actor %s ended; the watchdog stops", name)

    async def start(
        self, tg: TaskGroup, name: str, func: Callable[..., Awaitable[Any]], *args: Any
    ) -> None:
        """Start a core actor in ``tg`` (``TaskGroup.start``: returns at its handshake)."""

        async def watched(*, task_status: TaskStatus[None]) -> None:
            with self.watch(name):
                await func(*args, task_status=task_status)

        await tg.start(watched)

    def problem(self) -> str | None:
        """Why the daemon is not healthy, or None."""
        return f"core actor ended: {', '.join(self.dead)}" if self.dead else None


async def run_heartbeat(
    daemon: Daemon, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Watchdog pings and status lines until cancelled; returns at once without a manager."""
    notifier = daemon.notifier
    task_status.started()
    if not notifier.enabled:
        return
    async with anyio.create_task_group() as tg:
        if notifier.watchdog is not None:
            tg.start_soon(_watchdog, daemon, notifier.watchdog)
        tg.start_soon(_status, daemon)


async def _watchdog(daemon: Daemon, interval: float) -> None:
    unhealthy: str | None = None
    while True:
        problem = daemon.liveness.problem()
        if problem is None:
            daemon.notifier.ping()
        elif problem != unhealthy:
            logger.critical("watchdog: no more pings (%s); systemd restarts the daemon", problem)
            daemon.notifier.status(f"unhealthy: {problem}; awaiting the watchdog restart")
        unhealthy = problem
        await anyio.sleep(interval)


async def _status(daemon: Daemon) -> None:
    while True:
        preloading = daemon.phase == "preloading"
        problem = daemon.liveness.problem()
        if problem is not None:
            restart = (
                "awaiting the watchdog restart"
                if daemon.notifier.watchdog
                else "restart the daemon"
            )
            daemon.notifier.status(f"unhealthy: {problem}; {restart}")
        elif daemon.phase in ("preloading", "ready"):
            daemon.notifier.status(status_line(daemon))
            if preloading:  # the loop runs: the start may take longer (up to preload_timeout)
                daemon.notifier.extend_timeout(PRELOAD_EXTENSION)
        await anyio.sleep(PRELOAD_STATUS_EVERY if preloading else STATUS_EVERY)


def status_line(daemon: Daemon, now: float | None = None) -> str:
    """One line for ``systemctl status``: servers fresh/stale/failing, the next refresh."""
    now = time.time() if now is None else now
    handles = daemon.actors.handles
    counts = {"fresh": 0, "stale": 0, "expired": 0, "blocked": 0}
    failing = 0
    next_at: tuple[float, str] | None = None
    for (gateway, server), handle in handles.items():
        state = handle.state
        entry = daemon.cache.lookup(CacheType.TOOLS, gateway, server)
        if state.phase == "blocked":  # by the server guardrails: never spawned
            counts["blocked"] += 1
        else:
            counts[entry.freshness(now) if entry is not None else "expired"] += 1
        if state.phase == "failed" or state.failures:
            failing += 1
        if state.next_run_at is not None and (next_at is None or state.next_run_at < next_at[0]):
            next_at = (state.next_run_at, f"{gateway}/{server}")
    if daemon.phase == "preloading":
        done = sum(1 for h in handles.values() if h.preloaded.is_set())
        head = f"preloading: {done}/{_servers(len(handles))} discovered"
    else:
        head = f"ready: {_servers(len(handles))}"
    parts = [f"{head}, {counts['fresh']} fresh, {counts['stale']} stale"]
    if counts["expired"] and daemon.phase != "preloading":
        parts[0] += f", {counts['expired']} without a catalog"
    if counts["blocked"]:
        parts[0] += f", {counts['blocked']} blocked"
    parts[0] += f", {failing} failing"
    if daemon.config_entries:
        parts.append(f"{len(daemon.config_entries)} from config")
    if next_at is not None:
        parts.append(f"next refresh in {duration(next_at[0] - now)} ({next_at[1]})")
    health = daemon.cache.health
    if not health.ok:
        parts.append(f"cache {daemon.cache.backend} degraded: {health.reason or 'unreachable'}")
    if daemon.reload_error is not None:
        parts.append("last reload failed (see the log); running on the previous config")
    return "; ".join(parts)


def _servers(count: int) -> str:
    return f"{count} server" if count == 1 else f"{count} servers"


def duration(seconds: float) -> str:
    """A short human duration: ``45s``, ``12m05s``, ``3h12m``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
