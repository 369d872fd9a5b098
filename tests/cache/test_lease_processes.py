"""Leases between separate OS processes on one real Redis: one winner, takeover after a kill."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest
from tests.cache.fleet import caches
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.cache import coordinator_for

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
HOLDER = ROOT / "tests" / "cache" / "lease_holder.py"
TTL = 4.0  # seconds: long enough that every process asks while the winner holds it


@contextmanager
def holders(url: str, count: int) -> Iterator[list[subprocess.Popen[str]]]:
    """``count`` processes each with its own cache, all ready to ask; killed afterwards."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "daemon"), str(ROOT)])}
    procs = [
        subprocess.Popen(
            [sys.executable, str(HOLDER), url, str(TTL)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(count)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()


def ask(procs: list[subprocess.Popen[str]]) -> list[str]:
    """Tell every process to ask at once; their answers in order."""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    answers = []
    for proc in procs:
        assert proc.stdout is not None
        answers.append(proc.stdout.readline().strip())
    return answers


async def test_one_of_three_processes_gets_the_lease_and_a_kill_frees_it_after_px(
    redis_server: RedisServer,
) -> None:
    """Three daemon processes race: one is granted. Killed (no release), its lease stays until
    PX runs out, then another daemon takes it over."""
    with holders(redis_server.url, 3) as procs:
        answers = await anyio.to_thread.run_sync(ask, procs)
        granted_at = time.monotonic()
        assert sorted(answers) == ["granted", "held", "held"]
        winner = procs[answers.index("granted")]
        winner.kill()
        await anyio.to_thread.run_sync(winner.wait)
        async with caches(redis_server.url, 1, listen=False) as (cache,):
            coordinator = coordinator_for(cache)
            assert await coordinator.try_acquire("gw-1", "server-a", 10) is None  # still held
            with anyio.fail_after(TTL + 5):
                # Polling is the point: the takeover must come from PX, not from any message.
                while (lease := await coordinator.try_acquire("gw-1", "server-a", 10)) is None:  # noqa: ASYNC110
                    await anyio.sleep(0.05)
            assert time.monotonic() - granted_at >= TTL - 0.1  # not before its PX ran out
            assert not lease.degraded
