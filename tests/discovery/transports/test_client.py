"""The shared httpx2 client: real servers, one kept-alive pool, explicit limits, the environment's proxies."""

from __future__ import annotations

import json

import anyio
import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tests.discovery.upstream_support import fetch, tool_names
from tests.servers.forward_proxy import forward_proxy
from tests.servers.http_harness import serve_app
from tests.servers.sdk_servers import HIGH_TOOLS, build_high

from mcp_discoveryd import __version__
from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.discovery.transports import client as shared_client
from mcp_discoveryd.discovery.transports.client import (
    Endpoint,
    HttpWatch,
    SharedClient,
    url_credentials,
)
from mcp_discoveryd.models import ServerSpec, Transport

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment naming no proxy (the test sets what it needs)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


class _Held:
    """Counts the requests in flight at once; each waits until ``release`` is set."""

    def __init__(self) -> None:
        self.now = self.peak = 0
        self.release = anyio.Event()
        self.one_in = anyio.Event()
        self.two_in = anyio.Event()

    async def hold(self, request: Request) -> JSONResponse:
        self.now += 1
        self.peak = max(self.peak, self.now)
        self.one_in.set()
        if self.now >= 2:
            self.two_in.set()
        await self.release.wait()
        self.now -= 1
        return JSONResponse({})


def echo_app(held: _Held | None = None) -> Starlette:
    """Echoes the client's port and headers; /cookie sets a cookie; /hold waits for ``held``."""

    async def echo(request: Request) -> JSONResponse:
        assert request.client is not None
        headers = request.headers
        return JSONResponse(
            {
                "port": request.client.port,
                "agent": headers.get("user-agent"),
                "team": headers.get("x-team"),
                "extra": headers.get("x-extra"),
                "cookie": headers.get("cookie"),
                "authorization": headers.get("authorization"),
                "accept": headers.getlist("accept"),
            }
        )

    async def cookie(request: Request) -> JSONResponse:
        response = JSONResponse({})
        response.set_cookie("session", "from-server-a")
        return response

    routes = [Route("/echo", echo, methods=["GET", "POST"]), Route("/cookie", cookie)]
    if held is not None:
        routes.append(Route("/hold", held.hold))
    return Starlette(routes=routes)


async def _post(shared: SharedClient, url: str, **headers: str) -> dict[str, object]:
    endpoint = Endpoint(shared, remote_target(url, headers=headers), HttpWatch(), 5)
    async with endpoint, endpoint.stream("POST", {}, b"{}") as response:
        echoed: dict[str, object] = json.loads(await response.aread())
    return echoed


async def test_an_endpoint_sends_the_servers_headers_and_names_the_daemon() -> None:
    """Configured headers, per-request headers and mcp-discoveryd's user agent arrive."""
    shared = SharedClient(1024)
    try:
        async with serve_app(echo_app()) as base:
            target = remote_target(f"{base}/echo", headers={"x-team": "blue"})
            endpoint = Endpoint(shared, target, HttpWatch(), 5)
            async with endpoint, endpoint.stream("POST", {"x-extra": "1"}, b"{}") as response:
                echoed = json.loads(await response.aread())
    finally:
        await shared.aclose()
    assert echoed["agent"] == f"mcp-discoveryd/{__version__}"
    assert echoed["team"] == "blue" and echoed["extra"] == "1"


async def test_credentials_in_the_url_arrive_as_basic_auth_and_a_header_wins(
    no_proxies: pytest.MonkeyPatch,
) -> None:
    """Sent past httpx2's client, a URL's user and password still reach the server as Basic auth;
    a configured header of the same name (any case) is sent instead, once."""
    shared = SharedClient(1024)
    try:
        async with serve_app(echo_app()) as base:
            with_user = base.replace("http://", "http://ann:s%40cret@")
            echoed = await _post(shared, f"{with_user}/echo")
            configured = await _post(shared, f"{with_user}/echo", Authorization="Bearer t")
            plain = await _post(shared, f"{base}/echo", Accept="text/plain")
    finally:
        await shared.aclose()
    assert echoed["authorization"] == "Basic YW5uOnNAY3JldA=="  # ann:s@cret
    assert configured["authorization"] == "Bearer t"
    assert plain["authorization"] is None and plain["accept"] == ["text/plain"]


