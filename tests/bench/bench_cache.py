"""Cache benchmarks (issue 3). Starts its own redis-server; prints one JSON object.

    .venv/bin/python -m tests.bench.bench_cache

1. read_50_tools: one cached 50-tool catalog (~27 KB) read again and again.
   Headline: a Redis read that decodes (``RedisBackend.get`` with its memo off:
   GET plus decode, what a daemon pays the first time it sees an entry another
   host wrote), against a raw redis-py GET of the same bytes measured in the
   same run, wall time and this process's CPU per read. Second: the memoised
   read (bytes unchanged since the last read: GET plus a byte compare; target
   <= 1.5x the raw GET), then the memory tier (``Cache.get``, bare ``lookup``).
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
from dataclasses import dataclass, replace
from typing import Any

import anyio
import redis.asyncio
from tests.cache.builders import config, entry, gateway, tool
from tests.cache.counting import CountingConnection
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.cache import CacheStats, MemoryBackend, codec, open_cache, redis_backend
from mcp_discoveryd.config.settings import CacheSettings, DaemonConfig
from mcp_discoveryd.models import CacheType, Catalog
from mcp_discoveryd.secret import SecretUrl

ROUNDS = 7
READS = 400


def fifty_tools(gateway_id: str = "bench", server: str = "big", now: float | None = None) -> Any:
    """A tools entry with 50 rich tools (schemas, annotations, _meta): ~27 KB encoded."""
    e = entry(gateway_id, server, now=now)
    return replace(e, catalog=Catalog(tools=tuple(tool(i) for i in range(50))))


@dataclass(frozen=True)
class PerCall:
    """Microseconds per call: wall time and this process's CPU time (user + system)."""

    wall_us: float
    cpu_us: float

    def json(self, raw: PerCall | None = None) -> dict[str, float]:
        out = {"wall_us": round(self.wall_us, 1), "cpu_us": round(self.cpu_us, 1)}
        if raw is not None:
            out["vs_raw_get"] = round(self.wall_us / raw.wall_us, 2)
            out["cpu_vs_raw_get"] = round(self.cpu_us / raw.cpu_us, 2)
        return out


async def per_call(call: Callable[[], Awaitable[Any]], rounds: int = ROUNDS) -> PerCall:
    """The best of several rounds, for wall and CPU each (the machine is noisy)."""
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(READS):
            await call()
        cpus.append((time.process_time() - cpu) / READS * 1e6)
        walls.append((time.perf_counter() - wall) / READS * 1e6)
    return PerCall(min(walls), min(cpus))


def best(samples: list[PerCall]) -> PerCall:
    """The best wall and the best CPU over interleaved repeats."""
    return PerCall(min(p.wall_us for p in samples), min(p.cpu_us for p in samples))


async def read_50_tools(server: RedisServer) -> dict[str, Any]:
    now = time.time()
    big = fifty_tools(now=now)
    data = codec.encode(big)
    settings = CacheSettings(backend="redis", url=SecretUrl(server.url))
    cfg = config(settings, (gateway("bench", ("big",)),))
    out: dict[str, Any] = {"entry_bytes": len(data)}

    decoding = replace_memo(redis_backend(cfg, CacheStats()))
    memoised = redis_backend(cfg, CacheStats())
    raw = redis.asyncio.Redis.from_url(server.url)
    try:
        await memoised.put_many([big], now=now)
        key = memoised.keys.entry_key(CacheType.TOOLS, "bench", "big")
        assert await raw.get(key) == data
        for _ in range(50):  # warm connections and the memo
            await raw.get(key)
            await memoised.get(CacheType.TOOLS, "bench", "big", now=now)
            await decoding.get(CacheType.TOOLS, "bench", "big", now=now)
        raw_s, decoding_s, memoised_s = [], [], []
        for _ in range(3):  # interleaved, so drift hits all three alike
            raw_s.append(await per_call(lambda: raw.get(key)))
            decoding_s.append(
                await per_call(lambda: decoding.get(CacheType.TOOLS, "bench", "big", now=now))
            )
            memoised_s.append(
                await per_call(lambda: memoised.get(CacheType.TOOLS, "bench", "big", now=now))
            )
        decode_us = min(_time_sync(lambda: codec.decode(data)) for _ in range(ROUNDS))
    finally:
        await raw.aclose()
        await decoding.aclose()
        await memoised.aclose()
    raw_get = best(raw_s)
    out.update(
        redis_read_decoding=best(decoding_s).json(raw_get),
        raw_get=raw_get.json(),
        redis_read_memoised=best(memoised_s).json(raw_get),
        decode_only_us=round(decode_us, 1),
        target="redis_read_memoised.vs_raw_get <= 1.5; decoding read reported as measured",
    )

    async with open_cache(config(), stats=CacheStats()) as memory_cache:
        await memory_cache.put_many([big])
        out["memory_cache_get_us"] = round(
            (await per_call(lambda: memory_cache.get(CacheType.TOOLS, "bench", "big"))).wall_us,
            2,
        )
        out["memory_lookup_us"] = round(
            min(
                _time_sync(lambda: memory_cache.lookup(CacheType.TOOLS, "bench", "big"), READS)
                for _ in range(ROUNDS)
            ),
            2,
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
