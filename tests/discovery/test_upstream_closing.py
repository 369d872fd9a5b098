"""Remote sessions hand their result over at once and close behind, within their deadline."""

from __future__ import annotations

import time

import anyio
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send
from tests.discovery.upstream_support import SLACK, settings, tool_names
from tests.servers.http_harness import serve_app
from tests.servers.sdk_servers import HIGH_TOOLS, build_high

from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ServerSpec


def remote(url: str, timeout: float = 10) -> ServerSpec:
    """A streamable HTTP spec."""
    return ServerSpec(name="remote", target=remote_target(url), timeout=timeout)


class _SlowDelete:
    """ASGI middleware that holds every DELETE for ``delay`` seconds, until ``release``, or forever."""

    def __init__(
        self, app: ASGIApp, delay: float | None, release: anyio.Event | None = None
    ) -> None:
        self.app = app
        self.delay = delay
        self.release = release
        self.deletes_started = 0
        self.deletes_done = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "DELETE":
            self.deletes_started += 1
            if self.release is not None:
                await self.release.wait()
            elif self.delay is None:
                await anyio.sleep_forever()
            else:
                await anyio.sleep(self.delay)
            await self.app(scope, receive, send)
            self.deletes_done += 1
            return
        await self.app(scope, receive, send)


async def test_result_comes_before_the_close_and_leaving_the_client_waits_for_it() -> None:
    """fetch returns while the DELETE is still held; leaving the client waits until it is done.

    Ordered by events, not by clock: the DELETE is let through only after fetch
    returned, and only once the client is already being left.
    """
    release = anyio.Event()
    server = _SlowDelete(build_high().streamable_http_app(), delay=None, release=release)

    async def release_soon() -> None:
        await anyio.sleep(0.2)  # the client's exit is waiting by now; were it not, done == 0
        release.set()

    async with serve_app(server) as base, anyio.create_task_group() as tg:
        async with UpstreamClient(settings()) as client:
            result = await client.fetch(remote(f"{base}/mcp"))
            assert server.deletes_done == 0
            tg.start_soon(release_soon)
        assert (server.deletes_started, server.deletes_done) == (1, 1)
    assert tool_names(result) == list(HIGH_TOOLS)
    assert "close" not in result.durations  # handed over before the close


@pytest.mark.slow
async def test_a_close_that_hangs_is_cut_at_the_server_deadline() -> None:
    """A DELETE the server never answers ends with the server's deadline, not later."""
    server = _SlowDelete(build_high().streamable_http_app(), delay=None)
    async with serve_app(server) as base:
        started = time.monotonic()
        async with UpstreamClient(settings()) as client:
            result = await client.fetch(remote(f"{base}/mcp", timeout=2))
        closed = time.monotonic() - started
    assert result.ok
    assert server.deletes_started == 1
    assert 2 - 0.5 < closed < 2 + SLACK


async def test_a_cancelled_fetch_ends_its_session_at_once() -> None:
    """A caller giving up on a fetch also ends the session behind it: no wait for its deadline."""
    server = _SlowDelete(build_high().streamable_http_app(), delay=None)
    async with serve_app(server) as base:
        started = time.monotonic()
        async with UpstreamClient(settings()) as client:
            with anyio.move_on_after(0.05):
                await client.fetch(remote(f"{base}/mcp", timeout=60))
        assert time.monotonic() - started < SLACK


async def test_the_callers_exception_leaves_the_client_unwrapped() -> None:
    """An error in the caller's block is not turned into an exception group by the close group."""
    async with serve_app(build_high().streamable_http_app()) as base:
        with pytest.raises(LookupError, match="caller's own"):
            async with UpstreamClient(settings()) as client:
                result = await client.fetch(remote(f"{base}/mcp"))
                assert result.ok
                raise LookupError("the caller's own error")
