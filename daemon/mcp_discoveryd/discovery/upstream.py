"""The upstream client: connect to one MCP server, list what it offers, close, within one deadline.

The only entry into the MCP client API (with its helper modules ``stdio``,
``http``, ``listing`` and ``failures``). Every upstream fault comes back as
data in an ``UpstreamResult``; ``fetch`` raises only for cancellation and bugs.

Choices worth knowing:

- ``spec.timeout`` is one deadline covering connect, every listing and the
  close. It starts once a stdio server is admitted (the wait is reported as
  the ``queue`` duration). A stdio server left with no time gets
  SIGKILL at once, so the wall time stays within about 0.1 s of the deadline.
- Stdio spawns are admitted by ``admission.SpawnAdmission``: by CPU demand,
  a server counting until its session is initialised, under a cap of
  ``max_concurrent_spawns`` live children held until the process group is
  gone. Remote servers are not limited by it and share one HTTP pool.
- A remote session hands its result over as soon as the catalog is listed,
  then closes (the DELETE, the connection's release) in a task the client owns,
  still under the server's deadline: the close costs a round trip nobody needs
  to wait for. Leaving ``async with UpstreamClient`` waits for those closes.
- ``mode="legacy"`` (default) does the classic ``initialize``; ``"auto"``
  probes the 2026-07-28 ``server/discover`` first, with the SDK's probe
  timeout lowered to ``AUTO_PROBE_TIMEOUT`` (a process-wide SDK setting) so a
  server that ignores unknown requests costs 2 s, not 10 s.
- The SDK's response cache is off (``cache=None``): the daemon caches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from functools import cache
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import anyio
from anyio.abc import Process, TaskGroup

from .. import __version__
from ..config.model import DiscoverySettings
from ..models import (
    CacheHint,
    Catalog,
    ErrorKind,
    JSONObject,
    RemoteTarget,
    ServerSpec,
    StdioTarget,
    UpstreamError,
    UpstreamResult,
)
from .admission import SpawnAdmission, SpawnStats, Ticket
from .stdio import StdioWatch, abandon, spawn, stdio_transport

# The SDK (and the modules that import it) costs about 0.4 s to import: it is
# imported after the first spawn, so that the child's start covers it.
if TYPE_CHECKING:
    from mcp import Client, Implementation
    from mcp.client._transport import Transport as SdkTransport
    from mcp.server import Server
    from mcp.server.mcpserver import MCPServer

    from .failures import Subject
    from .http import HttpPool, HttpWatch
    from .listing import PhaseClock

logger = logging.getLogger(__name__)

AUTO_PROBE_TIMEOUT = 2.0  # seconds for the server/discover probe in mode "auto"


def wire_cap(max_reply_bytes: int) -> int:
    """Bytes one stdio line or one HTTP body may carry: the catalog cap plus framing room.

    The catalog cap (checked on the parsed items) is the rule; this bound only
    keeps a runaway reply from being buffered whole.
    """
    return 2 * max_reply_bytes + 64 * 1024


@cache
def client_info() -> Implementation:
    """How this client introduces itself in the handshake."""
    from mcp import Implementation

    return Implementation(name="mcp-discoveryd", version=__version__)


class UpstreamClient:
    """Owns the one shared HTTP connection pool and the stdio spawn admission."""

    def __init__(self, settings: DiscoverySettings) -> None:
        self._settings = settings
        self._admission = SpawnAdmission(
            settings.max_concurrent_spawns, policy=settings.spawn_admission
        )
        self._pool: HttpPool | None = None
        self._closing: TaskGroup | None = None  # remote sessions closing after their handover
        if settings.mode == "auto":
            import mcp.client.session as sdk_session

            sdk_session.DISCOVER_TIMEOUT_SECONDS = AUTO_PROBE_TIMEOUT  # read at call time

    async def __aenter__(self) -> Self:
        await self._admission.__aenter__()
        self._closing = anyio.create_task_group()
        await self._closing.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        closing, self._closing = self._closing, None
        try:
            if closing is not None and isinstance(exc, anyio.get_cancelled_exc_class()):
                await closing.__aexit__(exc_type, exc, tb)
            elif closing is not None:
                if exc is not None:  # the caller failed: stop closing politely
                    closing.cancel_scope.cancel()
                # The caller's own exception must leave unwrapped, not in an exception group.
                await closing.__aexit__(None, None, None)
        finally:
            try:
                if self._pool is not None:
                    await self._pool.aclose()
                    self._pool = None
            finally:
                await self._admission.__aexit__(None, None, None)

    @property
    def spawn_stats(self) -> SpawnStats:
        """How many stdio servers run now and ran at most at once (tests read this)."""
        return self._admission.stats

    async def fetch(self, spec: ServerSpec) -> UpstreamResult:
        """Connect, list everything offered, close; never raises for upstream faults."""
        started = time.monotonic()
        target = spec.target
        if isinstance(target, RemoteTarget):
            from .failures import Subject

            subject = Subject.of(target, spec.timeout, self._settings.max_reply_bytes)
            return await self._remote(target, subject, started)
        async with self._admission.admit() as ticket:
            return await self._stdio(target, spec.timeout, started, ticket)

    async def fetch_in_process(
        self, server: Server[Any] | MCPServer, *, limit_s: float = 30.0
    ) -> UpstreamResult:
        """List an SDK server object in this process (tests, embedding): same rules as fetch."""
        from .failures import Subject

        label = repr(type(server).__name__)
        subject = Subject(label, limit_s, self._settings.max_reply_bytes, frozenset())
        return await self._session(server, subject, time.monotonic())

    async def _remote(
        self, target: RemoteTarget, subject: Subject, started: float
    ) -> UpstreamResult:
        """Run the session in the closing task group; return once it has its result."""
        from .http import HttpPool, HttpWatch

        if self._closing is None:
            raise RuntimeError("UpstreamClient must be entered (async with) before fetch")
        if self._pool is None:  # the first remote server: no HTTP machinery for stdio-only runs
            self._pool = HttpPool(wire_cap(self._settings.max_reply_bytes))
        http = HttpWatch()
        transport = self._pool.transport(target, http, subject.timeout)
        handover, result = anyio.create_memory_object_stream[UpstreamResult](1)
        scope = anyio.CancelScope()

        def hand_over(outcome: UpstreamResult) -> None:
            # The waiter may have been cancelled and gone already: nobody wants the result.
            with suppress(anyio.BrokenResourceError):
                handover.send_nowait(outcome)

        async def session() -> None:
            with scope, handover:
                await self._session(transport, subject, started, http=http, on_result=hand_over)

        self._closing.start_soon(session)
        with result:
            try:
                return await result.receive()
            except BaseException:  # cancelled: the session is not wanted any more
                scope.cancel()
                raise

    async def _stdio(
        self, target: StdioTarget, limit_s: float, started: float, ticket: Ticket
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
                stdio=watch,
                on_connected=ticket.release,
                deadline=deadline,  # from the admission, the SDK's first import included
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
        *,
        stdio: StdioWatch | None = None,
        http: HttpWatch | None = None,
        on_result: Callable[[UpstreamResult], None] | None = None,
        on_connected: Callable[[], None] | None = None,
        deadline: float | None = None,
    ) -> UpstreamResult:
        """One session; with ``on_result``, the result goes there as soon as the catalog is in."""
        from mcp import Client

        from .failures import from_exception, timed_out
        from .listing import ListingLimits, PhaseClock, list_catalog

        clock = PhaseClock()
        info: dict[str, Any] = {}
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
                    info = _session_info(client)
                    limits = ListingLimits(self._settings.page_cap, self._settings.max_reply_bytes)
                    catalog, hint = await list_catalog(client, limits, clock)
                    if on_result is not None:
                        on_result(_result(catalog, None, hint, clock, started, info))
                        on_result = None
                        await anyio.lowlevel.checkpoint()  # the waiter first, then the close
                    clock.begin("close")
                clock.end()
            if scope.cancelled_caught and catalog is None:
                error = timed_out(subject, clock, stdio, http)
        except Exception as exc:
            if catalog is not None:  # the listing is complete; only the close went wrong
                logger.info("closing upstream %s failed: %r", subject.label, exc)
            elif scope.cancel_called:
                error = timed_out(subject, clock, stdio, http)
            else:
                error = from_exception(exc, subject, clock, stdio, http)
                if error is None:
                    logger.exception("unexpected error from upstream %s", subject.label)
                    error = subject.error(
                        ErrorKind.INTERNAL, f"unexpected {type(exc).__name__}: {exc}", stdio
                    )
        result = _result(catalog if error is None else None, error, hint, clock, started, info)
        if on_result is not None:
            on_result(result)
        return result


def _result(
    catalog: Catalog | None,
    error: UpstreamError | None,
    hint: CacheHint,
    clock: PhaseClock,
    started: float,
    info: dict[str, Any],
) -> UpstreamResult:
    """The session's result so far: its catalog or its error, with every step's duration."""
    durations = {**clock.durations, "total": time.monotonic() - started}
    return UpstreamResult(catalog, error, durations=durations, cache_hint=hint, **info)


def _session_info(client: Client) -> dict[str, Any]:
    """Protocol version, server info and capabilities, as JSON in MCP wire shape."""
    server_info: JSONObject | None = None
    if client.server_info is not None:
        server_info = client.server_info.model_dump(by_alias=True, exclude_none=True, mode="json")
    capabilities = client.server_capabilities.model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )
    return {
        "protocol_version": client.protocol_version,
        "server_info": server_info,
        "capabilities": capabilities,
    }
