"""The invalidation actor's map from hashed identity to actor key: right after actors come
and go, and hashing each key once while thousands start (not once per event)."""

from __future__ import annotations

from typing import Any, cast

import anyio
import pytest
from tests.cache.builders import config, redis_settings
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.actors.invalidation import _Keys
from mcp_discoveryd.actors.supervisor import ActorSet, Handle
from mcp_discoveryd.cache import redis_backend
from mcp_discoveryd.cache.stats import CacheStats
from mcp_discoveryd.models import CacheType

pytestmark = pytest.mark.redis


async def test_events_while_actors_start_find_them_and_hash_each_key_once(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = redis_backend(config(redis_settings(redis_server.url)), CacheStats())
    entry_ref = remote.keys.entry_ref
    hashed = 0

    def counting(*args: Any) -> str:
        nonlocal hashed
        hashed += 1
        return entry_ref(*args)

    monkeypatch.setattr(remote.keys, "entry_ref", counting)
    async with anyio.create_task_group() as tg:
        actors = ActorSet(tg)
        keys = _Keys(actors, remote)
        servers = 300
        for i in range(servers):  # an actor starts, then an event for it arrives
            key = ("gw-1", f"s{i}")
            actors.handles[key] = cast(Handle, None)  # only the keys are read
            actors.generation += 1
            assert keys.find(entry_ref(CacheType.TOOLS, *key)) == key
        assert hashed <= 2 * servers  # before: about servers**2 / 2
        del actors.handles[("gw-1", "s0")]  # an actor stopped
        actors.generation += 1
        assert entry_ref(CacheType.TOOLS, "gw-1", "s0") not in keys.by_ref()
    await remote.aclose()
