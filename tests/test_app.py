"""The daemon in process: preload, refresh-ahead, stale serving, single flight, reload, crashes.

Real stdio servers (tests/servers/raw_server.py) with TTLs of seconds; each server
records its starts in a marker file, so spawns are counted, not guessed.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import anyio
import pytest
from tests.actors.support import (
    control_socket,
    outage_config,
    spawns,
    start_times,
    until,
    write_config,
)

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import EXIT_SOFTWARE, Daemon, serve
from mcp_discoveryd.cache import Cache
from mcp_discoveryd.config import load_config
from mcp_discoveryd.discovery import guardrails
from mcp_discoveryd.errors import NotAccepting
from mcp_discoveryd.models import CacheType, DiscoveryReport, ServerSpec

pytestmark = pytest.mark.slow


async def refresh_cost(tmp_path: Path) -> float:
    """Seconds the slowest of three refreshes of two servers at once takes on this machine
    now (a process start and a handshake each: about 0.3 s on a loaded 2-core machine)."""
    (tmp_path / "cost").mkdir()  # its own spawn files: the test counts its daemon's
    path = write_config(tmp_path / "cost/d.toml", {"a": [], "b": []}, cache='tool_ttl = "1h"')
    slowest = 0.0
    async with Daemon(load_config(path)) as daemon:
        for _ in range(3):
            report = await DaemonApi(daemon).discover("g", refresh=True)
            assert report.status == "success"
            slowest = max(slowest, report.duration_s)
    return slowest


async def test_refresh_lands_before_expiry_and_readers_never_miss(tmp_path: Path) -> None:
    # A refresh starts at 75-85 % of the TTL, so it lands before expiry when it takes less
    # than 15 % of the TTL: a TTL that gives three times the refresh measured here, not a
    # fixed one a slower machine's refresh could outlast.
    ttl = max(2.0, 20 * await refresh_cost(tmp_path))
    cache = f'tool_ttl = "{ttl:.1f}s"'
    path = write_config(tmp_path / "d.toml", {"a": [], "b": []}, cache=cache)
    async with Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
        first = api.catalog("g", "a")
        assert first is not None  # ready means preloaded: no miss on the first read
        deadline = time.monotonic() + 2 * ttl + 0.5  # two TTLs: at least two refreshes each
        while time.monotonic() < deadline:
            for name in ("a", "b"):
                entry = api.catalog("g", name)
                assert entry is not None, f"miss on {name}"
                assert entry.freshness(time.time()) == "fresh", f"{name} read past expiry"
            await anyio.sleep(0.02)
        assert spawns(path, "a") >= 3 and spawns(path, "b") >= 3
        latest = api.catalog("g", "a")
        assert latest is not None and latest.fetched_at > first.fetched_at


async def test_failing_upstream_is_served_stale_backs_off_and_recovers(tmp_path: Path) -> None:
    path, outage = outage_config(tmp_path, stale_grace="30s", retry_max="5s")
    async with Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
        good = api.catalog("g", "a")
        assert good is not None
        outage.touch()
        handle = daemon.actors.handles[("g", "a")]
        await until(lambda: handle.state.failures >= 4)
        entry = api.catalog("g", "a")
        assert entry is not None and entry.catalog == good.catalog  # the old data, kept
        assert entry.freshness(time.time()) == "stale"
        assert entry.consecutive_failures >= 3 and entry.last_error is not None
        status = await api.status()
        row = status["servers"][0]
        assert row["state"] == "backoff" and row["entry"] == "stale"
        assert "serving the entry" in row["note"]
        assert status["daemon"]["preloaded"] == status["daemon"]["actors"] == 1
        # After failure k the next attempt waited at least half its backoff: 0.1, 0.2, 0.4 s.
        starts = start_times(path, "a")[1:5]  # the first start was the preload (good)
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        for n, gap in enumerate(gaps, start=1):
            assert gap >= 0.2 * 2 ** (n - 1) / 2, gaps
        outage.unlink()
        await until(lambda: handle.state.failures == 0, limit=20)
        back = api.catalog("g", "a")
        assert back is not None and back.freshness(time.time()) == "fresh"
        assert back.fetched_at > good.fetched_at and back.consecutive_failures == 0


async def discover_at_once(
    api: DaemonApi, name: str, count: int, *, refresh: bool
) -> list[DiscoveryReport]:
    """``count`` discover requests for server ``name`` of "g", all at once: their reports."""
    reports: list[DiscoveryReport] = []

    async def ask() -> None:
        reports.append(await api.discover("g", name, refresh=refresh))

    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(ask)
    return reports


async def test_fifty_concurrent_requests_for_one_cold_key_make_one_discovery(
    tmp_path: Path,
) -> None:
    path = write_config(
        tmp_path / "d.toml", {"a": ["--slow-ms", "300"]}, daemon='ready = "at-once"'
    )
    async with Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
        assert api.catalog("g", "a") is None  # ready at once: the preload is still running
        reports = await discover_at_once(api, "a", 50, refresh=True)
        assert len(reports) == 50
        assert all(r.status == "success" for r in reports)
        assert len({id(r.outcomes[0]) for r in reports}) == 1  # one outcome, shared
        assert spawns(path, "a") == 1


async def test_reload_adds_removes_and_changes_servers_without_touching_others(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path / "d.toml", {"keep": [], "change": [], "drop": []})
    async with Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
        kept = daemon.actors.handles[("g", "keep")]
        kept_entry = api.catalog("g", "keep")
        write_config(path, {"keep": [], "change": ["--tools", "5"], "add": []})
        reply = await api.reload()
        assert reply["status"] == "success", reply
        assert reply["added"] == ["g/add"] and reply["changed"] == ["g/change"]
        assert reply["removed"] == ["g/drop"]
        handles = daemon.actors.handles
        assert sorted(handles) == [("g", "add"), ("g", "change"), ("g", "keep")]
        assert handles[("g", "keep")] is kept and spawns(path, "keep") == 1
        assert api.catalog("g", "keep") is kept_entry  # not rediscovered, not rewritten
        await handles[("g", "change")].preloaded.wait()
        await handles[("g", "add")].preloaded.wait()
        changed = api.catalog("g", "change")
        assert changed is not None and len(changed.catalog.tools) == 5
        assert api.catalog("g", "add") is not None
        assert daemon.cache.lookup(CacheType.TOOLS, "g", "drop") is None  # cleared
        assert api.catalog("g", "drop") is None


async def test_bad_reload_changes_nothing_and_status_says_why(tmp_path: Path) -> None:
    path = write_config(tmp_path / "d.toml", {"a": []})
    async with Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
        config, handles = daemon.config, dict(daemon.actors.handles)
        path.write_text(path.read_text() + "\n[gateways.g.servers.b]\nurl = 7\n")
        reply = await api.reload()
        assert reply["status"] == "error" and "url" in str(reply["message"])
        assert daemon.config is config and daemon.actors.handles == handles
        status = await api.status()
        assert "url" in str(status["daemon"]["reload_error"])
        write_config(path, {"a": []})
        assert (await api.reload())["status"] == "success"
        assert (await api.status())["daemon"]["reload_error"] is None


@dataclass(frozen=True)
class CrashingChecks(guardrails.Guardrails):
    """Raises (a bug, not an upstream failure) for server "crashy" while budget lasts."""

    budget: list[int] = field(default_factory=lambda: [0])
    delay: float = 0.0  # seconds before raising: requests arrive while it runs

    async def check_servers(self, specs: list[ServerSpec]) -> list[tuple[str, ...]]:  # type: ignore[override]
        if any(s.name == "crashy" for s in specs) and self.budget[0] != 0:
            self.budget[0] -= 1
            await anyio.sleep(self.delay)
            raise RuntimeError("bug in a guardrail")
        return await super().check_servers(specs)


async def test_an_actor_that_raises_is_restarted(tmp_path: Path) -> None:
    path = write_config(tmp_path / "d.toml", {"crashy": []})
    checks = CrashingChecks(budget=[2])
    async with Daemon(load_config(path), checks=checks) as daemon:
        handle = daemon.actors.handles[("g", "crashy")]
        assert handle.state.restarts == 2 and handle.state.phase == "idle"
        assert DaemonApi(daemon).catalog("g", "crashy") is not None


async def test_requests_queued_during_a_crash_are_served_by_the_restarted_actor(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path / "d.toml", {"crashy": []}, daemon='ready = "at-once"')
    checks = CrashingChecks(budget=[1], delay=0.3)
    async with Daemon(load_config(path), checks=checks) as daemon:
        api = DaemonApi(daemon)
        reports = await discover_at_once(api, "crashy", 5, refresh=False)
        assert [r.status for r in reports] == ["success"] * 5
        assert daemon.actors.handles[("g", "crashy")].state.restarts == 1
        assert spawns(path, "crashy") == 1


async def test_a_crash_loop_is_contained(tmp_path: Path) -> None:
    path = write_config(tmp_path / "d.toml", {"crashy": [], "calm": []}, daemon="restart_limit = 2")
    checks = CrashingChecks(budget=[-1])  # forever
    async with Daemon(load_config(path), checks=checks) as daemon:
        api = DaemonApi(daemon)
        crashy = daemon.actors.handles[("g", "crashy")]
        assert crashy.state.phase == "failed" and "crashed 3 times" in crashy.state.note
        report = await api.discover("g", "crashy")
        assert report.outcomes[0].error is not None
        assert "server actor failed" in report.outcomes[0].error.message
        calm = await api.discover("g", "calm")
        assert calm.status == "success" and spawns(path, "calm") == 2
        checks.budget[0] = 0  # the bug fixed: a reload retries the failed actor, only it
        calm_handle = daemon.actors.handles[("g", "calm")]
        reply = await api.reload()
        assert reply["restarted"] == ["g/crashy"] and reply["changed"] == []
        assert daemon.actors.handles[("g", "calm")] is calm_handle
        await daemon.actors.handles[("g", "crashy")].preloaded.wait()
        assert api.catalog("g", "crashy") is not None


async def test_a_failed_core_actor_stops_the_daemon_with_exit_code_70(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Cache, attempt: int, delay: float) -> None:
        raise RuntimeError("bug in the recovery actor")

    monkeypatch.setattr(Cache, "note_retry", broken)  # the cache's recovery actor crashes
    cache = 'backend = "redis"\nurl = "redis://127.0.0.1:1/0"'  # unreachable: recovery runs
    path = write_config(tmp_path / "d.toml", {"a": []}, cache=cache)
    config = load_config(path)  # its control socket beside it, never the default under /run
    config = replace(config, control=replace(config.control, socket=control_socket(path)))
    with anyio.fail_after(20):
        code = await serve(config)
    assert code == EXIT_SOFTWARE == 70
    assert "a core part of the daemon failed" in caplog.text


async def test_once_stopped_the_api_takes_no_new_work(tmp_path: Path) -> None:
    path = write_config(tmp_path / "d.toml", {"a": []})
    async with Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
    assert daemon.phase == "stopped"
    with pytest.raises(NotAccepting):
        await api.discover("g", "a")
    assert (await api.reload())["status"] == "error"


async def test_a_config_defined_server_is_served_checked_with_no_actor_and_no_spawn(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path / "d.toml", {"a": [], "cfg": []}, config_defined=["cfg"])
    async with Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
        entry = api.catalog("g", "cfg")
        assert entry is not None and entry.source == "config"
        assert [t["name"] for t in entry.catalog.tools] == ["echo"]
        assert ("g", "cfg") not in daemon.actors.handles and spawns(path, "cfg") == 0
        write_config(path, {"a": []})
        assert (await api.reload())["removed"] == ["g/cfg"]
        assert api.catalog("g", "cfg") is None and not daemon.config_entries


async def test_a_stricter_tool_policy_applies_to_reads_at_once_after_reload(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path / "d.toml", {"a": []}, cache='tool_ttl = "1h"')
    async with Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
        before = api.catalog("g", "a")
        assert before is not None and len(before.catalog.tools) == 3
        write_config(path, {"a": []})  # the same server, now with a deny list:
        path.write_text(path.read_text() + 'denied_tools = ["tool_1"]\n')
        assert (await api.reload())["changed"] == ["g/a"]
        after = api.catalog("g", "a")  # at once: before the new actor's first discovery ends
        assert after is not None
        assert [t["name"] for t in after.catalog.tools] == ["tool_0", "tool_2"]
        assert [b.name for b in after.blocked_tools] == ["tool_1"]
        assert api.catalog("g", "a") is after  # an unchanged entry is checked once
