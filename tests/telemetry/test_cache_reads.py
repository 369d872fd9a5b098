"""Catalog reads served to gateways count as cache requests (``mcpd.cache.reader=gateway``),
apart from the daemon's own preload and refresh reads.

A real daemon on real stdio servers serves its control socket and its MCP tools there;
its OTLP export goes to the tests' real receiver. Servers: "ok" (fresh), "flaky" (its
entry is made stale, past ``expires_at`` within grace, while its upstream fails), "down"
(never discovered: a miss) and "fixed" (config-defined: not a cache read).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.actors.support import write_config
from tests.control.mcp_support import mcp_client
from tests.control.support import served, short_dir
from tests.telemetry.receiver import HttpReceiver

from mcp_discoveryd.app import Daemon
from mcp_discoveryd.cache.stats import Result
from mcp_discoveryd.config import load_config
from mcp_discoveryd.config.settings import DaemonConfig
from mcp_discoveryd.control.client import SyncControlClient
from mcp_discoveryd.control.mcp_tools import mcp_endpoint
from mcp_discoveryd.errors import ControlRequestError
from mcp_discoveryd.models import CacheType
from mcp_discoveryd.telemetry import instruments as i

pytestmark = pytest.mark.slow

EXPECTED: dict[str, Result] = {"ok": "hit", "flaky": "stale", "down": "miss"}


def reads_config(directory: Path, endpoint: str = "") -> DaemonConfig:
    """Gateway "g" of the four servers; telemetry to ``endpoint`` when given."""
    down, outage = directory / "down.flag", directory / "outage.flag"
    down.touch()  # "down" fails from its first spawn
    path = write_config(
        directory / "d.toml",
        {"ok": [], "flaky": ["--fail-while", str(outage)], "down": ["--fail-while", str(down)]}
        | {"fixed": []},
        config_defined=["fixed"],
        cache='tool_ttl = "1h"\nstale_grace = "1h"',  # nothing expires unless the test says so
    )
    if endpoint:
        telemetry = f'[telemetry]\nendpoint = {json.dumps(endpoint)}\ninterval = "0.2s"\n'
        path.write_text(path.read_text() + telemetry)
    config = load_config(path)
    control = replace(config.control, socket=str(directory / "c.sock"))
    return replace(config, control=control)


async def make_flaky_stale(daemon: Daemon, directory: Path) -> None:
    """Fail "flaky" from now on and put its entry past ``expires_at``, within its grace."""
    (directory / "outage.flag").touch()
    held = daemon.cache.lookup(CacheType.TOOLS, "g", "flaky")
    assert held is not None
    now = time.time()
    await daemon.cache.put_many([replace(held, refresh_at=now - 2, expires_at=now - 1)])


def gateway_results(daemon: Daemon) -> dict[Result, int]:
    return daemon.cache.stats.snapshot().results("gateway")


async def test_socket_and_mcp_catalog_reads_export_hit_stale_and_miss_as_gateway_reads() -> None:
    with short_dir() as directory, HttpReceiver().running() as rx:
        config = reads_config(directory, rx.url)
        async with served(config, endpoint=mcp_endpoint) as s:
            preload = gateway_results(s.daemon)
            await make_flaky_stale(s.daemon, directory)
            first = await s.client.catalog("ok")
            assert first.data is not None and first.data["freshness"] == "fresh"
            await s.client.catalog("ok")
            assert (await s.client.catalog("ok", etag=first.etag)).data is None  # a 304 is a hit
            stale = await s.client.catalog("flaky")
            assert stale.data is not None and stale.data["freshness"] == "stale"
            with pytest.raises(ControlRequestError):
                await s.client.catalog("down")  # 404: nothing cached
            await s.client.catalog("fixed")  # config-defined: served from config, not counted
            async with mcp_client(s.socket) as mcp:
                for name in ("ok", "flaky", "down", "fixed"):
                    await mcp.call_tool("get_catalog", {"server_name": name})
                await mcp.call_tool("list_servers", {})  # a listing: not a catalog read
            counted = gateway_results(s.daemon)
            daemon_reads = s.daemon.cache.stats.snapshot().results("daemon")
    assert preload == {"hit": 0, "stale": 0, "miss": 0}  # the preload is the daemon's own
    assert counted == {"hit": 4, "stale": 2, "miss": 2}
    assert daemon_reads["miss"] >= 3  # the preload found nothing for ok, flaky and down

    exported: Counter[tuple[str, str]] = Counter()
    for p in rx.received.latest():
        if p.name == "mcpd.cache.requests":
            exported[(str(p.attributes[i.READER]), str(p.attributes[i.RESULT]))] += int(p.value)
            assert p.attributes[i.CACHE_TYPE] == "tools" and p.attributes[i.TIER] == "memory"
    gateway = {r: exported[("gateway", r)] for r in ("hit", "stale", "miss")}
    assert gateway == counted  # the shutdown flush exported the final counts
    assert exported[("daemon", "miss")] == daemon_reads["miss"]


READS = st.lists(
    st.tuples(st.sampled_from(["ok", "flaky", "down", "fixed", "nope"]), st.booleans()),
    max_size=12,
)


def test_any_sequence_of_socket_reads_counts_one_request_per_cached_catalog_read() -> None:
    """Generated reads (some revalidating with the last ETag): each read of a discovered
    server counts once, by the freshness it was served with; config-defined and unknown
    servers are no cache reads."""
    with (
        short_dir() as directory,
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(served(reads_config(directory))) as s,
    ):
        portal.call(make_flaky_stale, s.daemon, directory)

        @settings(max_examples=25, deadline=None)
        @given(READS)
        def check(reads: list[tuple[str, bool]]) -> None:
            before = gateway_results(s.daemon)
            etags: dict[str, str | None] = {}
            with SyncControlClient(s.socket) as client:
                for name, revalidate in reads:
                    etag = etags.get(name) if revalidate else None
                    try:
                        etags[name] = client.catalog(name, etag=etag).etag
                    except ControlRequestError:
                        pass  # 404: not cached ("down") or unknown ("nope")
            after = gateway_results(s.daemon)
            model = Counter(EXPECTED[name] for name, _ in reads if name in EXPECTED)
            assert {r: after[r] - before[r] for r in after} == {r: model[r] for r in after}

        check()
