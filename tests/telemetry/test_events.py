"""Events the export run does not show: actor restarts and refused reloads, counted as they happen.

The SDK's own in-memory reader stands in for the exporter (what is recorded is the
question here; the export path has its own tests).
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from tests.actors.support import write_config
from tests.cache.redis_servers import RedisServer
from tests.control.support import control_config, served, short_dir
from tests.telemetry.memory_reader import sums
from tests.test_app import CrashingChecks

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config import load_config
from mcp_discoveryd.errors import NotFoundError
from mcp_discoveryd.telemetry import instruments as i

pytestmark = pytest.mark.slow


async def test_actor_restarts_and_refused_reloads_are_counted(
    tmp_path: Path, reader: InMemoryMetricReader
) -> None:
    path = write_config(tmp_path / "d.toml", {"crashy": []})
    async with Daemon(load_config(path), checks=CrashingChecks(budget=[2])) as daemon:
        assert daemon.actors.handles[("g", "crashy")].state.restarts == 2
        path.write_text(path.read_text() + "\n[gateways.g.servers.b]\nurl = 7\n")
        assert (await DaemonApi(daemon).reload())["status"] == "error"
    restarts = sums(reader, i.ACTOR_RESTARTS.name)
    assert restarts == {((i.GATEWAY, "g"), (i.SERVER, "crashy")): 2}
    assert sums(reader, i.CONFIG_RELOADS.name) == {((i.OUTCOME, "error"),): 1}


async def test_control_requests_are_counted_by_route_template_never_the_raw_path(
    reader: InMemoryMetricReader,
) -> None:
    with short_dir() as directory:
        async with served(control_config(directory)) as s:
            await s.client.catalog("a")
            with pytest.raises(NotFoundError):
                await s.client.catalog("secret-looking-name")
            await s.client.servers()
    counts = sums(reader, i.CONTROL_REQUESTS.name)

    def key(route: str, status: int) -> tuple[tuple[str, object], ...]:
        return tuple(sorted(((i.HTTP_METHOD, "GET"), (i.STATUS, status), (i.ROUTE, route))))

    assert counts[key("/v1/servers/{name}/catalog", 200)] == 1
    assert counts[key("/v1/servers/{name}/catalog", 404)] == 1
    assert counts[key("/v1/servers", 200)] == 1
    assert "secret-looking-name" not in repr(counts)


async def test_a_server_added_by_a_reload_reports_its_first_discovery_as_reload(
    tmp_path: Path, reader: InMemoryMetricReader
) -> None:
    path = write_config(tmp_path / "d.toml", {"a": []})
    async with Daemon(load_config(path)) as daemon:
        write_config(path, {"a": [], "b": []})
        assert (await DaemonApi(daemon).reload())["status"] == "success"
        await daemon.actors.handles[("g", "b")].preloaded.wait()
    runs = sums(reader, i.DISCOVERY_RUNS.name)
    triggers = {dict(k)[i.SERVER]: dict(k)[i.TRIGGER] for k in runs}
    assert triggers == {"a": "preload", "b": "reload"}


@pytest.mark.redis
async def test_two_daemons_on_one_redis_count_one_lease_acquired_and_one_contended(
    tmp_path: Path, reader: InMemoryMetricReader, redis_server: RedisServer
) -> None:
    """Both preload the same key at once; the one that waits for the other's result counts
    its request as contended."""
    cache = f'backend = "redis"\nurl = "{redis_server.url}"\ntool_ttl = "60s"'
    path = write_config(tmp_path / "d.toml", {"slow": ["--start-ms", "800"]}, cache=cache)
    async with anyio.create_task_group() as tg:
        for _ in range(2):
            tg.start_soon(run_one, path)
    leases = sums(reader, i.LEASES.name)
    results = {dict(k)[i.LEASE]: v for k, v in leases.items()}
    assert results.get("acquired", 0) >= 1 and results.get("contended", 0) >= 1, leases


async def run_one(path: Path) -> None:
    async with Daemon(load_config(path)):
        pass
