"""Refresh scheduling: the entry gone past its grace, and the cross-host seam saying no."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from tests.actors.support import outage_config, spawns, until, write_config

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.cache.lease import Lease, WaitResult
from mcp_discoveryd.config import load_config

pytestmark = pytest.mark.slow


async def test_past_stale_until_the_entry_is_gone_and_status_says_why(tmp_path: Path) -> None:
    path, outage = outage_config(tmp_path, stale_grace="1s", retry_max="0.4s")
    async with Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
        entry = api.catalog("g", "a")
        assert entry is not None
        outage.touch()
        await anyio.sleep(max(0.0, entry.stale_until - time.time()) + 0.5)
        assert api.catalog("g", "a") is None
        handle = daemon.actors.handles[("g", "a")]
        await until(lambda: "no entry" in handle.state.note)
        row = (await api.status())["servers"][0]
        assert row["entry"] == "none" and row["state"] in ("backoff", "discovering")
        assert "no entry" in row["note"] and "stale_until" in row["note"]
        assert row["last_error"]["kind"] == "protocol_error"
        assert "outage switched on" in row["last_error"]["message"]


class Refuser:
    """A coordinator that never grants a refresh (another host holds the lease)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    async def try_acquire(self, gateway_id: str, server_name: str, ttl_s: float) -> Lease | None:
        self.asked.append((gateway_id, server_name))
        return None

    async def wait_for_update(
        self,
        gateway_id: str,
        server_name: str,
        timeout: float,  # noqa: ASYNC109  # the protocol's
    ) -> WaitResult:
        return "timeout"  # the holder never ends


async def test_a_refused_refresh_reads_the_cache_and_does_not_spin(tmp_path: Path) -> None:
    path = write_config(tmp_path / "d.toml", {"a": []}, cache='tool_ttl = "3s"')
    refuser = Refuser()
    async with Daemon(load_config(path), coordinator=refuser) as daemon:
        entry = DaemonApi(daemon).catalog("g", "a")
        assert entry is not None
        await until(lambda: bool(refuser.asked))
        await anyio.sleep(max(0.0, entry.expires_at - time.time() - 0.3))
        assert refuser.asked[0] == ("g", "a")
        assert spawns(path, "a") == 1  # refused while fresh: the entry was read, not refreshed
        # no busy loop: after the preload run and the first refused turn, refused turns come
        # no closer than half the first retry delay (1 s by default), however slow the host
        since_due = time.time() - entry.refresh_at
        assert daemon.actors.handles[("g", "a")].state.runs <= 2 + max(0.0, since_due) / 0.5
