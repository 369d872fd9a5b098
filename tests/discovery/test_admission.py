"""Spawn admission follows the CPU: busy starters queue the others, sleeping ones do not.

Real processes throughout: SDK-built stdio servers (CPU-bound starts), the
raw server sleeping before it serves (I/O-bound starts) or hanging, and bare
Python children that spin or sleep where the controller is driven directly.
Assertions are orderings and counts, so a loaded 2-core machine passes them.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import anyio
import pytest
from anyio.abc import Process
from tests.conftest import descendants
from tests.discovery.upstream_support import RAW, SDK, raw, settings

from mcp_discoveryd.config.settings import DaemonConfig, GatewayConfig
from mcp_discoveryd.discovery import admission
from mcp_discoveryd.discovery.admission import SpawnAdmission, runnable
from mcp_discoveryd.discovery.phases import run_discovery
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ErrorKind, ServerSpec, StdioTarget, UpstreamResult
from mcp_discoveryd.report import report_json

SPIN = "while True: pass"
SLEEP = "import time; time.sleep(60)"


def sdk(name: str, timeout: float = 60.0) -> ServerSpec:
    """An SDK-built server: about a second of CPU to start, like most Python servers."""
    return ServerSpec(name, StdioTarget(sys.executable, (SDK, "high")), timeout=timeout)


async def _fetch_all(client: UpstreamClient, specs: list[ServerSpec]) -> dict[str, UpstreamResult]:
    results: dict[str, UpstreamResult] = {}

    async def one(spec: ServerSpec) -> None:
        results[spec.name] = await client.fetch(spec)

    async with anyio.create_task_group() as tg:
        for spec in specs:
            tg.start_soon(one, spec)
    return results


@asynccontextmanager
async def _child(code: str) -> AsyncIterator[Process]:
    """A bare Python child running ``code``, killed on the way out."""
    process = await anyio.open_process([sys.executable, "-c", code])
    try:
        yield process
    finally:
        process.kill()
        await process.aclose()


async def _admitted_within(gate: SpawnAdmission, seconds: float) -> bool:
    """Whether one more spawn is admitted within ``seconds``."""
    with anyio.move_on_after(seconds):
        async with gate.admit():
            return True
    return False


@pytest.mark.slow
async def test_a_sleeping_child_gives_its_core_back_but_a_spinning_one_does_not() -> None:
    """One core, a long window: next to a sleeper a spawn is admitted, next to a spinner not."""
    async with SpawnAdmission(8, cores=1, overcommit=1, window=60) as gate:
        async with gate.admit() as ticket, _child(SLEEP) as sleeper:
            ticket.follow(lambda: sleeper.pid)
            assert await _admitted_within(gate, 5.0)
        async with gate.admit() as ticket, _child(SPIN) as spinner:
            ticket.follow(lambda: spinner.pid)
            assert not await _admitted_within(gate, 1.0)
            ticket.release()  # the handshake: the share goes back at once
            assert await _admitted_within(gate, 0.5)


@pytest.mark.slow
async def test_the_handshake_policy_holds_a_core_for_a_sleeper_until_its_window_ends() -> None:
    """Without sampling, a sleeping starter holds its core: what the CPU policy improves on."""
    gate = SpawnAdmission(8, policy="handshake", cores=1, overcommit=1, window=1.5)
    async with gate, gate.admit() as ticket, _child(SLEEP) as sleeper:
        ticket.follow(lambda: sleeper.pid)
        assert not await _admitted_within(gate, 0.5)
        assert await _admitted_within(gate, 5.0)  # the window ended


async def test_runnable_counts_the_whole_process_tree() -> None:
    """A sleeping parent whose child spins is runnable: npx and uvx start grandchildren."""
    code = f"import subprocess as s, sys, time; s.Popen([sys.executable, '-c', {SPIN!r}]); time.sleep(60)"
    async with _child(code) as parent:
        with anyio.fail_after(10):  # until the parent sleeps and its child spins
            while not descendants(parent.pid) or descendants()[parent.pid].state != "S":  # noqa: ASYNC110  # /proc has no event
                await anyio.sleep(0.05)
        assert runnable(parent.pid) >= 1
        for pid in descendants(parent.pid):
            os.kill(pid, signal.SIGKILL)
    assert runnable(parent.pid) == 0  # gone: nothing to count


async def test_a_proc_file_longer_than_one_read_is_read_whole_and_a_gone_one_is_empty() -> None:
    """A children list of hundreds of pids spans several reads; a gone process reads as empty."""
    # extension modules map shared libraries: a maps file of several pages, which stays put
    # while the child sleeps (smaps would not: its page counters move between two reads)
    async with _child("import ctypes, decimal, sqlite3, ssl; " + SLEEP) as sleeper:
        maps = Path(f"/proc/{sleeper.pid}/maps")  # the same kind of kernel file
        with anyio.fail_after(10):
            while len(whole := maps.read_bytes()) <= 4096:  # noqa: ASYNC110, ASYNC240  # /proc: no event, no disk
                await anyio.sleep(0.05)
        for size in (64, 4096, 65536):
            assert admission._read(str(maps), size) == whole
    assert admission._read("/proc/0/stat") == b""


@pytest.mark.slow
async def test_the_sampler_slows_down_while_every_starter_stays_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A spinning starter and a waiter for 1.5 s: a few samples, not one every 20 ms."""
    samples: list[int] = []

    def counted(pid: int) -> int:
        samples.append(pid)
        return runnable(pid)

    monkeypatch.setattr(admission, "runnable", counted)
    gate = SpawnAdmission(8, cores=1, overcommit=1, window=60)
    async with gate, gate.admit() as ticket, _child(SPIN) as spinner:
        ticket.follow(lambda: spinner.pid)
        assert not await _admitted_within(gate, 1.5)
    assert 3 <= len(samples) <= 1.5 / admission.SAMPLE_INTERVAL_MAX + 8  # 300 at a fixed 5 ms


