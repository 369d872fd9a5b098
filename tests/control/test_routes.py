"""Every endpoint of the control socket, over the real socket of a real daemon."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from tests.actors.support import write_config
from tests.control.support import TOOLS, control_config, served

from mcp_discoveryd import __version__
from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.config import load_config
from mcp_discoveryd.control.client import ControlClient
from mcp_discoveryd.errors import (
    ControlRequestError,
    DaemonStoppingError,
    DaemonUnavailable,
    NotFoundError,
)

pytestmark = pytest.mark.slow


async def test_health_status_and_servers_describe_the_daemon(sock_dir: Path) -> None:
    async with served(control_config(sock_dir)) as s:
        health = await s.client.health()
        assert health == {
            "status": "ok",
            "live": True,
            "ready": True,
            "state": "ready",
            "degraded": [],
        }
        status = await s.client.status("g")
        own = status["daemon"]
        assert own["version"] == __version__ and own["state"] == "ready"
        assert own["config"] == str(s.config_path) and own["backend"]["health"] == "ok"
        rows = {row["server"]: row for row in status["servers"]}
        assert set(rows) == {"a", "b"}
        row = rows["a"]
        assert row["state"] == "idle" and row["entry"] == "fresh" and row["tool_count"] == 3
        assert row["source"] == "discovery" and row["consecutive_failures"] == 0
        assert row["expires_at"].endswith("Z") and row["next_refresh"].endswith("Z")
        assert status["cache_status"]["gateway_specific"]["tools"]["server_count"] == 2
        servers = await s.client.servers()
        assert [(r["server"], r["tool_count"], r["freshness"]) for r in servers["servers"]] == [
            ("a", 3, "fresh"),
            ("b", 3, "fresh"),
        ]


async def test_catalog_is_served_with_an_etag_and_unchanged_reads_get_304(sock_dir: Path) -> None:
    async with served(control_config(sock_dir)) as s:
        first = await s.client.catalog("a")
        assert first.changed and first.data is not None and first.etag
        assert [t["name"] for t in first.data["tools"]] == ["tool_0", "tool_1", "tool_2"]
        assert first.data["freshness"] == "fresh" and first.data["gateway"] == "g"
        again = await s.client.catalog("a", etag=first.etag)
        assert not again.changed and again.etag == first.etag
        raw = await s.client._http.get(
            "/v1/servers/a/catalog", headers={"if-none-match": f'W/{first.etag}, "x"'}
        )
        assert raw.status_code == 304 and raw.content == b""
        # A new discovery makes a new entry: a new body, a new tag.
        await s.client.discover("a")
        changed = await s.client.catalog("a", etag=first.etag)
        assert changed.changed and changed.etag != first.etag


async def test_catalog_body_is_serialized_once_per_entry(sock_dir: Path) -> None:
    async with served(control_config(sock_dir)) as s:
        await s.client.catalog("a")
        app_bodies = []
        for _ in range(3):
            response = await s.client._http.get("/v1/servers/a/catalog")
            app_bodies.append(response.content)
        assert app_bodies[0] == app_bodies[1] == app_bodies[2]
        from mcp_discoveryd.control import catalogs

        calls = 0
        original = catalogs.entry_json

        def counting(*args: object, **kwargs: object) -> object:
            nonlocal calls
            calls += 1
            return original(*args, **kwargs)  # type: ignore[arg-type]

        catalogs.entry_json = counting  # type: ignore[assignment]
        try:
            for _ in range(5):
                await s.client.catalog("a")
        finally:
            catalogs.entry_json = original
        assert calls == 0  # the kept body was sent each time


async def test_discover_one_and_all_return_the_discover_shapes(sock_dir: Path) -> None:
    async with served(control_config(sock_dir)) as s:
        one = await s.client.discover("a")
        assert one["server_name"] == "a" and one["status"] == "success"
        assert len(one["tools"]) == 3 and one["blocked_count"] == 0 and "message" in one
        every = await s.client.discover()
        assert every["status"] == "success"
        assert sorted(every["discovery_success_servers"]) == ["a", "b"]
        cached = await s.client.discover("b", refresh=False)
        assert cached["source"] == "cache"


async def test_clear_empties_the_catalog_until_rediscovered(sock_dir: Path) -> None:
    async with served(control_config(sock_dir)) as s:
        reply = await s.client.clear(server="a", cache_type="tools")
        assert reply["status"] == "success", reply
        with anyio.fail_after(15):  # the cleared actor rediscovers at once
            while True:
                try:
                    back = await s.client.catalog("a")
                    break
                except NotFoundError as exc:
                    assert "no catalog cached" in exc.message
                    await anyio.sleep(0.05)
        assert back.changed


async def test_reload_reports_what_changed(sock_dir: Path) -> None:
    config = control_config(sock_dir, {"a": TOOLS})
    async with served(config) as s:
        text = s.config_path.read_text()
        s.config_path.write_text(
            text + text.replace("servers.a", "servers.c").split("[gateways.g]")[1]
        )
        reply = await s.client.reload()
        assert reply["status"] == "success" and reply["added"] == ["g/c"], reply
        status = await s.client.status()
        assert status["daemon"]["last_reload"]["added"] == ["g/c"]


async def test_accept_with_nothing_pending_accepts_nothing(sock_dir: Path) -> None:
    async with served(control_config(sock_dir)) as s:
        assert await s.client.accept("a") == {"accepted": [], "pending": [], "rediscovered": False}
        with pytest.raises(NotFoundError, match="pending tool change"):
            await s.client.accept("a", tool="tool_0")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("POST", "/v1/discover", b"{not json", 400, "malformed JSON"),
        ("POST", "/v1/discover", b"[1]", 400, "must be a JSON object"),
        ("POST", "/v1/discover", b'{"servre": "a"}', 400, "servre: unknown field"),
        ("POST", "/v1/discover", b'{"refresh": "yes"}', 400, "refresh: Input should be"),
        ("POST", "/v1/discover", b'{"server": 3}', 400, "server: Input should be"),
        ("POST", "/v1/discover", b'{"server": "nope"}', 404, "unknown server 'nope'"),
        ("POST", "/v1/discover", b'{"gateway": "zz"}', 404, "unknown gateway 'zz'"),
        ("POST", "/v1/cache/clear", b'{"cache_type": "x"}', 400, "unknown cache_type"),
        ("POST", "/v1/cache/clear", b'{"forget_logins": true}', 400, "applies to cache_type tokens"),
        ("POST", "/v1/reload", b'{"now": true}', 400, "now: unknown field"),
        ("GET", "/v1/servers/nope/catalog", b"", 404, "unknown server 'nope'"),
        ("GET", "/v1/servers/a/catalog?gateway=zz", b"", 404, "unknown gateway 'zz'"),
        ("GET", "/v1/status?gatway=g", b"", 400, "unknown query parameter 'gatway'"),
        ("GET", "/v1/nothing", b"", 404, "no such path"),
        ("GET", "/mcp", b"", 404, "no MCP endpoint"),
        ("DELETE", "/v1/status", b"", 405, "use GET"),
        ("GET", "/v1/discover", b"", 405, "use POST"),
    ],
)
async def test_bad_requests_get_a_4xx_json_error_naming_the_problem(
    sock_dir: Path, method: str, path: str, body: bytes, status: int, words: str
) -> None:
    async with served(control_config(sock_dir, {"a": TOOLS})) as s:
        response = await s.client._http.request(method, path, content=body)
        assert response.status_code == status
        error = json.loads(response.content)
        assert error["status"] == status and words in error["error"], error
        assert (await s.client.health())["ready"]  # and the daemon goes on


async def test_requests_while_stopping_get_503(sock_dir: Path) -> None:
    # "slow" answers after 3 s and is still preloading at shutdown, which waits for it:
    # the socket keeps answering meanwhile, 503 to everything.
    config = control_config(sock_dir, {"slow": ["--slow-ms", "3000"]}, daemon='ready = "at-once"')
    seen: list[int] = []
    async with anyio.create_task_group() as tg:
        async with served(config) as s:
            path = s.socket

            async def during_shutdown() -> None:
                while s.daemon.phase != "stopping":  # noqa: ASYNC110 - no event announces it
                    await anyio.sleep(0.01)
                transport = httpx2.AsyncHTTPTransport(uds=path)
                async with httpx2.AsyncClient(transport=transport, base_url="http://d") as http:
                    for route in ("/v1/health", "/v1/status", "/v1/servers/slow/catalog"):
                        seen.append((await http.get(route)).status_code)
                    seen.append((await http.post("/v1/discover", json={})).status_code)

            tg.start_soon(during_shutdown)
            await anyio.sleep(0.2)
        assert seen == [503, 503, 503, 503]
    assert not await anyio.Path(path).exists()  # removed at shutdown


async def test_client_errors_are_typed(sock_dir: Path) -> None:
    async with served(control_config(sock_dir, {"a": TOOLS})) as s:
        with pytest.raises(NotFoundError):
            await s.client.catalog("nope")
        with pytest.raises(ControlRequestError) as bad:
            await s.client.clear(cache_type="nonsense")
        assert bad.value.status == 400
    assert not isinstance(bad.value, DaemonStoppingError)


async def test_the_socket_answers_while_the_daemon_preloads(sock_dir: Path) -> None:
    config = control_config(sock_dir, {"slow": ["--start-ms", "1500"]})
    first: dict[str, object] = {}

    async def probe() -> None:
        async with ControlClient(config.control.socket) as client:
            while True:
                try:
                    first.update(await client.health())
                    return
                except DaemonUnavailable:
                    await anyio.sleep(0.02)

    async with anyio.create_task_group() as tg:
        tg.start_soon(probe)
        async with served(config):
            pass
    assert first["state"] == "preloading" and first["ready"] is False
    assert first["status"] == "preloading"


def timeless(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Status rows without the one field relative to now."""
    return [{k: v for k, v in row.items() if k != "next_run_in_s"} for row in rows]


