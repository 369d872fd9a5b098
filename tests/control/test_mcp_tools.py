"""The MCP tools at /mcp: a real daemon on real stdio servers, uvicorn on a Unix socket,
an ``mcp.Client`` over streamable HTTP through it, in both protocol eras."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast, get_args

import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from pydantic import ValidationError
from tests.actors.support import spawns, write_config
from tests.auth.authserver import AuthServer
from tests.auth.support import serving
from tests.auth.test_enkrypt_end_to_end import enkrypt_config
from tests.control.mcp_support import ADMIN, READER, mcp_client, raw_call, served_daemon

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.auth.clearing import TOKEN_TYPES
from mcp_discoveryd.cache.status import ALL_ALIASES, CONFIG_ALIASES, TOOLS_ALIASES
from mcp_discoveryd.control.mcp_tooldefs import READ, TOOLS, CacheTypeName, ListServersArgs, ToolDef
from mcp_discoveryd.control.mcp_tools import MAX_BODY, build_server, invalid_arguments
from mcp_discoveryd.models import CacheType

pytestmark = pytest.mark.slow

ERAS = ["legacy", "auto"]  # auto negotiates 2026-07-28 with this SDK's server


def annotations_of(tool: Any) -> dict[str, Any]:
    """A listed tool's annotations as the wire shows them."""
    return dict(tool.annotations.model_dump(by_alias=True, exclude_none=True))


READ_ONLY = {
    "readOnlyHint": True,
    "destructiveHint": False,
    "idempotentHint": True,
    "openWorldHint": False,
}


@pytest.mark.parametrize("mode", ERAS)
async def test_tools_are_listed_with_the_reference_annotations_and_closed_schemas(
    tmp_path: Path, mode: str
) -> None:
    async with (
        served_daemon(tmp_path, {"reader": READER}) as served,
        mcp_client(served.sockets["reader"], mode=mode) as client,
    ):
        listed = {t.name: t for t in (await client.list_tools()).tools}
    assert sorted(listed) == sorted(
        ["get_cache_status", "clear_cache", "discover_tools", "list_servers", "get_catalog"]
    )
    assert annotations_of(listed["clear_cache"]) == {
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": False,
        "openWorldHint": True,
    }
    for name in ("get_cache_status", "discover_tools", "list_servers", "get_catalog"):
        assert annotations_of(listed[name]) == READ_ONLY, name
    for tool in listed.values():
        assert tool.input_schema["additionalProperties"] is False, tool.name
        assert tool.output_schema == {"type": "object"}
    assert listed["get_catalog"].input_schema["required"] == ["server_name"]
    cache_type = listed["clear_cache"].input_schema["properties"]["cache_type"]
    cache_aliases = ALL_ALIASES | CONFIG_ALIASES | TOOLS_ALIASES
    assert set(cache_type["anyOf"][0]["enum"]) == cache_aliases | TOKEN_TYPES


