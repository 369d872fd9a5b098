"""A watcher on its own (no daemon): it ends with its actor, and a bug in it is contained."""

from __future__ import annotations

import anyio
import pytest
from tests.servers.changing import Changing
from tests.servers.http_harness import serve_app

from mcp_discoveryd.actors.messages import ListChanged
from mcp_discoveryd.actors.watcher import WatchPool
from mcp_discoveryd.config.settings import DaemonConfig, DaemonSettings, GatewayConfig
from mcp_discoveryd.discovery.selection import select
from mcp_discoveryd.models import RemoteTarget, ServerSpec
from mcp_discoveryd.secret import SecretUrl

pytestmark = pytest.mark.slow

SETTINGS = DaemonSettings(watch_ping=0.2, watch_retry_max=0.1, watch_debounce=0.05)


async def test_a_watcher_that_raises_is_restarted_and_ends_with_its_actor() -> None:
    changing = Changing()
    sent: list[ListChanged] = []

    async def send(message: ListChanged) -> None:  # the actor's mailbox, with a bug the first time
        sent.append(message)
        if len(sent) == 1:
            raise RuntimeError("a bug in the watcher's path")

    async with serve_app(changing.app()) as base:
        spec = ServerSpec("s", RemoteTarget(SecretUrl(f"{base}/mcp")), timeout=10)
        config = DaemonConfig("c.toml", "toml", (GatewayConfig("g", (spec,)),), daemon=SETTINGS)
        done = anyio.Event()
        async with WatchPool(config) as pool, anyio.create_task_group() as tg:
            await tg.start(pool.follow, select(config)[0], send, done)
            with anyio.fail_after(20):
                while len(sent) < 2:
                    await changing.notify()
                    await anyio.sleep(0.2)
            assert sent[1].kinds == frozenset({"tools"})
            done.set()  # the actor ended: the watcher and its session go
        assert pool.stats.open == 0
    assert pool.stats.opened >= 2  # the crash closed the first session, the restart opened one
