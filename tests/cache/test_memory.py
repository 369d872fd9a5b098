"""The memory backend: bounded LRU by entries and bytes, immutable hits, safe across threads."""

from __future__ import annotations

import gc
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from tests.cache.builders import entry

from mcp_discoveryd import catalog as catalog_module
from mcp_discoveryd.cache import MemoryBackend, codec
from mcp_discoveryd.discovery.guardrails import tooldiff
from mcp_discoveryd.models import CacheType

NOW = time.time()


def test_hit_returns_the_stored_object_itself() -> None:
    """A hit is the same immutable object that was stored: no copy, no decode."""
    memory = MemoryBackend()
    stored = entry(now=NOW)
    memory.store(stored, now=NOW)
    first = memory.lookup(CacheType.TOOLS, "gw-1", "server-a", NOW)
    second = memory.lookup(CacheType.TOOLS, "gw-1", "server-a", NOW)
    assert first is stored and second is stored


def test_entry_count_bound_evicts_least_recently_used() -> None:
    """Past max_entries the least recently used entry goes first; a read counts as a use."""
    memory = MemoryBackend(max_entries=3)
    for name in ("a", "b", "c"):
        memory.store(entry(server_name=name, now=NOW), now=NOW)
    assert memory.lookup(CacheType.TOOLS, "gw-1", "a", NOW) is not None  # a is now the newest
    memory.store(entry(server_name="d", now=NOW), now=NOW)
    held = {e.server_name for e in memory.entries()}
    assert held == {"a", "c", "d"}
    assert memory.evictions == 1


def test_byte_bound_evicts_until_under_it() -> None:
    """The sum of encoded sizes never exceeds max_bytes; old entries make room."""
    size = len(codec.encode(entry(server_name="x", now=NOW)))
    memory = MemoryBackend(max_bytes=int(size * 2.5))
    for name in ("a", "b", "c", "d"):
        memory.store(entry(server_name=name, now=NOW), now=NOW)
    assert memory.byte_count <= memory.max_bytes
    assert [e.server_name for e in memory.entries()] == ["c", "d"]


def test_entry_larger_than_the_bound_is_not_kept() -> None:
    """An entry bigger than max_bytes is refused rather than emptying the cache for it."""
    memory = MemoryBackend(max_bytes=100)
    assert memory.store(entry(now=NOW), now=NOW) is False
    assert memory.entry_count == 0


def test_replacing_an_entry_keeps_byte_count_exact() -> None:
    """Storing the same identity again replaces it and its size."""
    memory = MemoryBackend()
    memory.store(entry(tools=10, now=NOW), now=NOW)
    small = entry(tools=1, now=NOW)
    memory.store(small, now=NOW)
    assert memory.entry_count == 1
    assert memory.byte_count == len(codec.encode(small))


def test_entry_past_stale_until_is_gone() -> None:
    """A lookup after stale_until finds nothing and frees the slot."""
    memory = MemoryBackend()
    e = entry(now=NOW, ttl=10, grace=5)
    memory.store(e, now=NOW)
    assert memory.lookup(CacheType.TOOLS, "gw-1", "server-a", NOW + 14) is e  # stale, still served
    assert memory.lookup(CacheType.TOOLS, "gw-1", "server-a", NOW + 15) is None
    assert memory.entry_count == 0 and memory.byte_count == 0


def test_expired_entry_is_not_stored() -> None:
    """Storing an entry already past stale_until is a no-op."""
    memory = MemoryBackend()
    assert memory.store(entry(now=NOW - 100, ttl=10, grace=5), now=NOW) is False


def test_threads_storing_and_reading_keep_the_bounds() -> None:
    """Eight threads storing and reading at once leave a consistent, bounded map."""
    memory = MemoryBackend(max_entries=50)
    entries = [entry(server_name=f"s{i}", tools=1, now=NOW) for i in range(200)]
    sizes = {e.server_name: len(codec.encode(e)) for e in entries}

    def work(offset: int) -> None:
        for i in range(2000):
            e = entries[(offset * 37 + i) % len(entries)]
            memory.store(e, sizes[e.server_name], now=NOW)
            found = memory.lookup(CacheType.TOOLS, "gw-1", e.server_name, NOW)
            assert found is None or found.server_name == e.server_name

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(work, n) for n in range(8)]:
            future.result()  # re-raises a failure from its thread
    held = memory.entries()
    assert len(held) == memory.entry_count <= 50
    assert memory.byte_count == sum(sizes[e.server_name] for e in held)


def test_generation_moves_when_the_set_of_entries_changes_only() -> None:
    """A new or dropped entry bumps the generation; a replaced one does not (listener's map)."""
    memory = MemoryBackend()
    now = time.time()
    start = memory.generation
    memory.store(entry("gw-1", "a", now=now), now=now)
    added = memory.generation
    memory.store(entry("gw-1", "a", now=now, tools=5), now=now)
    assert added > start and memory.generation == added
    memory.remove((CacheType.TOOLS, "gw-1", "a"))
    assert memory.generation > added


def test_discard_forgets_only_the_very_entry_given() -> None:
    """A writer whose write lost drops its own copy, never a newer one stored meanwhile."""
    memory = MemoryBackend()
    now = time.time()
    mine, newer = entry("gw-1", "a", now=now - 5), entry("gw-1", "a", now=now)
    memory.store(mine, now=now)
    memory.store(newer, now=now)
    assert not memory.discard(mine)
    assert memory.lookup(CacheType.TOOLS, "gw-1", "a", now) is newer
    assert memory.discard(newer) and memory.lookup(CacheType.TOOLS, "gw-1", "a", now) is None


def test_a_held_entry_costs_about_its_encoded_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries decoded as they arrive from Redis, catalogs and accepted sets included, hold
    no more heap than their encoded bytes (decoded, catalogs alone took ~6x: the footprint)."""
    monkeypatch.setattr(catalog_module, "_memo", catalog_module._Memo(0))  # count what is held
    template = entry(now=NOW, tools=50)
    template = replace(
        template, accepted_tools=[tooldiff.accepted(t) for t in template.catalog.tools]
    )
    blobs = [codec.encode(replace(template, server_name=f"s{i}")) for i in range(40)]
    memory = MemoryBackend()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for blob in blobs:
            memory.store(codec.decode(blob), len(blob), now=NOW)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert memory.entry_count == len(blobs)
    assert held < sum(len(b) for b in blobs)
