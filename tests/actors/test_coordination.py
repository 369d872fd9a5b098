"""Daemons on one real Redis share refreshes: one discovery per key per refresh period
between them, a dead holder's lease taken over, a clear through one reaching the others.

Real ``mcp-discoveryd run`` processes and real stdio servers that append their starts
(monotonic, comparable across processes) to a marker file; TTLs scaled to seconds.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest
from tests.actors.support import control_socket, spawns, start_times, until, write_config
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config import load_config

pytestmark = [pytest.mark.slow, pytest.mark.redis]

TTL = 4.0  # refresh_at is 75-85 % of it after the write: a period of 3.0 s + the discovery
MIN_PERIOD = 0.75 * TTL


def _cache(redis: RedisServer, ttl: float = TTL) -> str:
    return f'backend = "redis"\nurl = "{redis.url}"\ntool_ttl = "{ttl}s"\nstale_grace = "6s"'


@contextmanager
def _daemons(config: Path, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` daemon processes on one config, each logging to ``<dir>/daemon-N.log``;
    killed (whole process group: their stdio children too) when the block ends."""
    procs = []
    try:
        for i in range(count):
            log = (config.parent / f"daemon-{i}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "mcp_discoveryd", "run", "--config", str(config)]
                    + ["--socket", control_socket(config, str(i))],  # one socket per daemon
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                    start_new_session=True,
                )
            )
            log.close()
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _ready(config: Path, index: int) -> bool:
    log = config.parent / f"daemon-{index}.log"
    return log.exists() and "ready:" in log.read_text()