@pytest.mark.slow
async def test_a_spawn_admitted_after_a_quiet_spell_is_sampled_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a long quiet wait, a sleeper admitted at a handshake lets the next one in soon."""
    monkeypatch.setattr(admission, "SAMPLE_INTERVAL_MAX", 5.0)  # the backoff would oversleep
    admitted: dict[str, float] = {}
    async with (
        SpawnAdmission(8, cores=1, overcommit=1, window=60) as gate,
        _child(SLEEP) as sleeper,
        anyio.create_task_group() as tg,
    ):

        async def spawn(name: str, pid: int | None) -> None:
            async with gate.admit() as ticket:
                admitted[name] = anyio.current_time()
                ticket.follow(lambda: pid)
                await anyio.sleep(60)

        async with gate.admit() as first:  # no pid: busy until its handshake
            tg.start_soon(spawn, "sleeper", sleeper.pid)
            await anyio.sleep(0.1)
            tg.start_soon(spawn, "next", None)
            await anyio.sleep(1.5)  # quiet: the sampler's wait has grown past a second
            assert not admitted.get("sleeper")
            first.release()
            with anyio.fail_after(10):
                while "next" not in admitted:  # noqa: ASYNC110  # the admission has no event for tests
                    await anyio.sleep(0.01)
        assert admitted["next"] - admitted["sleeper"] < 0.5
        tg.cancel_scope.cancel()


async def test_a_cancelled_waiter_leaves_no_trace() -> None:
    """Cancelled while queued: the next waiter is admitted as if it had never been there."""
    async with SpawnAdmission(8, policy="handshake", cores=1, overcommit=1, window=60) as gate:
        async with gate.admit() as first:
            assert not await _admitted_within(gate, 0.2)
            first.release()
            assert await _admitted_within(gate, 0.5)
        assert gate.stats.in_flight == 0


@pytest.mark.slow
async def test_cpu_bound_starts_queue_behind_the_busy_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Six SDK servers: all succeed, never all six at once, and some of them queued."""
    monkeypatch.setattr(admission, "ADMISSION_WINDOW", 30.0)  # a loaded machine starts slowly
    monkeypatch.setattr(admission, "available_cores", lambda: 1)  # two busy starters at most
    specs = [sdk(f"cpu{i}") for i in range(6)]
    async with UpstreamClient(settings(max_concurrent_spawns=32)) as client:
        results = await _fetch_all(client, specs)
        stats = client.spawn_stats
    assert all(r.ok for r in results.values()), [r.error for r in results.values()]
    assert stats.total == 6 and stats.peak < 6
    queued = sorted(r.durations["queue"] for r in results.values())
    assert queued[0] < 0.5 < queued[-1]


@pytest.mark.slow
async def test_io_bound_starts_are_all_admitted_while_they_sleep() -> None:
    """Eight servers sleeping 3 s before they serve: all start at once, unlike under a count."""
    specs = [raw("--start-ms", "3000", name=f"io{i}", timeout=30) for i in range(8)]
    async with UpstreamClient(settings(max_concurrent_spawns=32)) as client:
        results = await _fetch_all(client, specs)
        stats = client.spawn_stats
    assert all(r.ok for r in results.values()), [r.error for r in results.values()]
    assert stats.peak == 8


