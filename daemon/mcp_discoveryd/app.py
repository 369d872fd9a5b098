"""The root supervisor: opens the cache, the upstream client and the task group, starts a
server actor per (gateway, server) that needs discovery, preloads, reloads, shuts down.

Lifecycle (``async with Daemon(config) as daemon``): the cache (with its recovery actor)
and the upstream client open; every server actor starts (``TaskGroup.start``); the
preload runs (each actor's first discovery, warm from a shared cache that already
holds fresh entries; config-defined servers through the same three phases); the
block runs once ready (``ready = "after-preload"``, bounded by ``preload_timeout``, or
``"at-once"``). Leaving the block stops accepting work, lets discoveries in flight end
within ``shutdown_timeout``, cancels the rest and closes sessions and children.

Signals (``handle_signals``): SIGTERM/SIGINT stop gracefully, a second one cancels at
once; SIGHUP reloads. The in-process API is ``api.DaemonApi``.

The service manager hears of each phase change (``systemd.Notifier``: READY, RELOADING,
STOPPING); ``heartbeat`` sends the watchdog pings and status lines in between.
"""

from __future__ import annotations

import functools
import logging
import signal
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, Literal, Protocol, Self

import anyio
from anyio.abc import TaskStatus

from . import heartbeat, systemd
from .actors.deps import ActorDeps
from .actors.invalidation import run_invalidation
from .actors.supervisor import ActorSet, Handle
from .actors.watcher import WatchPool
from .auth.shared import token_cache
from .auth.tokens import TokenCache
from .cache import Cache, Coordinator, coordinator_for, open_cache
from .config import load_config
from .config.settings import DaemonConfig
from .configured import check_configured
from .discovery import guardrails
from .discovery.guardrails.provider import configured_guardrails
from .discovery.selection import Fetcher, select
from .discovery.upstream import UpstreamClient
from .errors import ControlError
from .models import CacheEntry
from .reload import apply_reload
from .telemetry.bind import bind as bind_telemetry
from .telemetry.setup import exporting

logger = logging.getLogger(__name__)

Phase = Literal["starting", "preloading", "ready", "stopping", "stopped"]
Loader = Callable[[str | Path], DaemonConfig]
STOP_MARGIN = 10.0  # seconds past shutdown_timeout: closing sessions and children, flushing


class Service(Protocol):
    """A long-lived part run beside the actors (the control socket); started means ready."""

    def __call__(
        self, daemon: Daemon, *, task_status: TaskStatus[None]
    ) -> Coroutine[Any, Any, None]: ...