async def test_three_daemon_processes_make_one_discovery_per_key_per_refresh_period(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    names = ("a", "b", "c")
    path = write_config(tmp_path / "d.toml", {n: [] for n in names}, cache=_cache(redis_server))
    window = 3 * (MIN_PERIOD + 1.0)  # about three refresh periods
    with _daemons(path, 3):
        await until(lambda: all(_ready(path, i) for i in range(3)), limit=30)
        start = time.monotonic()
        await anyio.sleep(window)
        end = time.monotonic()
    for name in names:
        starts = start_times(path, name)
        within = [t for t in starts if start <= t < end]
        # Three daemons refreshing on their own would start each server ~3 times a period.
        # At most one more than the window holds: a period boundary at each edge.
        assert 2 <= len(within) <= int(window / MIN_PERIOD) + 1, (name, starts)
        # Never two discoveries of a key in one period, preload included (3 cold daemons).
        # No tolerance is needed: a daemon whose timer fires late re-reads Redis before
        # and after taking the lease; duplicates only come from a degraded (unreachable)
        # Redis, where leases are granted locally by design.
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert min(gaps) >= MIN_PERIOD * 0.8, (name, gaps)


async def test_a_killed_daemons_lease_is_taken_over_after_it_expires(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    lease_ttl = 2.0
    path = write_config(
        tmp_path / "d.toml",
        {"a": ["--start-ms", "3000"]},  # a discovery outlasts the lease: it must be renewed
        cache=_cache(redis_server, ttl=8.0),
        daemon=f'lease_ttl = "{lease_ttl}s"\nready = "at-once"',
    )
    with _daemons(path, 1) as (holder,):
        await until(lambda: spawns(path, "a") == 1, limit=20)  # the holder discovers
        async with Daemon(load_config(path)) as other:
            handle = other.actors.handles[("g", "a")]
            await until(lambda: handle.state.phase == "waiting", limit=10)
            await anyio.sleep(lease_ttl + 0.5)  # renewed: still the holder's, nobody else asks
            assert spawns(path, "a") == 1 and handle.state.phase == "waiting"
            os.killpg(holder.pid, signal.SIGKILL)  # mid-discovery, the lease still held
            killed = time.monotonic()
            await until(lambda: spawns(path, "a") == 2, limit=lease_ttl + 10)
            taken = start_times(path, "a")[1] - killed
            assert taken <= lease_ttl + 3.0  # PX, a PTTL poll, a loaded machine
            await until(lambda: DaemonApi(other).catalog("g", "a") is not None, limit=15)
            await until(lambda: spawns(path, "a") == 3, limit=20)  # refreshes continue
            assert handle.state.last_status == "success"


async def test_a_clear_through_one_daemon_reaches_the_others(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    path = write_config(tmp_path / "d.toml", {"a": []}, cache=_cache(redis_server, ttl=60.0))
    async with (
        Daemon(load_config(path)) as first,
        Daemon(load_config(path)) as second,
        Daemon(load_config(path)) as third,
    ):
        apis = [DaemonApi(d) for d in (first, second, third)]
        before = [api.catalog("g", "a") for api in apis]
        assert all(e is not None for e in before) and spawns(path, "a") == 1  # one preload
        cleared_at = time.time()
        await apis[0].clear("g", "a")

        def renewed(api: DaemonApi) -> bool:
            entry = api.catalog("g", "a")
            return entry is not None and entry.fetched_at >= cleared_at

        await until(lambda: all(renewed(api) for api in apis), limit=15)
        assert spawns(path, "a") == 2  # one rediscovery between the three, not one each

        def rescheduled(daemon: Daemon, api: DaemonApi) -> bool:
            entry, state = api.catalog("g", "a"), daemon.actors.handles[("g", "a")].state
            due = state.next_run_at
            if entry is None or due is None or state.phase != "idle":
                return False
            return entry.refresh_at <= due < entry.expires_at  # its own lag past refresh_at

        daemons = (first, second, third)
        await until(lambda: all(rescheduled(d, a) for d, a in zip(daemons, apis, strict=True)))
        assert spawns(path, "a") == 2


async def test_with_redis_unreachable_a_daemon_refreshes_on_its_own_without_waiting(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    redis_server.kill()  # nothing listens: every lease is granted locally (degraded)
    path = write_config(tmp_path / "d.toml", {"a": []}, cache=_cache(redis_server))
    phases: list[str] = []
    async with Daemon(load_config(path)) as daemon:
        handle = daemon.actors.handles[("g", "a")]

        def refreshed_twice() -> bool:
            phases.append(handle.state.phase)
            return spawns(path, "a") >= 3

        await until(refreshed_twice, limit=20)
        assert DaemonApi(daemon).catalog("g", "a") is not None
    assert "waiting" not in phases  # nobody to wait for


async def test_a_daemon_stopped_mid_discovery_releases_its_lease_at_once(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    lease_ttl = 20.0  # a lease left behind would hold the other daemon back this long
    path = write_config(
        tmp_path / "d.toml",
        {"a": ["--start-ms", "4000"]},
        cache=_cache(redis_server, ttl=30.0),
        daemon=f'lease_ttl = "{lease_ttl}s"\nready = "at-once"\nshutdown_timeout = "0s"',
    )
    with _daemons(path, 1) as (holder,):
        await until(lambda: spawns(path, "a") == 1, limit=20)
        async with Daemon(load_config(path)) as other:
            handle = other.actors.handles[("g", "a")]
            await until(lambda: handle.state.phase == "waiting", limit=10)
            holder.send_signal(signal.SIGTERM)  # its discovery is cancelled, the lease released
            stopped = time.monotonic()
            await until(lambda: spawns(path, "a") == 2, limit=lease_ttl)
            assert start_times(path, "a")[1] - stopped < 6.0  # not after PX (20 s)
            await until(lambda: DaemonApi(other).catalog("g", "a") is not None, limit=15)


async def test_an_entry_refreshed_by_another_daemon_reschedules_this_ones_timer(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    path = write_config(tmp_path / "d.toml", {"a": []}, cache=_cache(redis_server, ttl=60.0))
    async with Daemon(load_config(path)) as first, Daemon(load_config(path)) as second:
        handle = second.actors.handles[("g", "a")]
        old = handle.state.next_run_at
        assert old is not None and spawns(path, "a") == 1
        await anyio.sleep(0.05)  # the manual refresh below is fetched later than the preload
        (outcome,) = (await DaemonApi(first).discover("g", "a")).outcomes  # a manual refresh
        assert outcome.source == "discovery" and spawns(path, "a") == 2
        renewed = DaemonApi(first).catalog("g", "a")
        assert renewed is not None

        def moved() -> bool:
            due = handle.state.next_run_at
            from_new = due is not None and renewed.refresh_at <= due < renewed.expires_at
            return from_new and due != old

        await until(moved, limit=10)  # from the new entry, woken by the event: no timer ran
        entry = DaemonApi(second).catalog("g", "a")
        assert entry is not None and entry.fetched_at == renewed.fetched_at
        assert handle.state.runs == 1 and spawns(path, "a") == 2  # rescheduled, not refreshed
