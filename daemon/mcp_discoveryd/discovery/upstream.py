"""The upstream client: connect to one MCP server, list what it offers, close, within one deadline.

The only entry into the MCP client API (with its helper modules
``transports/``, ``listing`` and ``failures``). Every upstream fault comes back as
data in an ``UpstreamResult``; ``fetch`` raises only for cancellation and bugs.

Choices worth knowing:

- ``spec.timeout`` is one deadline covering connect, every listing and the
  close. It starts once a stdio server got its spawn slot (waiting for a slot
  is reported as the ``queue`` duration). A stdio server left with no time gets
  SIGKILL at once, so the wall time stays within about 0.1 s of the deadline.
- Stdio spawns go through one ``CapacityLimiter`` of ``max_concurrent_spawns``,
  held from spawn until the process group is gone. Remote servers are not
  limited by it and share one HTTP client (``transports/client.py``).
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

import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any, Self

import anyio
from anyio.abc import TaskGroup
from mcp import Client, Implementation
from mcp.server import Server
from mcp.server.mcpserver import MCPServer

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
    Transport,
    UpstreamError,
    UpstreamResult,
)
from .failures import Subject, Watch, from_exception, timed_out
from .listing import ListingLimits, PhaseClock, list_catalog
from .transports.client import HttpWatch, SharedClient
from .transports.sdk_shim import SdkTransport, set_discover_probe_timeout
from .transports.sse import sse_transport
from .transports.stdio import StdioWatch, stdio_transport
from .transports.streamable import streamable_transport

logger = logging.getLogger(__name__)

AUTO_PROBE_TIMEOUT = 2.0  # seconds for the server/discover probe in mode "auto"
CLOSE_LIMIT = 5.0  # seconds closing the shared HTTP client may take


def wire_cap(max_reply_bytes: int) -> int:
    """Bytes one stdio line or one HTTP body may carry: the catalog cap plus framing room.

    The catalog cap (checked on the parsed items) is the rule; this bound only
    keeps a runaway reply from being buffered whole.
    """
    return 2 * max_reply_bytes + 64 * 1024


CLIENT_INFO = Implementation(name="mcp-discoveryd", version=__version__)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What a session learned in its handshake, as JSON in MCP wire shape."""

    protocol_version: str | None = None
    server_info: JSONObject | None = None
    capabilities: JSONObject | None = None

    @classmethod
    def of(cls, client: Client) -> SessionInfo:
        """Read from a connected client."""
        server_info: JSONObject | None = None
        if client.server_info is not None:
            server_info = client.server_info.model_dump(
                by_alias=True, exclude_none=True, mode="json"
            )
        capabilities = client.server_capabilities.model_dump(
            by_alias=True, exclude_none=True, mode="json"
        )
        return cls(client.protocol_version, server_info, capabilities)


@dataclass(frozen=True, slots=True)
class SpawnStats:
    """Stdio spawns: in flight now, the most ever in flight at once, and the total."""

    in_flight: int
    peak: int
    total: int