@given(
    user=st.text(st.characters(codec="utf-8"), max_size=12),
    password=st.text(st.characters(codec="utf-8"), max_size=12),
)
def test_url_credentials_match_what_httpx2s_client_sends(user: str, password: str) -> None:
    """Any user and password, percent-encoded in the URL: the header httpx2's BasicAuth makes."""
    url = httpx2.URL("http://h/mcp").copy_with(username=user, password=password)
    expected = {}
    if url.username or url.password:
        flow = httpx2.BasicAuth(url.username, url.password).sync_auth_flow(
            httpx2.Request("GET", url)
        )
        expected = {"authorization": next(flow).headers["authorization"]}
    assert url_credentials(url) == expected


async def test_sessions_of_one_upstream_reuse_one_kept_alive_connection(
    no_proxies: pytest.MonkeyPatch,
) -> None:
    """One server twice, one after the other: the second request rides the first's socket."""
    shared = SharedClient(1024)
    try:
        async with serve_app(echo_app()) as base:
            first = await _post(shared, f"{base}/echo?upstream=1")
            second = await _post(shared, f"{base}/echo?upstream=1")
    finally:
        await shared.aclose()
    assert first["port"] == second["port"]


async def test_one_pool_serves_every_server_of_an_origin_from_one_socket(
    no_proxies: pytest.MonkeyPatch,
) -> None:
    """Unsharded, two servers on one host share the kept-alive connection too."""
    shared = SharedClient(1024, shards=1)
    try:
        async with serve_app(echo_app()) as base:
            first = await _post(shared, f"{base}/echo?upstream=1")
            second = await _post(shared, f"{base}/echo?upstream=2")
    finally:
        await shared.aclose()
    assert first["port"] == second["port"]


async def test_no_server_sees_another_servers_cookies(no_proxies: pytest.MonkeyPatch) -> None:
    """One client for every upstream must not be one cookie jar for every upstream."""
    shared = SharedClient(1024)
    try:
        async with serve_app(echo_app()) as base:
            endpoint = Endpoint(shared, remote_target(f"{base}/cookie"), HttpWatch(), 5)
            async with endpoint, endpoint.stream("GET", {}) as response:
                await response.aread()
                assert "set-cookie" in response.headers
            echoed = await _post(shared, f"{base}/echo")
    finally:
        await shared.aclose()
    assert echoed["cookie"] is None


async def _peak_while_held(
    shared: SharedClient, held: _Held, count: int, arrived: anyio.Event, ticks: int
) -> int:
    """Start ``count`` requests that ``held`` holds; once ``arrived`` is set and ``ticks`` more
    10 ms have passed (every chance for more to arrive, were they let through), the peak in
    flight; then release them all and close ``shared``."""
    try:
        async with serve_app(echo_app(held)) as base, anyio.create_task_group() as tg:
            for i in range(count):
                endpoint = Endpoint(shared, remote_target(f"{base}/hold?n={i}"), HttpWatch(), 5)

                async def one(endpoint: Endpoint = endpoint) -> None:
                    async with endpoint, endpoint.stream("GET", {}) as response:
                        await response.aread()

                tg.start_soon(one)
            with anyio.fail_after(10):
                await arrived.wait()
            for _ in range(ticks):
                await anyio.sleep(0.01)
            peak = held.peak
            held.release.set()
    finally:
        await shared.aclose()
    return peak


async def test_open_connections_stay_within_the_total_limit(
    no_proxies: pytest.MonkeyPatch,
) -> None:
    """With a limit of two connections, four requests at once reach the server two at a time."""
    held = _Held()
    shared = SharedClient(1024, limits=httpx2.Limits(max_connections=2), shards=1)
    assert await _peak_while_held(shared, held, 4, held.two_in, ticks=20) == 2
    assert held.peak == 2


async def test_sharded_pools_together_stay_within_the_total_limit(
    no_proxies: pytest.MonkeyPatch,
) -> None:
    """Twelve servers at once over sixteen shards of a three-connection cap: three at most."""
    held = _Held()
    shared = SharedClient(1024, limits=httpx2.Limits(max_connections=3), shards=16)
    assert 1 <= await _peak_while_held(shared, held, 12, held.one_in, ticks=30) <= 3
    assert held.peak <= 3


