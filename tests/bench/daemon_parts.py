"""What the daemon benchmarks share: server specs, a config, a fake at the ``Fetcher`` seam,
and this process's CPU and memory as the kernel counts them.

The fake stands in for upstreams where N real children would measure the machine (their
interpreters' start) rather than the daemon; each benchmark says why it uses it.
"""

from __future__ import annotations

import json
import random
import resource
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
from tests.cache.builders import tool

from mcp_discoveryd.config.settings import (
    CacheSettings,
    DaemonConfig,
    DaemonSettings,
    DiscoverySettings,
    GatewayConfig,
)
from mcp_discoveryd.models import Catalog, JSONObject, ServerSpec, StdioTarget, UpstreamResult

PLAIN_TOOLS: tuple[JSONObject, ...] = tuple(
    {"name": f"t{i}", "inputSchema": {"type": "object"}} for i in range(10)
)


def fake_specs(servers: int) -> tuple[ServerSpec, ...]:
    """N stdio servers the fake answers for (their command never runs)."""
    return tuple(
        ServerSpec(name=f"s{i}", target=StdioTarget("true", (str(i),))) for i in range(servers)
    )


def daemon_config(
    specs: tuple[ServerSpec, ...],
    cache: CacheSettings,
    daemon: DaemonSettings | None = None,
    discovery: DiscoverySettings | None = None,
) -> DaemonConfig:
    """One gateway "g" holding ``specs``."""
    return DaemonConfig(
        path="<bench>",
        format="toml",
        gateways=(GatewayConfig(id="g", servers=specs),),
        cache=cache,
        daemon=daemon or DaemonSettings(retry_initial=0.5),
        discovery=discovery or DiscoverySettings(),
    )


def rich_tools(count: int) -> Callable[[ServerSpec], tuple[JSONObject, ...]]:
    """``count`` tools with schemas, annotations and _meta, decoded afresh per listing.

    Round-tripped through JSON text so every listing holds its own objects, as a
    decoded upstream reply does (shared dicts would understate the memory held).
    """

    def listing(spec: ServerSpec) -> tuple[JSONObject, ...]:
        tools = [tool(i) for i in range(count)]
        for one in tools:
            one["description"] = f"{spec.name}: {one['description']}"
        return tuple(json.loads(json.dumps(tools)))

    return listing


class LatencyFake:
    """Upstreams at the ``Fetcher`` seam: each listing answered after ``latency(spec)`` s.

    Records when each server was fetched (one fake can serve a whole fleet).
    """

    def __init__(
        self,
        latency: Callable[[ServerSpec], float] = lambda _spec: random.uniform(0.05, 0.2),
        tools: Callable[[ServerSpec], tuple[JSONObject, ...]] = lambda _spec: PLAIN_TOOLS,
    ) -> None:
        self.fetched: dict[str, list[float]] = defaultdict(list)
        self._latency = latency
        self._tools = tools

    @property
    def fetches(self) -> int:
        """Listings answered or under way, all servers."""
        return sum(len(times) for times in self.fetched.values())

    async def fetch(self, spec: ServerSpec) -> UpstreamResult:
        """One listing of ``spec``'s tools, after its latency."""
        self.fetched[spec.name].append(time.monotonic())
        await anyio.sleep(self._latency(spec))
        return UpstreamResult(catalog=Catalog(tools=self._tools(spec)))


@dataclass(frozen=True, slots=True)
class Clock:
    """Wall, this process's CPU and its reaped children's CPU at one instant."""

    wall: float
    cpu: float
    children_cpu: float

    @classmethod
    def now(cls) -> Clock:
        """Read the three clocks."""
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(time.monotonic(), time.process_time(), children.ru_utime + children.ru_stime)

    def since(self, start: Clock) -> dict[str, float]:
        """Seconds elapsed since ``start``: wall, CPU and children's CPU."""
        return {
            "wall_s": round(self.wall - start.wall, 3),
            "cpu_s": round(self.cpu - start.cpu, 3),
            "children_cpu_s": round(self.children_cpu - start.children_cpu, 3),
        }


def memory_mb() -> dict[str, float]:
    """This process's resident set now (VmRSS) and its peak (VmHWM), in MB (10^6 bytes)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) * 1024 / 1e6, 1)  # the kernel's kB
    return {"rss_mb": fields["VmRSS"], "hwm_mb": fields["VmHWM"]}