@pytest.mark.slow
async def test_a_hang_next_to_seven_good_servers_holds_nobody_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hang is admitted first and times out; the seven others finish well before it."""
    monkeypatch.setattr(admission, "available_cores", lambda: 2)
    hang = raw("--hang", name="hang", timeout=12)
    good = [sdk(f"good{i}") for i in range(7)]
    results: dict[str, UpstreamResult] = {}
    finished: dict[str, float] = {}
    async with UpstreamClient(settings(max_concurrent_spawns=32)) as client:

        async def one(spec: ServerSpec) -> None:
            results[spec.name] = await client.fetch(spec)
            finished[spec.name] = anyio.current_time()

        async with anyio.create_task_group() as tg:
            tg.start_soon(one, hang)
            await anyio.sleep(0.1)  # the hang is first in line
            for spec in good:
                tg.start_soon(one, spec)
    assert results["hang"].error is not None
    assert results["hang"].error.kind is ErrorKind.TIMEOUT
    assert results["hang"].durations["queue"] < 0.5
    for spec in good:
        assert results[spec.name].ok, results[spec.name].error
        assert results[spec.name].durations["total"] < spec.timeout
        assert finished[spec.name] < finished["hang"]


@pytest.mark.slow
async def test_the_hard_cap_bounds_live_children_whatever_they_do() -> None:
    """Sleepy starters would all be admitted by CPU; a cap of three keeps three alive at most."""
    specs = [raw("--start-ms", "400", name=f"capped{i}") for i in range(8)]
    seen: list[int] = []
    async with UpstreamClient(settings(max_concurrent_spawns=3)) as client:
        async with anyio.create_task_group() as tg:

            async def count_children() -> None:
                while True:
                    live = [p for p in descendants().values() if RAW in p.cmdline]
                    seen.append(len([p for p in live if p.state != "Z"]))
                    await anyio.sleep(0.02)

            tg.start_soon(count_children)
            results = await _fetch_all(client, specs)
            tg.cancel_scope.cancel()
        stats = client.spawn_stats
    assert all(r.ok for r in results.values())
    assert max(seen) == 3 and stats.peak == 3 and stats.total == 8


@pytest.mark.slow
async def test_queued_time_is_reported_per_server() -> None:
    """Two servers through one slot: the second one's queued_s is in the report, the first's ~0."""
    specs = tuple(raw("--start-ms", "500", "--tools", str(i), name=f"q{i}") for i in range(2))
    config = DaemonConfig(
        path="<test>",
        format="toml",
        gateways=(GatewayConfig(id="g", servers=specs),),
        discovery=settings(max_concurrent_spawns=1),
    )
    async with UpstreamClient(config.discovery) as client:
        report = await run_discovery(config, client)
    servers = cast(dict[str, dict[str, float]], report_json(report)["available_servers"])
    queued = sorted(entry["queued_s"] for entry in servers.values())
    assert queued[0] < 0.3 and queued[1] >= 0.4
    for outcome in report.outcomes:
        assert outcome.queued_s <= outcome.duration_s


def test_without_proc_the_cpu_policy_falls_back_to_the_handshake(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No /proc (not Linux): the count of starting children stands in for their CPU."""
    monkeypatch.setattr(admission, "PROC", tmp_path)
    assert SpawnAdmission(4).policy == "handshake"


async def test_admit_outside_the_context_is_a_bug() -> None:
    """The sampler's lifetime is the context: admitting outside it fails loudly."""
    gate = SpawnAdmission(4)
    with pytest.raises(RuntimeError):
        async with gate.admit():
            pass


@pytest.mark.parametrize("after", [0.0, 0.002, 0.01, 0.05, 0.2])
async def test_a_fetch_cancelled_around_its_spawn_leaves_no_process(after: float) -> None:
    """The child is spawned before the session adopts it: a cancellation in between kills it."""
    async with UpstreamClient(settings()) as client:
        with anyio.move_on_after(after) as scope:
            await client.fetch(raw("--hang", "--ignore-term", timeout=30))
        assert scope.cancelled_caught
        assert client.spawn_stats.in_flight == 0
    assert [p for p in descendants().values() if RAW in p.cmdline and p.state != "Z"] == []