@pytest.mark.parametrize("mode", ERAS)
async def test_each_tool_answers_with_structured_json(tmp_path: Path, mode: str) -> None:
    async with (
        served_daemon(tmp_path, {"admin": ADMIN}) as served,
        mcp_client(served.sockets["admin"], mode=mode) as client,
    ):
        status = await client.call_tool("get_cache_status", {"gateway": "g"})
        assert not status.is_error and status.structured_content is not None
        assert status.structured_content["daemon"]["state"] == "ready"
        assert status.structured_content["cache_status"]["gateway_specific"]["tools"]
        assert json.loads(status.content[0].text) == status.structured_content  # type: ignore[union-attr]

        servers = (await client.call_tool("list_servers", {})).structured_content
        assert servers is not None
        rows = {r["server_name"]: r for r in servers["servers"]}
        assert rows["a"]["tool_count"] == 3 and rows["b"]["tool_count"] == 5
        assert rows["c"]["source"] == "config" and rows["c"]["tool_count"] == 1
        assert rows["a"]["transport"] == "stdio" and rows["a"]["entry"] == "fresh"
        assert "command" not in json.dumps(servers)  # how a server is run is never shown

        catalog = (await client.call_tool("get_catalog", {"server_name": "b"})).structured_content
        assert catalog is not None and catalog["freshness"] == "fresh"
        assert [t["name"] for t in catalog["tools"]] == [f"tool_{i}" for i in range(5)]
        configured = await client.call_tool("get_catalog", {"server_name": "c", "gateway": "g"})
        assert configured.structured_content is not None
        assert configured.structured_content["expires_at"] is None  # never expires

        before = spawns(served.config_path, "a")
        found = await client.call_tool("discover_tools", {"server_name": "a"})
        assert found.structured_content is not None
        assert found.structured_content["status"] == "success"
        assert found.structured_content["server_name"] == "a"
        assert len(found.structured_content["tools"]) == 3
        assert spawns(served.config_path, "a") == before + 1  # refresh: asked the upstream

        everything = (
            await client.call_tool("discover_tools", {"refresh": False})
        ).structured_content
        assert everything is not None
        assert sorted(everything["discovery_success_servers"]) == ["a", "b", "c"]

        cleared = await client.call_tool("clear_cache", {"server_name": "b", "cache_type": "tools"})
        assert cleared.structured_content == {
            "status": "success",
            "message": "Cache cleared for server: b",
        }


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("peer", ["reader", "unknown"])
async def test_a_peer_that_may_not_change_is_refused_clear_and_discover_while_reads_work(
    tmp_path: Path, mode: str, peer: str
) -> None:
    async with (
        served_daemon(tmp_path, {"reader": READER, "unknown": None}) as served,
        mcp_client(served.sockets[peer], mode=mode) as client,
    ):
        entry = served.daemon.cache.lookup(CacheType.TOOLS, "g", "a")
        spawned = spawns(served.config_path, "a")
        for name, args in [("clear_cache", {}), ("discover_tools", {"server_name": "a"})]:
            result = await client.call_tool(name, args)
            assert result.is_error, name
            text = result.content[0].text  # type: ignore[union-attr]
            assert text.startswith(f"{name} refused:")
            assert ("uid 4242" if peer == "reader" else "peer is unknown") in text
        assert served.daemon.cache.lookup(CacheType.TOOLS, "g", "a") is entry  # not cleared
        assert spawns(served.config_path, "a") == spawned  # not discovered
        for name, args in [
            ("get_cache_status", {}),
            ("list_servers", {}),
            ("get_catalog", {"server_name": "a"}),
        ]:
            assert not (await client.call_tool(name, args)).is_error, name


async def test_bad_arguments_and_unknown_names_get_a_tool_error_naming_the_problem(
    tmp_path: Path,
) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("get_catalog", {}, "server_name: Field required"),
        ("get_catalog", {"server_name": 7}, "server_name: Input should be a valid string"),
        ("get_catalog", {"server_name": "a", "verbose": True}, "verbose: Extra inputs"),
        ("discover_tools", {"refresh": "yes"}, "refresh: Input should be a valid boolean"),
        ("clear_cache", {"cache_type": "everything"}, "cache_type: Input should be 'all'"),
        ("clear_cache", {"forget_logins": "yes"}, "forget_logins: Input should be a valid boolean"),
        ("clear_cache", {"forget_logins": True}, "forget_logins applies to cache_type tokens only"),
        ("list_servers", {"gateway": ["g"]}, "gateway: Input should be a valid string"),
        ("get_catalog", {"server_name": "zzz"}, "unknown server 'zzz' (known: a, b, c)"),
        ("list_servers", {"gateway": "nope"}, "unknown gateway 'nope' (known: g)"),
        ("get_cache_status", {"gateway": "nope"}, "unknown gateway 'nope' (known: g)"),
        ("clear_cache", {"server_name": "zzz"}, "unknown server 'zzz'"),
        ("discover_tools", {"server_name": "zzz"}, "unknown server 'zzz'"),
    ]
    async with (
        served_daemon(tmp_path, {"admin": ADMIN}) as served,
        mcp_client(served.sockets["admin"]) as client,
    ):
        for tool, args, expected in cases:
            result = await client.call_tool(tool, args)
            assert result.is_error, (tool, args)
            text = result.content[0].text  # type: ignore[union-attr]
            assert expected in text, (tool, args, text)
        with pytest.raises(MCPError, match="unknown tool 'drop_everything'"):
            await client.call_tool("drop_everything", {})
        assert served.daemon.cache.lookup(CacheType.TOOLS, "g", "a") is not None


