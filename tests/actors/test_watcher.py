"""list_changed watching with real servers: an SDK server over streamable HTTP (uvicorn, in
process) in both protocol eras, a restart of that server, debounce and the watch bound.

Each test reads the daemon's catalog (what a client of the daemon gets), and counts
refreshes as the upstream's own tools/list requests.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import anyio
import pytest
from anyio.abc import TaskStatus
from tests.actors.support import until
from tests.cache.redis_config import free_port  # below the ephemeral range: see there
from tests.conftest import descendants
from tests.servers.changing import Changing
from tests.servers.http_harness import serve_app

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config import load_config

pytestmark = pytest.mark.slow

NOTICE_LIMIT = 1.0  # seconds from a notification to the new catalog (the bound)


def remote_config(
    path: Path, urls: dict[str, str], *, daemon: str = "", discovery: str = "", server: str = ""
) -> Path:
    """A TOML config of gateway "g" with one streamable HTTP server per url; long TTLs."""
    lines = [
        f"[discovery]\n{discovery}\n",
        '[cache]\nmin_ttl = "0s"\ntool_ttl = "1h"\n',
        f'[daemon]\nwatch_ping = "0.2s"\nwatch_retry_max = "1s"\n{daemon}\n',
        "[gateways.g]\n",
    ]
    for name, url in urls.items():
        lines.append(f"[gateways.g.servers.{name}]\nurl = {json.dumps(url)}\n{server}\n")
    path.write_text("\n".join(lines))
    return path


def watched_stdio_config(path: Path, name: str, argv: list[str], ping: str) -> Path:
    """A TOML config of gateway "g" with one stdio server, watched (``watch = "on"``); long TTLs."""
    path.write_text(
        f'[cache]\nmin_ttl = "0s"\ntool_ttl = "1h"\n[daemon]\nwatch_ping = "{ping}"\n'
        f"[gateways.g.servers.{name}]\n"
        f"command = {json.dumps(argv[0])}\nargs = {json.dumps(argv[1:])}\n"
        'timeout = "20s"\nwatch = "on"\n'
    )
    return path


def tool_names(api: DaemonApi, name: str = "s") -> set[str]:
    entry = api.catalog("g", name)
    return set() if entry is None else {str(t["name"]) for t in entry.catalog.tools}


async def notifications_arrive(changing: Changing, daemon: Daemon, server: str = "s") -> None:
    """Notify until the daemon hears one (the watched session's stream is up), then wait
    until the refresh it made has ended.

    A session counts as open before its notification stream is (the GET stream of a
    classic session, the acknowledgment of a listen): a notification sent earlier
    is lost, on a loaded machine too, so timings are measured only after this. Only a
    notification the daemon did not hear is sent again, never one whose refresh is merely
    slow: a second one heard makes a second refresh, which the tests would count.
    """
    watch, handle = daemon.deps.watch, daemon.actors.handles[("g", server)]
    assert watch is not None
    lists, runs = changing.lists, handle.state.runs
    with anyio.fail_after(30):
        while True:
            heard = watch.stats.notifications
            await changing.notify()
            with anyio.move_on_after(1.0):
                while watch.stats.notifications == heard:  # noqa: ASYNC110 - a count, polled
                    await anyio.sleep(0.02)
                break

    def refreshed() -> bool:  # every listing since began has ended as a run
        state, listed = handle.state, changing.lists - lists
        return listed > 0 and state.phase == "idle" and state.runs - runs >= listed

    await until(refreshed, limit=30.0)


async def added_tool_reaches_catalog(
    api: DaemonApi, changing: Changing, tool: str, server: str = "s"
) -> float:
    """Add ``tool`` upstream (which notifies); seconds until the daemon's catalog has it."""
    started = time.monotonic()
    await changing.add_tool(tool)
    await until(lambda: tool in tool_names(api, server), limit=10.0)
    return time.monotonic() - started


async def test_classic_session_tools_list_changed_refreshes_the_catalog(tmp_path: Path) -> None:
    changing = Changing()
    async with serve_app(changing.app()) as base:
        config = remote_config(tmp_path / "d.toml", {"s": f"{base}/mcp"})
        async with Daemon(load_config(config)) as daemon:
            api = DaemonApi(daemon)
            assert tool_names(api) == {"first"}
            await until(lambda: bool(changing.sessions))  # the watched session pinged
            assert daemon.deps.watch is not None and daemon.deps.watch.stats.open == 1
            await notifications_arrive(changing, daemon)
            took = await added_tool_reaches_catalog(api, changing, "second")
            assert took < NOTICE_LIMIT
            assert tool_names(api) == {"first", "second"}
            assert daemon.actors.handles[("g", "s")].state.last_status == "success"
            watch = (await api.status())["daemon"]["watch"]
            assert watch["open"] == 1 and watch["max"] == 100
            assert watch["notifications"] >= 2


async def test_sse_session_tools_list_changed_refreshes_the_catalog(tmp_path: Path) -> None:
    changing = Changing()
    async with serve_app(changing.sse_app()) as base:
        config = remote_config(
            tmp_path / "d.toml", {"s": f"{base}/sse"}, server='transport = "sse"'
        )
        async with Daemon(load_config(config)) as daemon:
            api = DaemonApi(daemon)
            await until(lambda: bool(changing.sessions))
            await notifications_arrive(changing, daemon)
            took = await added_tool_reaches_catalog(api, changing, "second")
            assert took < NOTICE_LIMIT


async def test_modern_session_subscriptions_listen_refreshes_the_catalog(tmp_path: Path) -> None:
    changing = Changing()
    async with serve_app(changing.app()) as base:
        config = remote_config(tmp_path / "d.toml", {"s": f"{base}/mcp"}, discovery='mode = "auto"')
        async with Daemon(load_config(config)) as daemon:
            api = DaemonApi(daemon)
            watch = daemon.deps.watch
            assert watch is not None
            await until(lambda: watch.stats.open == 1)
            await notifications_arrive(changing, daemon)
            took = await added_tool_reaches_catalog(api, changing, "second")
            assert took < NOTICE_LIMIT
            entry = api.catalog("g", "s")
            assert entry is not None and entry.protocol_version == "2026-07-28"
            assert not changing.sessions  # no ping on a 2026-07-28 session: it listened


async def run_server(
    changing: Changing, port: int, stop: anyio.Event, *, task_status: TaskStatus[None]
) -> None:
    """Serve ``changing`` on ``port`` until ``stop`` is set (a server the test can restart)."""
    async with serve_app(changing.app(), port=port):
        task_status.started()
        await stop.wait()


async def test_watched_session_of_a_restarted_server_is_reopened(tmp_path: Path) -> None:
    changing, port = Changing(), free_port()
    config = remote_config(tmp_path / "d.toml", {"s": f"http://127.0.0.1:{port}/mcp"})
    async with anyio.create_task_group() as tg:
        first = anyio.Event()
        await tg.start(run_server, changing, port, first)
        async with Daemon(load_config(config)) as daemon:
            api, watch = DaemonApi(daemon), daemon.deps.watch
            assert watch is not None
            await until(lambda: bool(changing.sessions))
            first.set()  # the server goes away: the next ping fails
            await until(lambda: watch.stats.open == 0)
            second = anyio.Event()
            await tg.start(run_server, changing, port, second)
            await until(lambda: watch.stats.opened >= 2 and bool(changing.sessions))
            await notifications_arrive(changing, daemon)
            took = await added_tool_reaches_catalog(api, changing, "second")
            assert took < NOTICE_LIMIT
            second.set()


async def test_notifications_in_quick_succession_make_one_refresh(tmp_path: Path) -> None:
    changing = Changing()
    async with serve_app(changing.app()) as base:
        # A window far longer than five sends take, even on a loaded machine: notifications
        # heard in two windows would rightly make two refreshes.
        debounce = 'watch_debounce = "1s"'
        config = remote_config(tmp_path / "d.toml", {"s": f"{base}/mcp"}, daemon=debounce)
        async with Daemon(load_config(config)) as daemon:
            watch, handle = daemon.deps.watch, daemon.actors.handles[("g", "s")]
            assert watch is not None
            await until(lambda: bool(changing.sessions))
            await notifications_arrive(changing, daemon)
            before, runs = changing.lists, handle.state.runs
            notified = watch.stats.notifications
            for _ in range(5):
                await changing.notify()
            await until(lambda: watch.stats.notifications >= notified + 5)
            await until(lambda: handle.state.runs > runs)  # the refresh ended
            await anyio.sleep(1.0)  # any second refresh would have started by now
            assert changing.lists == before + 1
            assert handle.state.runs == runs + 1


async def test_a_change_announced_during_a_refresh_gets_one_more_refresh(tmp_path: Path) -> None:
    changing = Changing(list_delay=0.5)
    async with serve_app(changing.app()) as base:
        config = remote_config(tmp_path / "d.toml", {"s": f"{base}/mcp"})
        async with Daemon(load_config(config)) as daemon:
            api = DaemonApi(daemon)
            await until(lambda: bool(changing.sessions))
            await notifications_arrive(changing, daemon)  # and the warm-up's refresh ended
            before = changing.lists
            await changing.notify()
            await until(lambda: changing.lists > before)  # a refresh is listing, slowly
            await changing.add_tool("during")  # not in that refresh's answer
            await until(lambda: "during" in tool_names(api), limit=10.0)
            assert changing.lists == before + 2


async def test_watched_sessions_stay_within_max_watched_and_a_slot_freed_is_taken(
    tmp_path: Path,
) -> None:
    one, two = Changing(), Changing()
    async with serve_app(one.app()) as base_one, serve_app(two.app()) as base_two:
        urls = {"one": f"{base_one}/mcp", "two": f"{base_two}/mcp"}
        config = remote_config(tmp_path / "d.toml", urls, daemon="max_watched = 1")
        async with Daemon(load_config(config)) as daemon:
            watch = daemon.deps.watch
            assert watch is not None
            await until(lambda: bool(one.sessions or two.sessions))
            await until(lambda: watch.stats.waiting == 1)
            await anyio.sleep(0.5)  # a few pings: still one session
            assert watch.stats.open == 1 and watch.stats.peak == 1
            watched, waiting = ("one", "two") if one.sessions else ("two", "one")
            del urls[watched]
            remote_config(config, urls, daemon="max_watched = 1")
            reply = await daemon.reload()
            assert reply["removed"] == [f"g/{watched}"]
            other = two if waiting == "two" else one
            await until(lambda: bool(other.sessions))  # the removed server's slot was freed
            assert watch.stats.open == 1 and watch.stats.waiting == 0
            await notifications_arrive(other, daemon, waiting)
            took = await added_tool_reaches_catalog(DaemonApi(daemon), other, "later", waiting)
            assert took < NOTICE_LIMIT


@pytest.mark.npm
async def test_server_everything_list_changed_over_stdio_refreshes(
    tmp_path: Path, everything_server: tuple[str, str]
) -> None:
    """The npm reference server sends tools/list_changed right after initialize (classic era).

    Watched over stdio (``watch = "on"``: stdio is not watched by default), that
    notification alone makes the daemon refresh, with no request and a TTL of an hour.
    """
    node, script = everything_server
    path = watched_stdio_config(tmp_path / "d.toml", "everything", [node, script, "stdio"], "1s")
    async with Daemon(load_config(path)) as daemon:
        watch = daemon.deps.watch
        assert watch is not None
        handle = daemon.actors.handles[("g", "everything")]
        await until(lambda: watch.stats.notifications >= 1, limit=30.0)
        await until(lambda: handle.state.runs >= 2, limit=30.0)  # preload, then the refresh
        entry = DaemonApi(daemon).catalog("g", "everything")
        assert entry is not None and len(entry.catalog.tools) == 13
        assert entry.capabilities is not None and entry.capabilities["tools"]["listChanged"]
    assert live_children(script) == []


async def test_a_watched_stdio_child_is_gone_when_the_daemon_stops(
    tmp_path: Path, sdk_servers: str
) -> None:
    """``watch = "on"`` keeps a stdio child alive beside discovery; shutdown closes it."""
    argv = [sys.executable, sdk_servers, "high"]
    path = watched_stdio_config(tmp_path / "d.toml", "high", argv, "0.2s")
    async with Daemon(load_config(path)) as daemon:
        watch = daemon.deps.watch
        assert watch is not None
        await until(lambda: watch.stats.open == 1, limit=30.0)
        # The watched session's child alone (discovery's exits once its listing is done).
        await until(lambda: len(live_children(sdk_servers)) == 1)
        await anyio.sleep(0.5)  # pings answered: the session stays open
        assert watch.stats.opened == 1
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 5.0  # stdin closed, the child exits
    assert live_children(sdk_servers) == []


def live_children(script: str) -> list[object]:
    """This process's live descendants running ``script`` (zombies excluded)."""
    return [p for p in descendants().values() if script in p.cmdline and p.state != "Z"]


async def test_reload_that_turns_watch_off_closes_the_session_and_keeps_the_entry(
    tmp_path: Path,
) -> None:
    changing = Changing()
    async with serve_app(changing.app()) as base:
        urls = {"s": f"{base}/mcp"}
        config = remote_config(tmp_path / "d.toml", urls)
        async with Daemon(load_config(config)) as daemon:
            api, watch = DaemonApi(daemon), daemon.deps.watch
            assert watch is not None
            await until(lambda: watch.stats.open == 1)
            lists = changing.lists
            remote_config(config, urls, server='watch = "off"')
            reply = await daemon.reload()
            assert reply["changed"] == ["g/s"]
            await until(lambda: watch.stats.open == 0)
            assert tool_names(api) == {"first"} and changing.lists == lists  # no rediscovery
            await changing.add_tool("unseen")
            await anyio.sleep(1.0)
            assert tool_names(api) == {"first"}  # nobody watches: the timer will see it