async def test_status_text_follows_every_change_of_a_server(sock_dir: Path) -> None:
    async with served(control_config(sock_dir)) as s:
        before = await s.client.status()
        assert timeless(before["servers"]) == timeless((await s.client.status())["servers"])
        for row in before["servers"]:  # hours away (TTL 1 h): relative to the answer's now
            assert 0 < row["next_run_in_s"] <= 3600
        await s.client.discover("a")
        after = {row["server"]: row for row in timeless((await s.client.status())["servers"])}
        old = {row["server"]: row for row in timeless(before["servers"])}
        assert after["a"]["runs"] == old["a"]["runs"] + 1
        assert after["a"]["fetched_at"] >= old["a"]["fetched_at"]
        assert after["b"] == old["b"]
        text = json.loads((await s.client._http.get("/v1/status")).content)
        in_process = await DaemonApi(s.daemon).status()
        assert timeless(text["servers"]) == timeless(in_process["servers"])
        assert text["cache_status"] == in_process["cache_status"]


async def test_a_config_defined_server_that_never_expires_is_answered_with_null_times(
    sock_dir: Path,
) -> None:
    config = control_config(sock_dir, {"a": TOOLS, "c": TOOLS})
    path = write_config(Path(config.path), {"a": TOOLS, "c": TOOLS}, config_defined=["c"])
    config = dataclasses.replace(load_config(path), control=config.control)
    async with served(config) as s:
        rows = {r["server"]: r for r in (await s.client.servers())["servers"]}
        assert rows["c"]["expires_at"] is None and rows["a"]["expires_at"] is not None
        status = {r["server"]: r for r in (await s.client.status())["servers"]}
        assert status["c"]["state"] == "config"
        catalog = (await s.client.catalog("c")).data
        assert catalog is not None and catalog["expires_at"] is None
        assert [t["name"] for t in catalog["tools"]] == ["echo"]