async def test_clear_cache_drops_oauth_tokens_and_passes_forget_logins_to_the_token_cache(
    tmp_path: Path,
) -> None:
    """As the socket's clear: cache_type tokens, and forget_logins passed through to the cache."""
    async with serving(AuthServer(expires_in=3600), ["weather"]) as (base, _):
        path = enkrypt_config(tmp_path / "enkrypt_mcp_config.json", base)
        async with (
            served_daemon(tmp_path, {"admin": ADMIN}, config=path) as served,
            mcp_client(served.sockets["admin"]) as client,
        ):
            gateway = served.daemon.config.gateways[0].id
            for forget in (False, True):
                args = {"cache_type": "tokens", "forget_logins": forget}
                result = await client.call_tool("clear_cache", args)
                assert not result.is_error, result.content
                reply = result.structured_content
                assert reply is not None and reply["status"] == "success"
                assert reply["servers"] == [f"{gateway}/weather"]
                assert reply["forget_logins"] is forget


async def test_a_server_with_no_catalog_gets_a_tool_error_that_says_how_to_get_one(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path / "d.toml", {"a": [], "down": ["--exit-code", "3"]})
    async with (
        served_daemon(tmp_path, {"reader": READER}, config=path) as served,
        mcp_client(served.sockets["reader"]) as client,
    ):
        result = await client.call_tool("get_catalog", {"server_name": "down"})
        assert result.is_error
        assert "no catalog cached for g/down" in result.content[0].text  # type: ignore[union-attr]
        servers = (await client.call_tool("list_servers", {})).structured_content
        assert servers is not None
        down = next(r for r in servers["servers"] if r["server_name"] == "down")
        assert down["entry"] == "none" and down["last_error"] is not None


async def test_paths_under_mcp_other_than_mcp_itself_are_not_found(tmp_path: Path) -> None:
    async with served_daemon(tmp_path, {"reader": READER}) as served:
        transport = httpx2.AsyncHTTPTransport(uds=served.sockets["reader"])
        async with httpx2.AsyncClient(transport=transport) as http:
            reply = await http.post("http://daemon/mcp/other", json={})
    assert reply.status_code == 404
    assert reply.json() == {"error": "no MCP endpoint at /mcp/other"}


def test_the_cache_type_names_in_the_schema_are_those_clear_accepts() -> None:
    cache_aliases = ALL_ALIASES | CONFIG_ALIASES | TOOLS_ALIASES
    assert set(get_args(CacheTypeName)) == cache_aliases | TOKEN_TYPES


_FIELDS = {t.name: t.args.model_fields for t in TOOLS}


