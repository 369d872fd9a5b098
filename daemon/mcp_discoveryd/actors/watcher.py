"""list_changed watching: a long-lived session per watched server, which tells its actor.

Which servers: ``watch = "auto"`` (the default) watches remote servers whose
capabilities advertise ``listChanged`` for tools, prompts or resources; ``"on"``
watches any server, stdio ones too (each keeps a child process alive for as long
as it is watched, hence not by default) and whether it advertises or not;
``"off"`` none. At most ``[daemon] max_watched`` sessions are open at once; past
that a watcher waits for a slot.

A notification does not refresh by itself: the watcher collects notifications
for ``watch_debounce`` seconds, then sends its actor one ``ListChanged``, which goes
through the actor's mailbox and so through its single flight. A session that ends
(the server restarted, a failed ping, a lost subscription) is reopened after an
exponential backoff with jitter, and the reopened session asks for one refresh,
since changes made while it was away were not announced.

A watcher lives exactly as long as its actor (``follow``): it is cancelled when the
actor stops (shutdown, a reload that removes or changes the server) or fails.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from functools import partial
from typing import TYPE_CHECKING, Self

import anyio
from anyio.abc import TaskStatus

from ..cache.health import Backoff
from ..config.settings import DaemonConfig
from ..discovery.selection import Selection
from ..discovery.watched import Kind, Opened, watch_session
from ..models import JSONObject, RemoteTarget, ServerSpec
from .messages import ListChanged

if TYPE_CHECKING:
    from ..auth.tokens import TokenCache
    from ..discovery.transports.client import SharedClient

logger = logging.getLogger(__name__)

HEALTHY_AFTER = 30.0  # seconds a session must last for the next reopen to start from the first step
WATCH_RETRY_INITIAL = 0.5  # seconds before the first reopen


@dataclass(frozen=True, slots=True)
class WatchStats:
    """Counts tests and status read: sessions open now and at most, notifications seen."""

    open: int = 0
    peak: int = 0
    opened: int = 0  # sessions opened since start
    notifications: int = 0
    waiting: int = 0  # watchers waiting for a slot


class WatchPool(anyio.AsyncContextManagerMixin):
    """What every watcher shares: the bound on open sessions and one HTTP client."""

    def __init__(self, config: DaemonConfig, tokens: TokenCache | None = None) -> None:
        self.config = config
        settings = config.daemon
        self._slots = anyio.CapacityLimiter(max(1, settings.max_watched))
        self._http: SharedClient | None = None
        self._tokens = tokens  # the daemon's OAuth tokens (one cache with discovery's)
        self.stats = WatchStats()
        self.rng = random.Random()

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncGenerator[Self]:
        try:
            yield self
        finally:
            http, self._http = self._http, None
            if http is not None:
                with anyio.move_on_after(5.0, shield=True):
                    await http.aclose()

    def status(self) -> JSONObject:
        """The counts and the bound, for status."""
        return {**asdict(self.stats), "max": self.config.daemon.max_watched}

    def wanted(self, spec: ServerSpec) -> bool:
        """True when ``spec``'s server is to be watched (advertising listChanged, for "auto")."""
        if self.config.daemon.max_watched == 0 or spec.watch == "off":
            return False
        return spec.watch == "on" or isinstance(spec.target, RemoteTarget)

    def http(self) -> SharedClient:
        """The HTTP client of every watched remote session, made at the first one."""
        if self._http is None:
            from ..discovery.transports.client import SharedClient
            from ..discovery.upstream import wire_cap

            cap = wire_cap(self.config.discovery.max_reply_bytes)
            self._http = SharedClient(cap, tokens=self._tokens)
        return self._http

    @asynccontextmanager
    async def slot(self, name: str) -> AsyncGenerator[None]:
        """Hold one of ``max_watched`` slots while a session is open (waits for one)."""
        if self._slots.available_tokens == 0:
            logger.info("watch %s: %d session(s) open, the limit; waiting", name, self.stats.open)
        self.count(waiting=1)
        try:
            await self._slots.acquire()
        finally:
            self.count(waiting=-1)
        self.count(open=1)
        try:
            yield
        finally:
            self.count(open=-1)
            self._slots.release()

    def count(self, *, open: int = 0, waiting: int = 0, notifications: int = 0) -> None:
        """Move the counts (replaced whole: readers never see them half-written)."""
        s = self.stats
        now_open = s.open + open
        self.stats = WatchStats(
            open=now_open,
            peak=max(s.peak, now_open),
            opened=s.opened + max(0, open),
            notifications=s.notifications + notifications,
            waiting=s.waiting + waiting,
        )

    async def follow(
        self,
        selection: Selection,
        send: Callable[[ListChanged], Awaitable[None]],
        done: anyio.Event,
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Watch ``selection``'s server until ``done`` is set (its actor ended)."""
        watcher = Watcher(selection, self, send)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._contained, watcher)
            task_status.started()
            await done.wait()
            tg.cancel_scope.cancel()

    async def _contained(self, watcher: Watcher) -> None:
        """Run a watcher; a bug in it is logged and the watcher restarted, the daemon unharmed."""
        while True:
            try:
                await watcher.run()
                return
            except Exception:
                logger.exception("watch %s: watcher crashed; restarting", watcher.name)
                await anyio.sleep(self.config.daemon.watch_retry_max)


