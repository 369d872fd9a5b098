"""The upstream client: connect to one MCP server, list what it offers, close, within one deadline.

The only entry into the MCP client API (with its helper modules
``transports/``, ``listing`` and ``failures``). Every upstream fault comes back as
data in an ``UpstreamResult``; ``fetch`` raises only for cancellation and bugs.

Choices worth knowing:

- ``spec.timeout`` is one deadline covering connect, every listing and the
  close. It starts once a stdio server is admitted (the wait is reported as
  the ``queue`` duration). A stdio server left with no time gets
  SIGKILL at once, so the wall time stays within about 0.1 s of the deadline.
- Stdio spawns are admitted by ``admission.SpawnAdmission``: by CPU demand,
  a server counting until its session is initialised, under a cap of
  ``max_concurrent_spawns`` live children held until the process group is
  gone. Remote servers are not limited by it and share one HTTP client
  (``transports/client.py``), made at the first remote fetch; their
  handshakes go through ``handshakes.HandshakeGate`` (a few at once, each
  released at its handshake or after a short window), so sessions reach
  their listing one after another instead of in lock step. A remote
  server's deadline starts at that admission too (the wait is ``queue``).
- The SDK (and every module that imports it: ``failures``, ``listing``, the
  HTTP transports, ``transports/sdk_shim``) costs about 0.4 s to import. It is
  imported after the first stdio spawn, so that the child's start covers it:
  ``_stdio`` spawns the child (``transports.stdio.spawn``), then the session
  imports what it needs and the transport adopts the child.
- A remote session hands its result over as soon as the catalog is listed,
  then closes (the DELETE, the connection's release) in a task the client owns,
  still under the server's deadline: the close costs a round trip nobody needs
  to wait for. Leaving ``async with UpstreamClient`` waits for those closes
  (cancelled at once when the caller's block failed).
- ``mode="legacy"`` (default) does the classic ``initialize``; ``"auto"``
  probes the 2026-07-28 ``server/discover`` first, with the SDK's probe
  timeout lowered to ``AUTO_PROBE_TIMEOUT`` (a process-wide SDK setting) so a
  server that ignores unknown requests costs 2 s, not 10 s.
- The SDK's response cache is off (``cache=None``): the daemon caches.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING, Any, Self

import anyio
from anyio.abc import Process, TaskGroup

from .. import __version__
from ..auth.tokens import TokenCache
from ..config.settings import DiscoverySettings
from ..models import (
    CacheHint,
    Catalog,
    ErrorKind,
    RemoteTarget,
    ServerSpec,
    StdioTarget,
    Transport,
    UpstreamError,
    UpstreamResult,
)
from ..secret import scrub, scrubbed_traceback
from ..telemetry import record, tracing
from .admission import SpawnAdmission, SpawnStats, Ticket
from .handshakes import HandshakeGate
from .session_result import SessionInfo, session_result
from .transports.stdio import StdioWatch, abandon, spawn, stdio_transport

if TYPE_CHECKING:  # imported at run time once needed (see the module's docstring)
    from mcp import Implementation
    from mcp.server import Server
    from mcp.server.mcpserver import MCPServer

    from .failures import Subject, Watch
    from .transports.client import SharedClient
    from .transports.sdk_shim import SdkTransport

__all__ = ["SpawnStats", "UpstreamClient"]  # SpawnStats: re-exported by discovery/__init__

logger = logging.getLogger(__name__)

AUTO_PROBE_TIMEOUT = 2.0  # seconds for the server/discover probe in mode "auto"
CLOSE_LIMIT = 5.0  # seconds closing the shared HTTP client may take


def wire_cap(max_reply_bytes: int) -> int:
    """Bytes one stdio line or one HTTP body may carry: the catalog cap plus framing room.

    The catalog cap (checked on the parsed items) is the rule; this bound only
    keeps a runaway reply from being buffered whole.
    """
    return 2 * max_reply_bytes + 64 * 1024


@cache
def settle_imports() -> None:
    """Once the SDK is imported: what exists now lives as long as the process; the
    cyclic garbage collector stops scanning it (``gc.freeze``).

    The SDK and its pydantic models are hundreds of thousands of objects that every
    full collection walked again: 3-15% of the client's CPU per upstream in the
    fan-out benchmark. Frozen objects are still freed by reference counting; only a
    cycle among them that turned into garbage later would be kept.
    """
    gc.freeze()


@cache
def client_info() -> Implementation:
    """How this client introduces itself in the handshake."""
    from mcp import Implementation

    return Implementation(name="mcp-discoveryd", version=__version__)


class UpstreamClient(anyio.AsyncContextManagerMixin):
    """Owns the one shared HTTP client and the stdio spawn admission; ``async with`` it."""

    def __init__(self, settings: DiscoverySettings, tokens: TokenCache | None = None) -> None:
        self._settings = settings
        # OAuth tokens of remote upstreams: the daemon's (shared with its watchers), or our own
        self._own_tokens = tokens is None
        self.tokens = TokenCache() if tokens is None else tokens
        self._admission = SpawnAdmission(
            settings.max_concurrent_spawns, policy=settings.spawn_admission
        )
        self._handshakes = HandshakeGate()  # remote sessions in their handshake at once
        self._http: SharedClient | None = None  # made at the first remote fetch
        self._closing: TaskGroup | None = None  # remote sessions closing after their handover

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncGenerator[Self]:
        """The spawn admission, a task group the remote sessions close in, the HTTP client.

        A failing block cancels the closes at once, and its exception leaves
        as it was raised, not wrapped in the task groups' exception groups.
        """
        failure: Exception | None = None
        try:
            # The admission inside: a closing session's bug leaves in one exception group, not two.
            async with (
                anyio.create_task_group() as closing,
                self._admission,
                self._handshakes,
                self._tokens_running(),
            ):
                self._closing = closing
                try:
                    yield self
                except Exception as exc:  # noqa: BLE001 - re-raised below, unwrapped; cancellation passes
                    failure = exc
                    closing.cancel_scope.cancel()
        finally:
            http, self._closing, self._http = self._http, None, None
            if http is not None:
                # Sockets are closed even when cancelled, within a bound (a TLS goodbye may stall).
                with anyio.move_on_after(CLOSE_LIMIT, shield=True):
                    await http.aclose()
        if failure is not None:
            raise failure

    @asynccontextmanager
    async def _tokens_running(self) -> AsyncGenerator[None]:
        """Our own token cache's refresh timers run while we do; a given one is its owner's."""
        if not self._own_tokens:
            yield
            return
        async with self.tokens:
            yield

    @property
    def spawn_stats(self) -> SpawnStats:
        """How many stdio servers run now and ran at most at once (tests read this)."""
        return self._admission.stats

    async def fetch(self, spec: ServerSpec) -> UpstreamResult:
        """Connect, list everything offered, close; never raises for upstream faults."""
        started = time.monotonic()
        target = spec.target
        meta = tracing.trace_meta()  # here: a remote session runs in another task's context
        if isinstance(target, RemoteTarget):
            from .failures import Subject

            subject = Subject.of(target, spec.timeout, self._settings.max_reply_bytes)
            result = await self._remote(target, subject, started, meta)
        else:
            async with self._admission.admit() as ticket:
                result = await self._stdio(target, spec.timeout, started, ticket, meta)
        record.upstream_session(spec, result)
        return result

    async def fetch_in_process(
        self, server: Server[Any] | MCPServer, *, limit_s: float = 30.0
    ) -> UpstreamResult:
        """List an SDK server object in this process (tests, embedding): same rules as fetch."""
        from .failures import Subject

        label = repr(type(server).__name__)
        subject = Subject(label, limit_s, self._settings.max_reply_bytes, ())
        return await self._session(server, subject, time.monotonic())

    async def _remote(
        self, target: RemoteTarget, subject: Subject, started: float, meta: dict[str, str]
    ) -> UpstreamResult:
        """Run the session in the closing task group; return once it has its result."""
        from .transports.client import HttpWatch, SharedClient
        from .transports.sse import sse_transport
        from .transports.streamable import streamable_transport

        if self._closing is None:
            raise RuntimeError("UpstreamClient must be entered (async with) before fetch")
        if self._http is None:  # the first remote server: a stdio-only run never makes one
            self._http = SharedClient(wire_cap(self._settings.max_reply_bytes), tokens=self.tokens)
        watch = HttpWatch(transport=target.transport.value)
        opened = sse_transport if target.transport is Transport.SSE else streamable_transport
        transport = opened(self._http, target, watch, subject.timeout)
        handover, result = anyio.create_memory_object_stream[UpstreamResult](1)
        scope = anyio.CancelScope()
        queued = 0.0

        def hand_over(outcome: UpstreamResult) -> None:
            # The waiter may have been cancelled and gone already: nobody wants the result.
            with suppress(anyio.BrokenResourceError):
                handover.send_nowait(
                    replace(outcome, durations={**outcome.durations, "queue": queued})
                )

        async def session() -> None:
            nonlocal queued
            with scope, handover:
                async with self._handshakes.admit() as connected:
                    queued = time.monotonic() - started
                    await self._session(
                        transport,
                        subject,
                        started,
                        watch,
                        on_result=hand_over,
                        on_connected=connected,
                        meta=meta,
                    )

        self._closing.start_soon(session)
        with result:
            try:
                return await result.receive()
            except BaseException:  # cancelled: the session is not wanted any more
                scope.cancel()
                raise

    async def _stdio(
        self,
        target: StdioTarget,
        limit_s: float,
        started: float,
        ticket: Ticket,
        meta: dict[str, str],
    ) -> UpstreamResult:
        """Spawn first, then the session: the SDK's import overlaps the child's start."""
        queued = time.monotonic() - started
        deadline = anyio.current_time() + limit_s
        watch = StdioWatch()
        spawned: Process | OSError
        try:
            spawned = process = await spawn(target)
            ticket.follow(lambda: process.pid)
        except OSError as exc:  # reported by the transport, as any spawn failure
            spawned = exc
        try:
            from .failures import Subject

            subject = Subject.of(target, limit_s, self._settings.max_reply_bytes)
            transport = stdio_transport(
                target,
                watch,
                deadline=deadline,
                max_line_bytes=wire_cap(self._settings.max_reply_bytes),
                spawned=spawned,
            )
            result = await self._session(
                transport,
                subject,
                time.monotonic(),
                watch,
                on_connected=ticket.release,
                deadline=deadline,  # from the admission, the SDK's first import included
                meta=meta,
            )
        finally:
            if isinstance(spawned, Process) and spawned.returncode is None and not watch.spawned:
                await abandon(spawned)  # cancelled before the transport adopted it
        durations = {**result.durations, "queue": queued, "total": time.monotonic() - started}
        return replace(result, durations=durations)

    async def _session(
        self,
        server: SdkTransport | Server[Any] | MCPServer,
        subject: Subject,
        started: float,
        watch: Watch = None,
        *,
        on_result: Callable[[UpstreamResult], None] | None = None,
        on_connected: Callable[[], None] | None = None,
        deadline: float | None = None,
        meta: dict[str, str] | None = None,
    ) -> UpstreamResult:
        """One session; with ``on_result``, the result goes there as soon as the catalog is in.

        ``on_connected`` is called once the handshake is done; ``deadline`` (an
        ``anyio.current_time()`` value) defaults to now plus ``subject.timeout``;
        ``meta`` (the trace context) goes in each list request's ``params._meta``.
        """
        from mcp import Client

        from .failures import from_exception, timed_out
        from .listing import ListingLimits, PhaseClock, list_catalog
        from .transports.sdk_shim import set_discover_probe_timeout

        settle_imports()

        if self._settings.mode == "auto":  # read by the SDK at call time
            set_discover_probe_timeout(AUTO_PROBE_TIMEOUT)
        limits = ListingLimits(self._settings.page_cap, self._settings.max_reply_bytes)
        clock = PhaseClock()
        info = SessionInfo()
        catalog: Catalog | None = None
        hint = CacheHint()
        error: UpstreamError | None = None
        if deadline is None:
            deadline = anyio.current_time() + subject.timeout
        try:
            with anyio.CancelScope(deadline=deadline) as scope:
                client = Client(
                    server, mode=self._settings.mode, cache=None, client_info=client_info()
                )
                async with client:
                    clock.end()
                    if on_connected is not None:
                        on_connected()
                    info = SessionInfo.of(client)
                    catalog, hint = await list_catalog(client, limits, clock, meta)
                    if on_result is not None:
                        on_result(session_result(catalog, None, hint, clock, started, info))
                        on_result = None
                        await anyio.lowlevel.checkpoint()  # the waiter first, then the close
                    clock.begin("close")
                clock.end()
            if scope.cancelled_caught and catalog is None:
                error = timed_out(subject, clock, watch)
        except Exception as exc:  # noqa: BLE001 - an upstream fault is data; bugs logged below
            if catalog is not None:  # the listing is complete; only the close went wrong
                logger.info(
                    "closing upstream %s failed: %s",
                    subject.label,
                    scrub(repr(exc), subject.secrets),
                )
            elif scope.cancel_called:
                error = timed_out(subject, clock, watch)
            else:
                error = from_exception(exc, subject, clock, watch)
                if error is None:
                    logger.error(  # the traceback scrubbed: its message may quote a secret
                        "unexpected error from upstream %s:\n%s",
                        subject.label,
                        scrubbed_traceback(exc, subject.secrets),
                    )
                    error = subject.error(
                        ErrorKind.INTERNAL, f"unexpected {type(exc).__name__}: {exc}", watch
                    )
        result = session_result(
            catalog if error is None else None, error, hint, clock, started, info
        )
        if on_result is not None:
            on_result(result)
        return result