class Daemon(anyio.AsyncContextManagerMixin):
    """The long-running daemon; ``async with`` it, then serve until ``wait_stop`` returns."""

    def __init__(
        self,
        config: DaemonConfig,
        *,
        fetcher: Fetcher | None = None,
        checks: guardrails.Guardrails | None = None,
        coordinator: Coordinator | None = None,
        loader: Loader = load_config,
        notifier: systemd.Notifier | None = None,
        handle_signals: bool = False,
        services: Sequence[Service] = (),
    ) -> None:
        self.config = config
        self.phase: Phase = "starting"
        self.started_at = time.time()
        self.ready_at: float | None = None
        self.reload_error: str | None = None
        self.last_reload: Mapping[str, object] | None = None  # the last reload's reply (status)
        # config-defined servers' checked catalogs, replaced whole (configured.py)
        self.config_entries: Mapping[tuple[str, str], CacheEntry] = {}
        self.loader = loader
        self._fetcher = fetcher
        self._checks = checks  # None: the config's (built-in, and its provider if any)
        self._coordinator = coordinator  # None: the cache's (Redis leases, or always granted)
        self._handle_signals = handle_signals
        self._services = tuple(services)  # started before the preload: the control socket
        self._stop = anyio.Event()
        self._waiting: anyio.CancelScope | None = None  # the bounded wait for the preload
        self._reloading = anyio.Lock()
        # the service manager (systemd.py; $NOTIFY_SOCKET) and the core actors' liveness
        self.notifier = notifier or systemd.Notifier.from_environ()
        self.liveness = heartbeat.Liveness()
        self._cache: Cache | None = None
        self._actors: ActorSet | None = None
        self._deps: ActorDeps | None = None
        self.tokens: TokenCache | None = None  # upstream OAuth tokens, while running

    @property
    def cache(self) -> Cache:
        """The open cache."""
        assert self._cache is not None, "the daemon is not running"
        return self._cache

    @property
    def actors(self) -> ActorSet:
        """The running server actors."""
        assert self._actors is not None, "the daemon is not running"
        return self._actors

    @property
    def deps(self) -> ActorDeps:
        """What the server actors of the current config share."""
        assert self._deps is not None, "the daemon is not running"
        return self._deps

    @deps.setter
    def deps(self, deps: ActorDeps) -> None:
        self._deps = deps

    @property
    def accepting(self) -> bool:
        """False once shutdown began: no new work is taken."""
        return self.phase in ("preloading", "ready")

    def request_stop(self) -> None:
        """Begin a graceful shutdown (``wait_stop`` returns; a preload being waited for ends)."""
        self._stop.set()
        if self._waiting is not None:
            self._waiting.cancel()

    async def wait_stop(self) -> None:
        """Return once a stop was asked for (a signal or ``request_stop``)."""
        await self._stop.wait()

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncGenerator[Self]:
        async with AsyncExitStack() as stack:
            # first in, last out: the final flush sees the whole shutdown
            await stack.enter_async_context(exporting(self.config.telemetry))
            self._cache = await stack.enter_async_context(open_cache(self.config))
            bind_telemetry(self)
            # upstream OAuth tokens: one cache for discovery and watched sessions
            self.tokens = await stack.enter_async_context(token_cache(self.config))
            fetcher = self._fetcher
            if fetcher is None:
                client = UpstreamClient(self.config.discovery, tokens=self.tokens)
                fetcher = await stack.enter_async_context(client)
            checks = self._checks
            if checks is None:
                checks = await stack.enter_async_context(configured_guardrails(self.config))
            watch = await stack.enter_async_context(
                WatchPool(self.config, self.tokens)
            )  # list_changed
            async with anyio.create_task_group() as tg:
                live = self.liveness
                if self._handle_signals:
                    await live.start(tg, "signals", self._signals, tg.cancel_scope)
                self._actors = ActorSet(tg)
                # other daemons' updates and clears, into memory and to the actors
                await live.start(
                    tg,
                    "invalidation",
                    run_invalidation,
                    self._cache,
                    self._actors,
                    self.config.daemon,
                )
                coordinator = self._coordinator or coordinator_for(self._cache)
                self._deps = ActorDeps(
                    self.config, fetcher, self._cache, checks, coordinator, watch=watch
                )
                self.phase = "preloading"
                for service in self._services:  # watched: a dead control socket stops the pings
                    await live.start(tg, "control", service, self)
                handles = await self._start()
                await tg.start(heartbeat.run_heartbeat, self)  # watchdog pings and status lines
                if self.config.daemon.ready == "at-once":
                    tg.start_soon(self._preload, handles)
                else:
                    with anyio.move_on_after(self.config.daemon.preload_timeout) as waiting:
                        self._waiting = waiting  # a stop request ends the wait at once
                        if not self._stop.is_set():
                            await self._preload(handles)
                    self._waiting = None
                self._ready()
                try:
                    yield self
                finally:
                    await self._shutdown()
                    tg.cancel_scope.cancel()
        self.phase = "stopped"
        logger.info("stopped")

    async def reload(self) -> dict[str, object]:
        """Read the config file again; apply it if valid, else keep the running one."""
        if not self.accepting:
            return {"status": "error", "message": "the daemon is stopping"}
        async with self._reloading:
            self.last_reload = await apply_reload(self)
            return dict(self.last_reload)

    async def _start(self) -> list[Handle]:
        """Start every server actor (each begins its preload) and serve config-defined ones."""
        chosen = select(self.config)
        to_discover = [s for s in chosen if not s.spec.is_config_defined]
        logger.info(
            "preload: %d server(s) to discover, %d served from config",
            len(to_discover),
            len(chosen) - len(to_discover),
        )
        handles = [await self.actors.start(sel, self.deps) for sel in to_discover]
        await check_configured(self, [s for s in chosen if s.spec.is_config_defined])
        await self.cache.record([], self.config.gateways)
        return handles

    async def _preload(self, handles: list[Handle]) -> None:
        """Wait for every actor's first discovery, logging progress as each one ends."""
        started = time.monotonic()
        done = 0

        async def wait_one(index: int) -> None:
            nonlocal done
            await handles[index].preloaded.wait()
            done += 1
            state = handles[index].state
            failed = sum(1 for h in handles if h.state.failures)
            logger.info(
                "preload: %d/%d done (%s/%s: %s)%s",
                done,
                len(handles),
                handles[index].selection.gateway.id,
                handles[index].selection.spec.name,
                state.last_status,
                f", {failed} failed so far" if failed else "",
            )

        async with anyio.create_task_group() as tg:
            for index in range(len(handles)):
                tg.start_soon(wait_one, index)
        logger.info("preload: finished in %.2fs", time.monotonic() - started)

    def _ready(self) -> None:
        self.phase = "ready"
        self.ready_at = time.time()
        waiting = sum(1 for h in self.actors.handles.values() if not h.preloaded.is_set())
        extra = f" ({waiting} still preloading)" if waiting else ""
        logger.info("ready: %d server actor(s)%s", len(self.actors.handles), extra)
        if not self._stop.is_set():  # a stop asked for during the preload: STOPPING follows
            self.notifier.ready(heartbeat.status_line(self))

    async def _shutdown(self) -> None:
        self.phase = "stopping"
        self.liveness.stopping = True
        grace = self.config.daemon.shutdown_timeout
        logger.info("stopping: in-flight discoveries get %.0fs, then are cancelled", grace)
        self.notifier.stopping(f"stopping: in-flight discoveries get {grace:.0f}s")
        self.notifier.extend_timeout(grace + STOP_MARGIN)  # the unit's TimeoutStopSec follows
        await self.actors.stop_all(grace)

    async def _signals(
        self, scope: anyio.CancelScope, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            task_status.started()
            async for signum in signals:
                if signum == signal.SIGHUP:
                    logger.info("SIGHUP: reloading %s", self.config.path)
                    try:
                        await self.reload()
                    except Exception:  # a bug in reload must not end the daemon
                        logger.exception("reload failed; still running on the previous config")
                elif self._stop.is_set():
                    logger.warning("%s again: cancelling at once", signal.Signals(signum).name)
                    scope.cancel()
                else:
                    logger.info("%s: stopping", signal.Signals(signum).name)
                    self.request_stop()


EXIT_OK = 0
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: the control socket is served by another daemon, or unusable
EXIT_SOFTWARE = 70  # EX_SOFTWARE: a core actor failed; the service manager restarts the daemon


async def serve(config: DaemonConfig, *, loader: Loader = load_config) -> int:
    """Run the daemon, serving its control socket, until SIGTERM/SIGINT (``run``); the exit code."""
    from .control.activation import open_listener
    from .control.mcp_tools import mcp_endpoint
    from .control.server import serve_control

    try:
        with open_listener(config.control) as listener:
            control = functools.partial(serve_control, listener=listener, endpoint=mcp_endpoint)
            async with Daemon(
                config, loader=loader, handle_signals=True, services=[control]
            ) as daemon:
                await daemon.wait_stop()
    except ControlError as exc:  # before any server was spawned: nothing else runs yet
        logger.critical("not starting: %s", exc)
        return EXIT_UNAVAILABLE
    except Exception as exc:  # a core actor (the cache's recovery actor) or the supervisor itself
        logger.critical("stopping: a core part of the daemon failed: %r", exc, exc_info=exc)
        return EXIT_SOFTWARE
    return EXIT_OK
