"""The spawn limiter bounds concurrent stdio servers; remote servers and cancellation stay sound."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send
from tests.conftest import descendants
from tests.discovery.upstream_support import RAW, raw, settings
from tests.servers.http_harness import serve_app
from tests.servers.sdk_servers import build_paged

from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ServerSpec, UpstreamResult


def _max_overlap(timeline: Path) -> int:
    """The most servers alive at once, from their own start/end marks."""
    events = []
    for line in timeline.read_text().splitlines():
        what, stamp, _pid = line.split()
        events.append((int(stamp), 1 if what == "start" else -1))
    alive = peak = 0
    for _stamp, step in sorted(events):
        alive += step
        peak = max(peak, alive)
    return peak


async def _fetch_all(client: UpstreamClient, specs: list[ServerSpec]) -> list[UpstreamResult]:
    results: list[UpstreamResult] = []

    async def one(spec: ServerSpec) -> None:
        results.append(await client.fetch(spec))

    async with anyio.create_task_group() as tg:
        for spec in specs:
            tg.start_soon(one, spec)
    return results


@pytest.mark.slow
async def test_limiter_bounds_concurrent_stdio_servers(tmp_path: Path) -> None:
    """Four slow servers under a limit of two: never more than two alive, seen from both sides."""
    timeline = tmp_path / "timeline"
    specs = [raw("--slow-ms", "150", "--timeline", str(timeline), name=f"s{i}") for i in range(4)]
    async with UpstreamClient(settings(max_concurrent_spawns=2)) as client:
        results = await _fetch_all(client, specs)
        stats = client.spawn_stats
    assert all(r.ok for r in results), [r.error for r in results]
    assert stats.peak == 2 and stats.total == 4 and stats.in_flight == 0
    assert len(timeline.read_text().splitlines()) == 8  # every server started and ended
    assert _max_overlap(timeline) == 2


class _Gate:
    """ASGI middleware holding each POST until ``want`` are in flight at once (or ``limit`` s)."""

    def __init__(self, app: ASGIApp, want: int, limit: float) -> None:
        self.app = app
        self.want = want
        self.limit = limit
        self.now = self.peak = 0
        self.full = anyio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        self.now += 1
        self.peak = max(self.peak, self.now)
        if self.now >= self.want:
            self.full.set()
        try:
            with anyio.move_on_after(self.limit):  # a serialised client would wait here in vain
                await self.full.wait()
            await self.app(scope, receive, send)
        finally:
            self.now -= 1


async def test_remote_servers_are_not_bound_by_the_spawn_limiter() -> None:
    """With a spawn limit of one, four remote handshakes are in flight at the same time.

    Event-driven: each first POST waits until all four have arrived, so the
    test does not depend on four requests fitting into a fixed window.
    """
    app = _Gate(build_paged(tools=5, page=5).streamable_http_app(), want=4, limit=8)
    async with serve_app(app) as base, UpstreamClient(settings(max_concurrent_spawns=1)) as client:
        specs = [ServerSpec(f"r{i}", remote_target(f"{base}/mcp"), timeout=20) for i in range(4)]
        results = await _fetch_all(client, specs)
    assert all(r.ok for r in results), [r.error for r in results]
    assert app.peak >= 4
    assert client.spawn_stats.total == 0


async def test_cancelled_fetch_leaves_no_process_and_frees_its_slot() -> None:
    """Cancelling a fetch mid-handshake propagates, kills the server and frees the spawn slot."""
    async with UpstreamClient(settings(max_concurrent_spawns=1)) as client:
        with anyio.move_on_after(0.5) as scope:
            await client.fetch(raw("--hang", "--ignore-term", timeout=30))
        assert scope.cancelled_caught  # the cancellation was not swallowed
        assert client.spawn_stats.in_flight == 0
        assert [p for p in descendants().values() if RAW in p.cmdline and p.state != "Z"] == []
        follow_up = await client.fetch(raw())  # the slot is free again
    assert follow_up.ok
