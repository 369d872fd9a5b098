"""The listener's work per event stays flat while memory's set of entries grows (a
preload): each held identity is hashed once, not once per event."""

from __future__ import annotations

import time
from typing import Any

import pytest
from tests.cache.builders import entry
from tests.cache.fleet import caches
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.cache import RedisBackend
from mcp_discoveryd.cache.events import CacheEvent
from mcp_discoveryd.cache.listener import _Refs, apply_event
from mcp_discoveryd.models import CacheType

pytestmark = pytest.mark.redis


async def test_events_during_a_preload_hash_each_held_identity_once(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers = 300
    async with caches(redis_server.url, 1, listen=False) as (cache,):
        remote = cache.remote
        assert isinstance(remote, RedisBackend)
        hashed = 0
        entry_ref = remote.keys.entry_ref

        def counting(*args: Any) -> str:
            nonlocal hashed
            hashed += 1
            return entry_ref(*args)

        monkeypatch.setattr(remote.keys, "entry_ref", counting)
        refs = _Refs(cache, remote)
        for i in range(servers):  # each new entry changes the set, then an event arrives
            cache.memory.store(entry("gw-1", f"s{i}"), 100, now=time.time())
            ref = entry_ref(CacheType.TOOLS, "gw-1", f"s{i}")
            event = CacheEvent.updated("another daemon", time.time(), ref, time.time())
            await apply_event(cache, remote, event.encode(), refs)
        assert hashed <= 2 * servers  # before: about servers**2 / 2 (45,000 here)