@st.composite
def bad_arguments(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    """(tool, arguments, the field at fault): an unknown field, or a known one mistyped."""
    tool = draw(st.sampled_from(sorted(_FIELDS)))
    fields = _FIELDS[tool]
    if not fields or draw(st.booleans()):
        name = draw(st.text(min_size=1, max_size=12).filter(lambda n: n not in fields))
        return tool, {name: draw(st.integers())}, name
    name = draw(st.sampled_from(sorted(fields)))
    is_bool = fields[name].annotation is bool
    wrong = st.one_of(st.integers(), st.floats(allow_nan=False), st.lists(st.integers()))
    value = draw(
        st.text()
        if is_bool
        else st.one_of(wrong, st.booleans(), st.dictionaries(st.text(), st.integers()))
    )
    return tool, {name: value}, name


@given(bad_arguments())
def test_any_unknown_field_or_wrong_type_is_refused_naming_the_field(
    case: tuple[str, dict[str, Any], str],
) -> None:
    tool, args, field = case
    model = next(t.args for t in TOOLS if t.name == tool)
    with pytest.raises(ValidationError) as caught:
        model.model_validate(args)
    message = invalid_arguments(tool, caught.value)
    assert message.startswith(f"invalid arguments for {tool}: ")
    assert f"{field}: " in message


async def test_an_oversized_request_is_refused_before_it_is_read(tmp_path: Path) -> None:
    async with served_daemon(tmp_path, {"reader": READER}) as served:
        transport = httpx2.AsyncHTTPTransport(uds=served.sockets["reader"])
        async with httpx2.AsyncClient(transport=transport) as http:
            big = await raw_call(http, "get_catalog", {"server_name": "a" * (MAX_BODY + 1)})
            small = await raw_call(http, "get_catalog", {"server_name": "a"})
    assert big.status_code == 413
    assert small.status_code == 200 and small.json()["result"]["structuredContent"]["tools"]


async def test_a_client_that_abandons_a_discovery_leaves_the_daemon_serving(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path / "d.toml", {"slow": ["--slow-ms", "400"]})
    async with (
        served_daemon(tmp_path, {"admin": ADMIN}, config=path) as served,
        mcp_client(served.sockets["admin"]) as client,
    ):
        before = spawns(path, "slow")
        transport = httpx2.AsyncHTTPTransport(uds=served.sockets["admin"])
        async with httpx2.AsyncClient(transport=transport, timeout=0.3) as http:
            with pytest.raises(httpx2.ReadTimeout):  # gone before the answer
                await raw_call(http, "discover_tools", {"server_name": "slow"})
        catalog = await client.call_tool("get_catalog", {"server_name": "slow"})
        assert not catalog.is_error  # the old entry is served meanwhile
        again = await client.call_tool("discover_tools", {"server_name": "slow"})
        assert again.structured_content is not None
        assert again.structured_content["status"] == "success"
        assert spawns(path, "slow") > before
        assert served.daemon.phase == "ready"


async def test_a_non_finite_number_is_null_in_both_the_text_and_the_structured_content() -> None:
    async def odd(api: DaemonApi, args: ListServersArgs) -> dict[str, Any]:
        return {"expires_in_hours": float("inf"), "name": "é"}

    tool = ToolDef("odd", "Odd", "Answers a non-finite number.", ListServersArgs, READ, False, odd)
    server = build_server(cast(DaemonApi, None), [tool])
    async with Client(server, mode="legacy") as client:
        result = await client.call_tool("odd", {})
    assert result.structured_content == {"expires_in_hours": None, "name": "é"}
    assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
any_arguments = st.dictionaries(
    st.sampled_from(["gateway", "server_name", "cache_type", "refresh"]) | st.text(max_size=8),
    json_values,
    max_size=4,
)


@pytest.fixture(scope="module")
def portal_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BlockingPortal, str]]:
    """A daemon (one server, TTL 1 h: no refresh mid-test) served from an event loop in a
    thread, for property tests that call it from synchronous code: (portal, socket)."""
    tmp = tmp_path_factory.mktemp("d")
    path = write_config(tmp / "d.toml", {"a": []}, cache='tool_ttl = "1h"\nstale_grace = "1h"')
    with start_blocking_portal() as portal:
        served = served_daemon(tmp, {"admin": ADMIN}, config=path)
        with portal.wrap_async_context_manager(served) as running:
            yield portal, running.sockets["admin"]


@settings(max_examples=60, deadline=None)
@given(tool=st.sampled_from([t.name for t in TOOLS]), arguments=any_arguments)
def test_any_arguments_get_an_answer_or_a_tool_error_never_an_internal_error(
    portal_daemon: tuple[BlockingPortal, str], tool: str, arguments: dict[str, Any]
) -> None:
    portal, path = portal_daemon

    async def call() -> httpx2.Response:
        async with httpx2.AsyncClient(transport=httpx2.AsyncHTTPTransport(uds=path)) as http:
            return await raw_call(http, tool, arguments)

    reply = portal.call(call)
    assert reply.status_code == 200
    body = reply.json()
    assert "result" in body, body  # a JSON-RPC error would mean the call itself failed
    result = body["result"]
    assert isinstance(result["structuredContent"], dict)
    if result.get("isError"):
        assert result["content"][0]["text"], result
