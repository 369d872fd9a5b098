"""The MCP tools' JSON views: which gateway serves a server, and server rows without secrets."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_discoveryd.config.settings import DaemonConfig, GatewayConfig
from mcp_discoveryd.control.mcp_views import gateway_of_server, servers_json
from mcp_discoveryd.errors import AmbiguousServerError, UnknownTargetError
from mcp_discoveryd.models import RemoteTarget, ServerSpec, StdioTarget
from mcp_discoveryd.secret import Secret, SecretUrl


def config_of(gateways: dict[str, list[ServerSpec]]) -> DaemonConfig:
    """A config of these gateways and servers."""
    return DaemonConfig(
        path="x.toml",
        format="toml",
        gateways=tuple(GatewayConfig(id=g, servers=tuple(s)) for g, s in gateways.items()),
    )


def stdio(name: str) -> ServerSpec:
    """A stdio server spec of this name."""
    return ServerSpec(name=name, target=StdioTarget(command="srv"))


def test_a_server_name_resolves_to_the_one_gateway_that_has_it() -> None:
    config = config_of({"one": [stdio("a")], "two": [stdio("b"), stdio("shared")]})
    assert gateway_of_server(config, "b", None) == "two"
    assert gateway_of_server(config, "a", "one") == "one"


def test_a_name_in_several_gateways_needs_the_gateway_named() -> None:
    config = config_of({"one": [stdio("shared")], "two": [stdio("shared")]})
    with pytest.raises(AmbiguousServerError, match=r"'shared' is in several gateways \(one, two\)"):
        gateway_of_server(config, "shared", None)
    assert gateway_of_server(config, "shared", "two") == "two"


def test_unknown_servers_and_gateways_name_what_is_known() -> None:
    config = config_of({"one": [stdio("a")], "two": [stdio("b")]})
    with pytest.raises(UnknownTargetError, match=r"unknown server 'b' \(known: a\)"):
        gateway_of_server(config, "b", "one")
    with pytest.raises(UnknownTargetError, match=r"unknown gateway 'three' \(known: one, two\)"):
        gateway_of_server(config, "a", "three")


secrets = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=12, max_size=24)


@given(token=secrets, header=secrets, env=secrets)
def test_server_rows_never_show_how_a_server_is_reached_or_its_secrets(
    token: str, header: str, env: str
) -> None:
    remote = ServerSpec(
        name="remote",
        target=RemoteTarget(
            url=SecretUrl(f"https://api.example.com/mcp?token={token}"),
            headers={"Authorization": Secret(f"Bearer {header}")},
        ),
    )
    local = ServerSpec(
        name="local",
        target=StdioTarget(command="/opt/srv", args=("--flag",), env={"API_KEY": Secret(env)}),
    )
    shown = servers_json(config_of({"g": [remote, local]}), None, [], lambda g, s: None)
    text = json.dumps(shown)
    for secret in (token, header, env, "example.com", "/opt/srv", "--flag"):
        assert secret not in text
    assert [r["transport"] for r in shown["servers"]] == ["streamable-http", "stdio"]
