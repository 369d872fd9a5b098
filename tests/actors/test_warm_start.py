"""Startup preload from a shared Redis that already holds fresh entries: no upstream contacted."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.actors.support import spawns, write_config
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config import load_config

pytestmark = [pytest.mark.slow, pytest.mark.redis]


async def test_a_second_daemon_starts_warm_from_redis_without_contacting_upstreams(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cache = f'backend = "redis"\nurl = "{redis_server.url}"\ntool_ttl = "60s"'
    path = write_config(tmp_path / "d.toml", {"a": [], "b": []}, cache=cache)
    async with Daemon(load_config(path)) as first:
        made = DaemonApi(first).catalog("g", "a")
        assert made is not None
    assert spawns(path, "a") == 1 and spawns(path, "b") == 1
    async with Daemon(load_config(path)) as second:
        api = DaemonApi(second)
        warm = api.catalog("g", "a")
        assert warm is not None and warm.fetched_at == made.fetched_at
        assert api.catalog("g", "b") is not None
        states = [h.state for h in second.actors.handles.values()]
        assert all(s.last_status == "success" and s.next_run_at for s in states)
    assert spawns(path, "a") == 1 and spawns(path, "b") == 1  # no upstream contacted
