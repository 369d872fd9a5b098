"""The remote handshake gate: a few handshakes at once, released at the handshake or the window."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import pytest
from anyio.abc import SocketAttribute
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.servers.http_harness import serve_app
from tests.servers.sdk_servers import HIGH_TOOLS, build_high

from mcp_discoveryd.config.settings import DiscoverySettings
from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.discovery import handshakes
from mcp_discoveryd.discovery.handshakes import HandshakeGate
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ServerSpec, UpstreamResult


async def test_admit_before_entering_the_gate_is_refused() -> None:
    """The window's timer runs in the gate's own task: admitting outside ``async with`` is a bug."""
    with pytest.raises(RuntimeError, match="entered"):
        async with HandshakeGate().admit():
            pass


async def test_no_more_than_the_slots_are_counted_and_a_release_admits_the_next() -> None:
    """Three of five at once; the fourth waits until one releases, not until its window ends."""
    order: list[int] = []
    releases: dict[int, anyio.Event] = {}
    async with HandshakeGate(slots=3, window=60) as gate, anyio.create_task_group() as tg:

        async def session(i: int) -> None:
            releases[i] = anyio.Event()
            async with gate.admit() as connected:
                order.append(i)
                assert gate.counted <= 3
                await releases[i].wait()
                connected()

        for i in range(5):
            tg.start_soon(session, i)
            await anyio.wait_all_tasks_blocked()
        assert order == [0, 1, 2] and gate.counted == 3
        releases[1].set()
        await anyio.wait_all_tasks_blocked()
        assert order == [0, 1, 2, 3]
        for event in releases.values():
            event.set()
    assert order == [0, 1, 2, 3, 4] and gate.counted == 0


async def test_a_handshake_past_its_window_stops_holding_the_others_back() -> None:
    """One slot, a holder that never releases: the next is admitted once the window is over."""
    async with HandshakeGate(slots=1, window=0.2) as gate:
        hold = anyio.Event()
        async with anyio.create_task_group() as tg:

            async def stuck() -> None:
                async with gate.admit():
                    await hold.wait()

            tg.start_soon(stuck)
            await anyio.wait_all_tasks_blocked()
            started = time.monotonic()
            async with gate.admit():
                waited = time.monotonic() - started
            hold.set()
    assert 0.15 <= waited < 2.0, waited


async def test_a_waiter_cancelled_before_its_turn_leaves_nothing_behind() -> None:
    """A cancelled waiter takes no slot: the one after it is admitted at the next release."""
    release, admitted = anyio.Event(), anyio.Event()
    async with HandshakeGate(slots=1, window=60) as gate, anyio.create_task_group() as tg:

        async def first() -> None:
            async with gate.admit():
                await release.wait()

        async def later() -> None:
            async with gate.admit():
                admitted.set()

        tg.start_soon(first)
        await anyio.wait_all_tasks_blocked()
        with anyio.move_on_after(0.05):
            async with gate.admit():
                pytest.fail("admitted while the slot was held")
        tg.start_soon(later)
        await anyio.wait_all_tasks_blocked()
        assert not admitted.is_set()
        release.set()
    assert admitted.is_set() and gate.counted == 0


@settings(max_examples=40)
@given(
    slots=st.integers(1, 4),
    plan=st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=12),
)
def test_sessions_are_admitted_in_arrival_order_and_never_above_the_slots(
    slots: int, plan: list[tuple[int, bool]]
) -> None:
    """Generated sessions (checkpoints held, cancelled or not): FIFO, bounded, nothing leaks."""

    async def main() -> None:
        admitted: list[int] = []
        async with HandshakeGate(slots=slots, window=60) as gate:
            async with anyio.create_task_group() as tg:
                scopes: list[anyio.CancelScope] = []

                async def session(i: int, hold: int) -> None:
                    with scopes[i]:
                        async with gate.admit() as connected:
                            admitted.append(i)
                            assert gate.counted <= slots
                            for _ in range(hold):
                                await anyio.lowlevel.checkpoint()
                            connected()
                            await anyio.sleep(0.001)  # the listing: no slot held any more

                for i, (hold, _cancel) in enumerate(plan):
                    scopes.append(anyio.CancelScope())
                    tg.start_soon(session, i, hold)
                for i, (_hold, cancel) in enumerate(plan):
                    if cancel:
                        scopes[i].cancel()
            assert gate.counted == 0
        assert admitted == sorted(admitted)  # arrival order, whoever was cancelled

    anyio.run(main)


@asynccontextmanager
async def _silent_server() -> AsyncIterator[str]:
    """A TCP server that accepts and never answers: a handshake that hangs."""

    async def never_answer(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await anyio.sleep_forever()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, never_answer)
        yield f"http://127.0.0.1:{listener.extra(SocketAttribute.local_port)}/mcp"
        tg.cancel_scope.cancel()


async def test_a_hung_upstream_holds_the_others_back_for_one_window_at_most(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One slot, a server that never answers first in line: the good ones are listed anyway,
    each queued about a window, and the hang's deadline starts at its own admission."""
    monkeypatch.setattr(handshakes, "SLOTS", 1)
    monkeypatch.setattr(handshakes, "WINDOW", 0.3)
    async with (
        _silent_server() as hung_url,
        serve_app(build_high().streamable_http_app()) as base,
        UpstreamClient(DiscoverySettings()) as client,
    ):
        hung = ServerSpec("hung", remote_target(hung_url), timeout=3)
        good = [ServerSpec(f"good{i}", remote_target(f"{base}/mcp"), timeout=3) for i in range(3)]
        results: dict[str, UpstreamResult] = {}
        started = time.monotonic()
        done: dict[str, float] = {}

        async def one(spec: ServerSpec) -> None:
            results[spec.name] = result = await client.fetch(spec)
            done[spec.name] = time.monotonic() - started
            assert "queue" in result.durations

        async with anyio.create_task_group() as tg:
            tg.start_soon(one, hung)
            await anyio.wait_all_tasks_blocked()
            for spec in good:
                tg.start_soon(one, spec)
    for spec in good:
        result = results[spec.name]
        assert result.catalog is not None, result.error
        assert [t["name"] for t in result.catalog.tools] == list(HIGH_TOOLS)
        assert done[spec.name] < 2.5, done  # long before the hang's 3 s deadline
    assert results["hung"].error is not None
    assert done["good0"] >= 0.3  # not admitted before the hang's window was over
    assert results["good0"].durations["queue"] > 0.05
