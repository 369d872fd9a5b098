"""Watchdog pings and status lines of a daemon run in process (the loop can be blocked here).

A real daemon over real stdio servers; the notify socket is read by a thread, each
datagram stamped by the kernel when it was sent (tests/systemd/listener.py), so the
times are true while the daemon's loop is blocked or the reader runs late. The tests
wait for pings and deaths as conditions; the only fixed interval is the block itself.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from anyio.abc import TaskStatus
from hypothesis import given
from hypothesis import strategies as st
from tests.actors.support import until, write_config
from tests.cache.conftest import redis_server
from tests.cache.redis_servers import RedisServer
from tests.systemd.listener import STAMP_ERROR, NotifyListener, notify_listener

from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config import load_config
from mcp_discoveryd.heartbeat import Liveness, duration, status_line
from mcp_discoveryd.systemd import Notifier

pytestmark = pytest.mark.slow
__all__ = ["redis_server"]  # the real Redis fixture of the cache tests
PING = 0.1  # seconds between pings (WATCHDOG_USEC = 200 ms)


def _pings(listener: NotifyListener, start: float, end: float = float("inf")) -> list[float]:
    """When the pings sent between ``start`` and ``end`` were sent."""
    return [m.at for m in listener.with_key("WATCHDOG") if start < m.at < end]


async def test_a_blocked_loop_sends_no_pings_and_they_resume_when_it_answers(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path / "d.toml", {"a": []})
    with notify_listener() as listener:
        async with Daemon(load_config(path), notifier=Notifier(listener.env_value, PING)) as daemon:
            await until(lambda: len(_pings(listener, 0)) >= 3)
            blocked = time.monotonic()
            time.sleep(1.0)  # noqa: ASYNC251  # the point: the event loop stops answering
            answered = time.monotonic()
            await until(lambda: len(_pings(listener, answered)) >= 2)
        before = _pings(listener, 0, blocked)
        during = _pings(listener, blocked + STAMP_ERROR, answered - STAMP_ERROR)
        after = _pings(listener, answered)
    assert len(before) >= 3 and not during and len(after) >= 2, (before, during, after)
    assert daemon.liveness.dead == []  # actors cancelled at shutdown are not dead


async def test_a_dead_core_actor_stops_the_pings_and_says_why(tmp_path: Path) -> None:
    path = write_config(tmp_path / "d.toml", {"a": []})
    config = load_config(path)
    with notify_listener() as listener:
        notifier = Notifier(listener.env_value, PING)
        async with Daemon(config, notifier=notifier, handle_signals=True) as daemon:
            await until(lambda: len(_pings(listener, 0)) >= 2)
            daemon.liveness.running["signals"].cancel()  # the signal handler is gone
            await until(lambda: daemon.liveness.problem() is not None)
            died = time.monotonic() + STAMP_ERROR
            await anyio.sleep(6 * PING)  # the watchdog ticks on: it would ping by now
            assert daemon.liveness.problem() == "core actor ended: signals"
        assert len(_pings(listener, 0, died)) >= 2
        assert not _pings(listener, died)
        statuses = [f["STATUS"] for f in listener.fields() if "STATUS" in f]
    assert "unhealthy: core actor ended: signals; awaiting the watchdog restart" in statuses


@pytest.mark.redis
async def test_with_redis_the_invalidation_listener_is_a_watched_core_actor(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cache = f'backend = "redis"\nurl = "{redis_server.url}"\ntool_ttl = "60s"'
    path = write_config(tmp_path / "d.toml", {"a": []}, cache=cache)
    with notify_listener() as listener:
        notifier = Notifier(listener.env_value, PING)
        async with Daemon(load_config(path), notifier=notifier) as daemon:
            assert set(daemon.liveness.running) == {"invalidation"}
            daemon.liveness.running["invalidation"].cancel()
            await until(lambda: daemon.liveness.problem() is not None)
            died = time.monotonic() + STAMP_ERROR
            await anyio.sleep(4 * PING)  # the watchdog ticks on: it would ping by now
            assert daemon.liveness.problem() == "core actor ended: invalidation"
        assert not _pings(listener, died)


async def test_status_line_counts_fresh_missing_blocked_and_failing_servers(
    tmp_path: Path,
) -> None:
    path = write_config(
        tmp_path / "d.toml",
        {"good": [], "bad": ["--exit-code", "3"], "piped": ["curl x | sh"]},
    )
    async with Daemon(load_config(path), notifier=Notifier(None)) as daemon:
        line = status_line(daemon)
    head = "ready: 3 servers, 1 fresh, 0 stale, 1 without a catalog, 1 blocked, 1 failing"
    assert line.startswith(head), line
    assert "next refresh in" in line and "\n" not in line


async def test_no_service_manager_means_no_heartbeat_task(tmp_path: Path) -> None:
    path = write_config(tmp_path / "d.toml", {"a": []})
    async with Daemon(load_config(path), notifier=Notifier(None)) as daemon:
        assert daemon.phase == "ready"
        assert set(daemon.liveness.running) == set()  # no Redis listener, no signals here


async def test_status_line_says_when_the_shared_cache_is_unreachable(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "d.toml",
        {"a": []},
        cache='tool_ttl = "4s"\nurl = "redis://127.0.0.1:1/0"',
    )
    async with Daemon(load_config(path), notifier=Notifier(None)) as daemon:
        line = status_line(daemon)
    assert line.startswith("ready: 1 server, 1 fresh"), line
    assert "; cache redis degraded: " in line


@given(st.floats(min_value=-10, max_value=10 * 86400, allow_nan=False))
def test_duration_reads_as_hours_minutes_seconds(seconds: float) -> None:
    text = duration(seconds)
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    if hours:
        assert text == f"{hours}h{rest // 60:02d}m"
    elif whole >= 60:
        assert text == f"{whole // 60}m{whole % 60:02d}s"
    else:
        assert text == f"{whole}s"


ENDINGS = st.lists(st.tuples(st.sampled_from(["returns", "cancelled"]), st.booleans()), max_size=6)


@given(ENDINGS)
def test_liveness_calls_dead_exactly_the_actors_cancelled_before_shutdown(
    endings: list[tuple[str, bool]],
) -> None:
    async def main() -> tuple[list[str], set[str]]:
        liveness = Liveness()
        release = [anyio.Event() for _ in endings]

        async def actor(index: int, *, task_status: TaskStatus[None]) -> None:
            task_status.started()
            await release[index].wait()

        async with anyio.create_task_group() as tg:
            for index in range(len(endings)):
                await liveness.start(tg, f"a{index}", actor, index)
            for stopping in (False, True):
                liveness.stopping = stopping
                for index, (how, late) in enumerate(endings):
                    if late is not stopping:
                        continue
                    if how == "returns":
                        release[index].set()
                    else:
                        liveness.running[f"a{index}"].cancel()
                await anyio.wait_all_tasks_blocked()
        return liveness.dead, set(liveness.running)

    dead, running = anyio.run(main)
    expected = [f"a{i}" for i, (how, late) in enumerate(endings) if how == "cancelled" and not late]
    assert sorted(dead) == expected and not running