class Watcher:
    """One server's watched session, reopened with backoff, its notifications debounced."""

    def __init__(
        self,
        selection: Selection,
        pool: WatchPool,
        send: Callable[[ListChanged], Awaitable[None]],
    ) -> None:
        self._spec = selection.spec
        self.name = f"{selection.gateway.id}/{selection.spec.name}"
        self._pool = pool
        self._send = send
        self._kinds: set[Kind] = set()
        self._pending = anyio.Event()

    async def run(self) -> None:
        """Open, watch, reopen after a backoff; returns only for a server not to be watched."""
        settings = self._pool.config.daemon
        backoff = Backoff(WATCH_RETRY_INITIAL, settings.watch_retry_max)
        attempt, ever_opened = 0, False
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._debounce, settings.watch_debounce)
            while True:
                async with self._pool.slot(self.name):
                    began = anyio.current_time()
                    reopened = ever_opened
                    ended = await watch_session(
                        self._spec,
                        self._pool.http,
                        mode=self._pool.config.discovery.mode,
                        require_advertised=self._spec.watch == "auto",
                        ping_s=settings.watch_ping,
                        on_open=partial(self._opened, reopened=reopened),
                        on_change=self._changed,
                    )
                ever_opened = ever_opened or ended.opened
                if ended.unwatchable:
                    logger.info("watch %s: not watched (%s)", self.name, ended.reason)
                    tg.cancel_scope.cancel()
                    return
                if anyio.current_time() - began >= HEALTHY_AFTER:
                    attempt = 0
                delay = backoff.delay(attempt, self._pool.rng)
                attempt += 1
                logger.warning(
                    "watch %s: session ended (%s); reopening in %.1fs",
                    self.name,
                    ended.reason,
                    delay,
                )
                await anyio.sleep(delay)

    def _opened(self, opened: Opened, *, reopened: bool) -> None:
        kinds = ", ".join(opened.advertised) or "tools, prompts, resources (none advertised)"
        logger.info(
            "watch %s: watching %s (%s, %s)%s",
            self.name,
            kinds,
            opened.protocol_version,
            opened.how,
            "; reopened, refreshing" if reopened else "",
        )
        if reopened:  # changes made while the session was down were not announced
            self._changed("tools", counted=False)

    def _changed(self, kind: Kind, *, counted: bool = True) -> None:
        if counted:
            self._pool.count(notifications=1)
        self._kinds.add(kind)
        self._pending.set()

    async def _debounce(self, window: float) -> None:
        """One ``ListChanged`` per ``window`` of notifications, sent through the actor's mailbox."""
        while True:
            await self._pending.wait()
            await anyio.sleep(window)
            kinds, self._kinds, self._pending = frozenset(self._kinds), set(), anyio.Event()
            logger.info("list_changed %s: %s; refreshing", self.name, ", ".join(sorted(kinds)))
            try:
                await self._send(ListChanged(kinds))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return  # the actor is stopping: nobody to tell
