"""A daemon whose Redis pool stays busy: failures as data, never a crash or an endless wait.

A real daemon on a real redis-server with a pool of two: its invalidation listener holds
one connection and the test a second (a subscription), so every round trip's pool wait
ends busy. With ``busy_wait`` 0.2 s, a refresh's lease request gives up: the actor
backs off (no restart); a clear over the socket is answered 503 naming the pool, and
the CLI exits 69 with that message; the pool's metrics count it all.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import anyio
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from tests.actors.support import write_config
from tests.cache.redis_servers import RedisServer
from tests.control.support import TOOLS, served, short_dir
from tests.telemetry.memory_reader import sums

from mcp_discoveryd.cli.grammar import EXIT_UNAVAILABLE
from mcp_discoveryd.config import load_config
from mcp_discoveryd.errors import DaemonStoppingError
from mcp_discoveryd.telemetry import instruments as i

pytestmark = [pytest.mark.slow, pytest.mark.redis]


async def test_a_busy_pool_backs_the_actor_off_and_answers_the_socket_503_naming_the_pool(
    tmp_path: Path, redis_server: RedisServer, reader: InMemoryMetricReader
) -> None:
    cache = f'backend = "redis"\nurl = "{redis_server.url}?max_connections=2"\nbusy_wait = 0.2'
    path = write_config(tmp_path / "d.toml", {"a": TOOLS}, cache=cache + '\ntool_ttl = "1h"')
    with short_dir() as directory:
        config = load_config(path)
        control = dataclasses.replace(config.control, socket=str(directory / "c.sock"))
        async with served(dataclasses.replace(config, control=control)) as s:
            daemon = s.daemon
            remote = daemon.cache.remote
            assert remote is not None
            connection = remote.connection  # type: ignore[attr-defined]
            async with connection.subscribe("held-by-the-test") as _:
                with anyio.fail_after(30):  # asking forever never ends
                    reply = await s.client.discover("a", refresh=True)
                    with pytest.raises(DaemonStoppingError) as refused:
                        await s.client.clear(server="a")
                    cli = await anyio.run_process(
                        [sys.executable, "-m", "mcp_discoveryd", "clear", "--socket", s.socket],
                        check=False,
                        env={**os.environ},
                    )
                state = daemon.actors.handles[("g", "a")].state
                queued = sums(reader, i.POOL_WAITING.name)
            busy = sums(reader, i.POOL_BUSY.name)
            status = await s.client.status()
    # the refresh failed as data: a reply naming the pool, the actor backing off, no restart
    assert reply["status"] == "error"
    assert "connection pool of 1 connection(s) stayed busy" in str(reply)
    assert state.phase == "backoff" and state.restarts == 0 and state.failures == 1
    assert state.last_error is not None and "busy_wait" in state.last_error.message
    # the socket and the CLI say the pool is busy (not that the daemon is stopping)
    assert refused.value.status == 503
    assert "cache busy: the connection pool of 1 connection(s)" in refused.value.message
    assert cli.returncode == EXIT_UNAVAILABLE
    assert b"stayed busy" in cli.stderr and b"stopping" not in cli.stderr
    # the cache never went degraded; status and metrics show the busy pool
    pool = status["cache_status"]["global"]["pool"]
    assert status["cache_status"]["global"]["health"] == "ok"
    assert pool["gave_up"] >= 3 and pool["exhausted"] >= pool["gave_up"]
    assert queued == {((i.BACKEND, "redis"),): 0}
    by_event = {dict(k)[i.POOL_EVENT]: v for k, v in busy.items()}
    assert by_event["gave_up"] >= 3 and by_event["exhausted"] >= 3
    assert all(dict(k)[i.BACKEND] == "redis" for k in busy)


async def test_a_reload_through_a_busy_pool_applies_whole(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """A server removed and one added while the pool is held: the removed one's entry is
    left to expire in Redis, the added one starts; the reload is not half applied."""
    cache = f'backend = "redis"\nurl = "{redis_server.url}?max_connections=2"\nbusy_wait = 0.2'
    cache += '\ntool_ttl = "1h"'
    path = write_config(tmp_path / "d.toml", {"a": TOOLS, "b": TOOLS}, cache=cache)
    with short_dir() as directory:
        config = load_config(path)
        control = dataclasses.replace(config.control, socket=str(directory / "c.sock"))
        async with served(dataclasses.replace(config, control=control)) as s:
            remote = s.daemon.cache.remote
            assert remote is not None
            connection = remote.connection  # type: ignore[attr-defined]
            async with connection.subscribe("held-by-the-test") as _:
                write_config(path, {"a": TOOLS, "c": TOOLS}, cache=cache)
                with anyio.fail_after(30):
                    reply = await s.client.reload()
                handles = set(s.daemon.actors.handles)
            status = await s.client.status()
    assert reply["status"] == "success", reply
    assert handles == {("g", "a"), ("g", "c")}
    assert s.daemon.reload_error is None
    assert status["cache_status"]["global"]["health"] == "ok"
