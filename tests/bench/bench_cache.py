"""Cache benchmarks (issue 3). Starts its own redis-server; prints one JSON object.

    .venv/bin/python -m tests.bench.bench_cache

1. read_50_tools: one cached 50-tool catalog read again and again: the memory
   tier (``Cache.get`` and the bare ``lookup``), the Redis backend (unchanged
   bytes, the steady state; and decoding every time), and a raw redis-py GET of
   the same bytes in the same run. Target: Redis read <= 1.5x the raw GET.
2. status_10k: status of a Redis cache holding 10,000 entries (100 gateways x
   100 servers) and of one holding 1,000: round trips counted on the wire (a
   counting connection) and wall time. Target: round trips independent of the
   entry count; under 100 ms.
3. memory_per_tool: Python heap (tracemalloc) per cached tool for 1,000 servers
   x 50 tools, each entry decoded from its own bytes as it would arrive.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import anyio
import redis.asyncio
from tests.cache.builders import config, entry, gateway, tool
from tests.cache.counting import CountingConnection
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.cache import CacheStats, MemoryBackend, codec, open_cache, redis_backend
from mcp_discoveryd.config.model import CacheSettings, DaemonConfig
from mcp_discoveryd.models import CacheType, Catalog
from mcp_discoveryd.secret import SecretUrl

ROUNDS = 7
READS = 400


def fifty_tools(gateway_id: str = "bench", server: str = "big", now: float | None = None) -> Any:
    """A tools entry with 50 rich tools (schemas, annotations, _meta): ~40 KB encoded."""
    e = entry(gateway_id, server, now=now)
    return replace(e, catalog=Catalog(tools=tuple(tool(i) for i in range(50))))


async def best_per_call(call: Callable[[], Awaitable[Any]], rounds: int = ROUNDS) -> float:
    """Microseconds per call: the best of several rounds (the machine is noisy)."""
    results = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(READS):
            await call()
        results.append((time.perf_counter() - started) / READS * 1e6)
    return min(results)


async def read_50_tools(server: RedisServer) -> dict[str, Any]:
    now = time.time()
    big = fifty_tools(now=now)
    data = codec.encode(big)
    settings = CacheSettings(backend="redis", url=SecretUrl(server.url))
    cfg = config(settings, (gateway("bench", ("big",)),))
    out: dict[str, Any] = {"entry_bytes": len(data)}

    async with open_cache(config(), stats=CacheStats()) as memory_cache:
        await memory_cache.put_many([big])
        out["memory_cache_get_us"] = round(
            await best_per_call(lambda: memory_cache.get(CacheType.TOOLS, "bench", "big")), 2
        )
        out["memory_lookup_us"] = round(
            min(
                _time_sync(lambda: memory_cache.lookup(CacheType.TOOLS, "bench", "big"), READS)
                for _ in range(ROUNDS)
            ),
            2,
        )

    backend = redis_backend(cfg, CacheStats())
    cold = replace_memo(redis_backend(cfg, CacheStats()))
    raw = redis.asyncio.Redis.from_url(server.url)
    try:
        await backend.put_many([big], now=now)
        key = backend.keys.entry_key(CacheType.TOOLS, "bench", "big")
        assert await raw.get(key) == data
        for _ in range(50):  # warm connections and the memo
            await raw.get(key)
            await backend.get(CacheType.TOOLS, "bench", "big", now=now)
            await cold.get(CacheType.TOOLS, "bench", "big", now=now)
        raw_us, warm_us, cold_us = [], [], []
        for _ in range(3):  # interleaved, so drift hits all three alike
            raw_us.append(await best_per_call(lambda: raw.get(key)))
            warm_us.append(
                await best_per_call(lambda: backend.get(CacheType.TOOLS, "bench", "big", now=now))
            )
            cold_us.append(
                await best_per_call(lambda: cold.get(CacheType.TOOLS, "bench", "big", now=now))
            )
        decode_us = min(_time_sync(lambda: codec.decode(data)) for _ in range(ROUNDS))
    finally:
        await raw.aclose()
        await backend.aclose()
        await cold.aclose()
    out.update(
        raw_get_us=round(min(raw_us), 1),
        redis_get_us=round(min(warm_us), 1),
        redis_get_decoding_us=round(min(cold_us), 1),
        decode_only_us=round(decode_us, 1),
        redis_vs_raw=round(min(warm_us) / min(raw_us), 2),
        redis_decoding_vs_raw=round(min(cold_us) / min(raw_us), 2),
        target="redis_vs_raw <= 1.5",
    )
    return out


def replace_memo(backend: Any) -> Any:
    """The same backend with its decode memo off: every read decodes."""
    backend._memo_limit = 0
    return backend


def _time_sync(call: Callable[[], object], n: int = 50) -> float:
    started = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - started) / n * 1e6


async def status_of(server: RedisServer, gateways: int, servers: int) -> dict[str, Any]:
    """Fill Redis with gateways x servers entries, then time status and count round trips."""
    server.flushall()
    gws = tuple(gateway(f"gw-{g}", tuple(f"s{s}" for s in range(servers))) for g in range(gateways))
    cfg: DaemonConfig = config(CacheSettings(backend="redis", url=SecretUrl(server.url)), gws)
    now = time.time()
    filler = redis_backend(cfg, CacheStats())
    batch = [entry(g.id, s.name, now=now, tools=1) for g in gws for s in g.servers]
    for start in range(0, len(batch), 1000):
        await filler.put_many(batch[start : start + 1000], now=now)
    await filler.aclose()
    async with open_cache(cfg, connection_class=CountingConnection) as cache:
        await cache.status(None)  # connections warm
        target = gws[len(gws) // 2]
        trips: list[int] = []
        times: list[float] = []
        for g in (target, None):
            for _ in range(5):
                before = CountingConnection.sends
                started = time.perf_counter()
                status = await cache.status(g)
                times.append((time.perf_counter() - started) * 1000)
                trips.append(CountingConnection.sends - before)
        glob = status["cache_status"]["global"]
    assert glob["total_tool_caches"] == gateways * servers, glob
    return {
        "entries": gateways * servers,
        "round_trips_per_status": sorted(set(trips)),
        "status_ms_median": round(statistics.median(times), 2),
        "status_ms_max": round(max(times), 2),
    }


async def memory_status(entries: int = 10_000) -> dict[str, Any]:
    gws = tuple(
        gateway(f"gw-{g}", tuple(f"s{s}" for s in range(100))) for g in range(entries // 100)
    )
    async with open_cache(config(CacheSettings(max_entries=entries), gws)) as cache:
        now = time.time()
        await cache.put_many(
            [entry(g.id, s.name, now=now, tools=1) for g in gws for s in g.servers]
        )
        times = []
        for _ in range(5):
            started = time.perf_counter()
            await cache.status(gws[0])
            times.append((time.perf_counter() - started) * 1000)
    return {"entries": entries, "status_ms_median": round(statistics.median(times), 2)}


def memory_per_tool(servers: int = 1000, tools: int = 50) -> dict[str, Any]:
    now = time.time()
    template = fifty_tools(now=now)
    blobs = [codec.encode(replace(template, server_name=f"s{i}")) for i in range(servers)]
    encoded = sum(len(b) for b in blobs)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    memory = MemoryBackend(max_entries=servers, max_bytes=1 << 40)
    for blob in blobs:
        memory.store(codec.decode(blob), len(blob), now=now)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    held = after - before
    assert memory.entry_count == servers
    count = servers * tools
    return {
        "servers": servers,
        "tools": count,
        "heap_bytes": held,
        "heap_bytes_per_tool": round(held / count),
        "encoded_bytes_per_tool": round(encoded / count),
    }


async def run_redis_parts() -> dict[str, Any]:
    server = RedisServer.launch()
    try:
        read = await read_50_tools(server)
        small = await status_of(server, 10, 100)
        large = await status_of(server, 100, 100)
    finally:
        server.close()
    return {
        "read_50_tools": read,
        "status_redis": {"1k": small, "10k": large, "target": "same round trips; < 100 ms"},
    }


def collect() -> dict[str, Any]:
    """Every cache figure, as one JSON-ready object."""
    report: dict[str, Any] = anyio.run(run_redis_parts)
    report["status_memory_10k"] = anyio.run(memory_status)
    report["memory_per_tool"] = memory_per_tool()
    return report


def main() -> None:
    print(json.dumps(collect(), indent=2))


if __name__ == "__main__":
    main()