class UpstreamClient(anyio.AsyncContextManagerMixin):
    """Owns the one shared HTTP client and the stdio spawn limiter; ``async with`` it."""

    def __init__(self, settings: DiscoverySettings) -> None:
        self._settings = settings
        self._limits = ListingLimits(settings.page_cap, settings.max_reply_bytes)
        self._limiter = anyio.CapacityLimiter(settings.max_concurrent_spawns)
        self._http: SharedClient | None = None
        self._closing: TaskGroup | None = None  # remote sessions closing after their handover
        self._in_flight = self._peak = self._total = 0
        if settings.mode == "auto":
            set_discover_probe_timeout(AUTO_PROBE_TIMEOUT)

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncGenerator[Self]:
        """The shared HTTP client, and a task group the remote sessions close in.

        A failing block cancels the closes at once, and its exception leaves
        as it was raised, not wrapped in the task group's exception group.
        """
        http = self._http = SharedClient(wire_cap(self._settings.max_reply_bytes))
        failure: Exception | None = None
        try:
            async with anyio.create_task_group() as closing:
                self._closing = closing
                try:
                    yield self
                except Exception as exc:  # noqa: BLE001 - re-raised below, unwrapped; cancellation passes
                    failure = exc
                    closing.cancel_scope.cancel()
        finally:
            self._closing = self._http = None
            # Sockets are closed even when cancelled, within a bound (a TLS goodbye may stall).
            with anyio.move_on_after(CLOSE_LIMIT, shield=True):
                await http.aclose()
        if failure is not None:
            raise failure

    @property
    def spawn_stats(self) -> SpawnStats:
        """How many stdio servers run now and ran at most at once (tests read this)."""
        return SpawnStats(self._in_flight, self._peak, self._total)

    async def fetch(self, spec: ServerSpec) -> UpstreamResult:
        """Connect, list everything offered, close; never raises for upstream faults."""
        started = time.monotonic()
        target = spec.target
        subject = Subject.of(target, spec.timeout, self._settings.max_reply_bytes)
        if isinstance(target, RemoteTarget):
            return await self._remote(target, subject, started)
        async with self._limiter:
            self._enter_spawn()
            try:
                return await self._stdio(target, subject, started)
            finally:
                self._in_flight -= 1

    async def fetch_in_process(
        self, server: Server[Any] | MCPServer, *, limit_s: float = 30.0
    ) -> UpstreamResult:
        """List an SDK server object in this process (tests, embedding): same rules as fetch."""
        label = repr(type(server).__name__)
        subject = Subject(label, limit_s, self._settings.max_reply_bytes, ())
        return await self._session(server, subject, time.monotonic())

    async def _remote(
        self, target: RemoteTarget, subject: Subject, started: float
    ) -> UpstreamResult:
        """Run the session in the closing task group; return once it has its result."""
        if self._http is None or self._closing is None:
            raise RuntimeError("UpstreamClient must be entered (async with) before fetch")
        watch = HttpWatch(transport=target.transport.value)
        opened = sse_transport if target.transport is Transport.SSE else streamable_transport
        transport = opened(self._http, target, watch, subject.timeout)
        handover, result = anyio.create_memory_object_stream[UpstreamResult](1)
        scope = anyio.CancelScope()

        def hand_over(outcome: UpstreamResult) -> None:
            # The waiter may have been cancelled and gone already: nobody wants the result.
            with suppress(anyio.BrokenResourceError):
                handover.send_nowait(outcome)

        async def session() -> None:
            with scope, handover:
                await self._session(transport, subject, started, watch, on_result=hand_over)

        self._closing.start_soon(session)
        with result:
            try:
                return await result.receive()
            except BaseException:  # cancelled: the session is not wanted any more
                scope.cancel()
                raise

    def _enter_spawn(self) -> None:
        self._in_flight += 1
        self._total += 1
        self._peak = max(self._peak, self._in_flight)

    async def _stdio(self, target: StdioTarget, subject: Subject, started: float) -> UpstreamResult:
        queued = time.monotonic() - started
        watch = StdioWatch()
        deadline = anyio.current_time() + subject.timeout
        transport = stdio_transport(
            target,
            watch,
            deadline=deadline,
            max_line_bytes=wire_cap(self._settings.max_reply_bytes),
        )
        result = await self._session(transport, subject, time.monotonic(), watch)
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
    ) -> UpstreamResult:
        """One session; with ``on_result``, the result goes there as soon as the catalog is in."""
        clock = PhaseClock()
        info = SessionInfo()
        catalog: Catalog | None = None
        hint = CacheHint()
        error: UpstreamError | None = None
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + subject.timeout) as scope:
                client = Client(
                    server, mode=self._settings.mode, cache=None, client_info=CLIENT_INFO
                )
                async with client:
                    clock.end()
                    info = SessionInfo.of(client)
                    catalog, hint = await list_catalog(client, self._limits, clock)
                    if on_result is not None:
                        on_result(_result(catalog, None, hint, clock, started, info))
                        on_result = None
                        await anyio.lowlevel.checkpoint()  # the waiter first, then the close
                    clock.begin("close")
                clock.end()
            if scope.cancelled_caught and catalog is None:
                error = timed_out(subject, clock, watch)
        except Exception as exc:
            if catalog is not None:  # the listing is complete; only the close went wrong
                logger.info("closing upstream %s failed: %r", subject.label, exc)
            elif scope.cancel_called:
                error = timed_out(subject, clock, watch)
            else:
                error = from_exception(exc, subject, clock, watch)
                if error is None:
                    logger.exception("unexpected error from upstream %s", subject.label)
                    error = subject.error(
                        ErrorKind.INTERNAL, f"unexpected {type(exc).__name__}: {exc}", watch
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
    info: SessionInfo,
) -> UpstreamResult:
    """The session's result so far: its catalog or its error, with every step's duration."""
    durations = {**clock.durations, "total": time.monotonic() - started}
    return UpstreamResult(
        catalog,
        error,
        protocol_version=info.protocol_version,
        server_info=info.server_info,
        capabilities=info.capabilities,
        durations=durations,
        cache_hint=hint,
    )