@given(
    total=st.one_of(st.none(), st.integers(1, 2000)),
    idle=st.one_of(st.none(), st.integers(0, 2000)),
    shards=st.integers(1, 64),
)
def test_split_limits_keep_the_totals_and_give_every_pool_a_connection(
    total: int | None, idle: int | None, shards: int
) -> None:
    """The shards' caps add up to the configured caps, evenly, and no pool is left without one."""
    limits = httpx2.Limits(
        max_connections=total, max_keepalive_connections=idle, keepalive_expiry=3.0
    )
    parts = shared_client.split_limits(limits, shards)
    assert 1 <= len(parts) <= shards
    caps = [part.max_connections for part in parts]
    idles = [part.max_keepalive_connections for part in parts]
    if total is None:
        assert len(parts) == shards and set(caps) == {None}
    else:
        ints = [cap for cap in caps if cap is not None]
        assert sum(ints) == total and min(ints) >= 1 and max(ints) - min(ints) <= 1
    if idle is None:
        assert set(idles) == {None}
    else:
        counts = [count for count in idles if count is not None]
        assert sum(counts) == idle and max(counts) - min(counts) <= 1
    assert {part.keepalive_expiry for part in parts} == {3.0}


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
async def test_a_proxy_named_in_the_environment_carries_the_session(
    no_proxies: pytest.MonkeyPatch, variable: str
) -> None:
    """With a proxy in the environment the whole session goes through it, and still works."""
    async with (
        forward_proxy() as (proxy, seen),
        serve_app(build_high().streamable_http_app()) as base,
    ):
        no_proxies.setenv(variable, proxy)
        spec = ServerSpec(name="far", target=remote_target(f"{base}/mcp"), timeout=10)
        result, _ = await fetch(spec)
    assert tool_names(result) == list(HIGH_TOOLS)
    assert f"POST {base}/mcp HTTP/1.1" in seen, seen


async def test_an_sse_session_takes_the_same_proxy_path(no_proxies: pytest.MonkeyPatch) -> None:
    """The SDK's SSE transport sends through the shared client: the proxy sees its GET."""
    async with forward_proxy() as (proxy, seen), serve_app(build_high().sse_app()) as base:
        no_proxies.setenv("HTTP_PROXY", proxy)
        target = remote_target(f"{base}/sse", Transport.SSE)
        result, _ = await fetch(ServerSpec(name="far", target=target, timeout=10))
    assert tool_names(result) == list(HIGH_TOOLS)
    assert f"GET {base}/sse HTTP/1.1" in seen, seen


async def test_every_shard_takes_the_environments_proxy(no_proxies: pytest.MonkeyPatch) -> None:
    """Twelve servers over four shards: the proxy carries every one of their requests."""
    async with forward_proxy() as (proxy, seen), serve_app(echo_app()) as base:
        no_proxies.setenv("HTTP_PROXY", proxy)
        shared = SharedClient(1024, shards=4)
        try:
            for i in range(12):
                await _post(shared, f"{base}/echo?upstream={i}")
        finally:
            await shared.aclose()
    assert sorted(seen) == sorted(f"POST {base}/echo?upstream={i} HTTP/1.1" for i in range(12))


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*"])
async def test_no_proxy_sends_those_hosts_direct(
    no_proxies: pytest.MonkeyPatch, no_proxy: str
) -> None:
    """A host listed in NO_PROXY is reached directly: the proxy sees nothing."""
    async with (
        forward_proxy() as (proxy, seen),
        serve_app(build_high().streamable_http_app()) as base,
    ):
        no_proxies.setenv("HTTP_PROXY", proxy)
        no_proxies.setenv("NO_PROXY", no_proxy)
        spec = ServerSpec(name="near", target=remote_target(f"{base}/mcp"), timeout=10)
        result, _ = await fetch(spec)
    assert tool_names(result) == list(HIGH_TOOLS)
    assert seen == []


async def test_a_server_addressed_by_name_is_reached(no_proxies: pytest.MonkeyPatch) -> None:
    """Host names are resolved (the fast path for IP addresses is httpx2's business now)."""
    shared = SharedClient(1024)
    try:
        async with serve_app(echo_app()) as base:
            echoed = await _post(shared, base.replace("127.0.0.1", "localhost") + "/echo")
    finally:
        await shared.aclose()
    assert "port" in echoed
