"""Secure MCP Gateway's enkrypt_mcp_config.json, read as it is, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.config.support import EXAMPLES, load_text, problems

from mcp_discoveryd.cache.compat_enkrypt import compat_enabled
from mcp_discoveryd.config import DaemonConfig, load_config
from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.models import RemoteTarget, StdioTarget, Transport
from mcp_discoveryd.secret import Secret, SecretUrl

SAMPLE = EXAMPLES / "enkrypt_mcp_config.json"
ENGINEERING = "7f3c1a2e-9b4d-4e61-8c0f-2d5a6b7c8e90"
SUPPORT = "c2a4e6f8-1b3d-4f5a-9c7e-0d2f4b6a8c1e"
ENG_PROJECT = "3e8d2c1b-6a5f-4e9d-b7c3-1f0a2e4d6c8b"
SUP_PROJECT = "9d8c7b6a-5f4e-4d3c-a2b1-0f9e8d7c6b5a"
ADA = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
GRACE = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"


def minimal(**common: Any) -> dict[str, Any]:
    """A small valid Enkrypt config: one gateway, one server, one API key."""
    return {
        "admin_apikey": "admin-key-0000000001",
        "common_mcp_gateway_config": common,
        "mcp_configs": {
            "cfg": {
                "mcp_config_name": "default_config",
                "mcp_config": [
                    {
                        "server_name": "echo",
                        "config": {"command": "python", "args": ["e.py"]},
                        "tools": {},
                    }
                ],
            }
        },
        "projects": {"proj": {"mcp_config_id": "cfg", "users": ["user"]}},
        "users": {"user": {"email": "u@example.com"}},
        "apikeys": {"gw-key-000000000001": {"project_id": "proj", "user_id": "user"}},
    }


def load_json(
    tmp_path: Path, doc: dict[str, Any], env: dict[str, str] | None = None
) -> DaemonConfig:
    """Write ``doc`` as enkrypt_mcp_config.json and load it."""
    return load_text(tmp_path, json.dumps(doc), name="enkrypt_mcp_config.json", env=env)


def json_problems(tmp_path: Path, doc: dict[str, Any]) -> dict[str, str]:
    """Every problem of ``doc`` as location -> message."""
    return problems(tmp_path, json.dumps(doc), name="enkrypt_mcp_config.json")


def test_sample_config_becomes_one_gateway_per_mcp_config() -> None:
    """Each mcp_configs entry is a gateway named by its id, with its servers in order."""
    config = load_config(SAMPLE, env={})
    assert config.format == "enkrypt"
    assert [(g.id, g.name) for g in config.gateways] == [
        (ENGINEERING, "engineering"),
        (SUPPORT, "support"),
    ]
    eng, sup = config.gateways
    assert [s.name for s in eng.servers] == ["notes", "github", "calculator"]
    assert [s.name for s in sup.servers] == ["weather", "docs"]


def test_cache_ids_come_from_apikeys_and_projects() -> None:
    """Every API key adds user_project_config to its project's gateway, sorted, no duplicates."""
    eng, sup = load_config(SAMPLE, env={}).gateways
    assert eng.cache_ids == (
        f"{ADA}_{ENG_PROJECT}_{ENGINEERING}",
        f"{GRACE}_{ENG_PROJECT}_{ENGINEERING}",
    )
    assert sup.cache_ids == (f"{GRACE}_{SUP_PROJECT}_{SUPPORT}",)


def test_sample_servers_targets_tools_and_policies() -> None:
    """Stdio, streamable HTTP and SSE servers, explicit tools and deny lists are all read."""
    eng, sup = load_config(SAMPLE, env={}).gateways
    notes, github, calculator = eng.servers
    assert notes.target == StdioTarget(
        command="python3",
        args=("daemon/examples/servers/demo_server.py", "notes"),
        env={"NOTES_API_TOKEN": Secret("notes_FAKE_5e2b9c1d7a3f4e6b")},
    )
    assert notes.tools is None  # {} means discover
    assert notes.tool_policy.denied_tools == ("delete_*", "admin_*")  # string and object forms
    assert github.target == remote_target(
        url="https://api.githubcopilot.com/mcp/",
        transport=Transport.STREAMABLE_HTTP,
        headers={"Authorization": "Bearer ghp_FAKE_4d1c9e7b2a6f8e3d5c0b1a9f7e6d"},
    )
    assert calculator.tools is not None
    assert [t["name"] for t in calculator.tools] == ["add", "multiply"]
    assert calculator.tools[0] == {
        "name": "add",
        "description": "Add two numbers.",
        "inputSchema": {"type": "object", "properties": {}},
    }
    assert calculator.tools[1]["inputSchema"]["required"] == ["a", "b"]
    docs = sup.servers[1]
    assert isinstance(docs.target, RemoteTarget) and docs.target.transport is Transport.SSE
    assert docs.target.headers == {"X-Api-Key": Secret("docs_FAKE_8a7b6c5d4e3f2a1b")}
    assert all(s.timeout == 20.0 for g in (eng, sup) for s in g.servers)  # discovery_timeout


def test_sample_without_external_cache_stays_in_memory_and_compat_off() -> None:
    """enkrypt_mcp_use_external_cache false: memory backend, Enkrypt writer off, TTLs 4 h / 24 h."""
    config = load_config(SAMPLE, env={})
    assert config.cache.backend == "memory" and config.cache.url is None
    assert (config.cache.tool_ttl, config.cache.config_ttl) == (4 * 3600, 24 * 3600)
    assert config.discovery.default_timeout == 20.0
    assert not compat_enabled(config)


def test_external_cache_settings_select_redis_and_the_compat_writer(tmp_path: Path) -> None:
    """External cache on: redis://host:port/db with its password, and the Enkrypt writer on."""
    config = load_json(
        tmp_path,
        minimal(
            enkrypt_mcp_use_external_cache=True,
            enkrypt_cache_host="cache.internal",
            enkrypt_cache_port="6380",  # the gateway reads int(...): strings work there too
            enkrypt_cache_db=3,
            enkrypt_cache_password="redis-pass-0001",
        ),
    )
    assert config.cache.backend == "redis"
    assert config.cache.url == SecretUrl("redis://cache.internal:6380/3")
    assert config.cache.password == Secret("redis-pass-0001")
    assert config.cache.enkrypt_compat is None and compat_enabled(config)


def test_external_cache_defaults_and_ipv6_host(tmp_path: Path) -> None:
    """Host, port and db default to localhost:6379/0; an IPv6 host is bracketed; no password."""
    config = load_json(tmp_path, minimal(enkrypt_mcp_use_external_cache=True))
    assert config.cache.url == SecretUrl("redis://localhost:6379/0")
    assert config.cache.password is None
    config = load_json(
        tmp_path,
        minimal(
            enkrypt_mcp_use_external_cache=True, enkrypt_cache_host="::1", enkrypt_cache_password=""
        ),
    )
    assert config.cache.url == SecretUrl("redis://[::1]:6379/0")
    assert config.cache.password is None


def test_compat_writer_can_be_switched_either_way(tmp_path: Path) -> None:
    """The mcp_discoveryd section turns the Enkrypt writer off (external cache) or on (TOML)."""
    doc = minimal(enkrypt_mcp_use_external_cache=True)
    doc["mcp_discoveryd"] = {"cache": {"enkrypt_compat": False}}
    assert not compat_enabled(load_json(tmp_path, doc))
    toml = (
        '[cache]\nurl = "redis://h"\nenkrypt_compat = true\n[gateways.g.servers.s]\ncommand = "x"\n'
    )
    assert compat_enabled(load_text(tmp_path, toml))
    toml_auto = '[cache]\nurl = "redis://h"\n[gateways.g.servers.s]\ncommand = "x"\n'
    assert not compat_enabled(load_text(tmp_path, toml_auto))


def test_own_section_can_keep_an_external_cache_config_in_memory(tmp_path: Path) -> None:
    """backend = "memory" in the mcp_discoveryd section drops the Enkrypt Redis connection."""
    doc = minimal(enkrypt_mcp_use_external_cache=True, enkrypt_cache_password="pw-0000001")
    doc["mcp_discoveryd"] = {"cache": {"backend": "memory"}}
    config = load_json(tmp_path, doc)
    assert config.cache.backend == "memory"
    assert config.cache.url is None and config.cache.password is None
    assert not compat_enabled(config)


@pytest.mark.parametrize(
    ("common", "tool_ttl", "config_ttl"),
    [
        ({}, 4 * 3600, 24 * 3600),
        (
            {"enkrypt_tool_cache_expiration": 2, "enkrypt_gateway_cache_expiration": 12},
            2 * 3600,
            12 * 3600,
        ),
        (
            {"enkrypt_gateway_cache_expiration": 12, "enkrypt_gateway_cache_expiration_minutes": 5},
            4 * 3600,
            300,
        ),
        (
            {"enkrypt_tool_cache_expiration": 1, "enkrypt_tool_cache_expiration_minutes": 90},
            5400,
            24 * 3600,
        ),
        ({"enkrypt_tool_cache_expiration": 0.5}, 1800, 24 * 3600),
    ],
)
def test_ttls_are_hours_and_minutes_win(
    tmp_path: Path, common: dict[str, Any], tool_ttl: float, config_ttl: float
) -> None:
    """TTLs are hours; a ``_minutes`` key, when present, wins over the hours."""
    cache = load_json(tmp_path, minimal(**common)).cache
    assert (cache.tool_ttl, cache.config_ttl) == (tool_ttl, config_ttl)


def test_short_tool_ttl_lowers_the_hint_floor(tmp_path: Path) -> None:
    """A tool TTL under a minute is honoured: the floor for upstream hints follows it down."""
    cache = load_json(tmp_path, minimal(enkrypt_tool_cache_expiration_minutes=0.5)).cache
    assert cache.tool_ttl == 30 and cache.min_ttl == 30


@pytest.mark.parametrize(
    ("timeouts", "expected"),
    [
        ({"discovery_timeout": 12, "default_timeout": 30}, 12.0),
        ({"default_timeout": 25}, 25.0),
        ({}, 30.0),
    ],
)
def test_discovery_timeout_is_every_servers_deadline(
    tmp_path: Path, timeouts: dict[str, float], expected: float
) -> None:
    """timeout_settings.discovery_timeout (else default_timeout, else 30 s) bounds each server."""
    config = load_json(tmp_path, minimal(timeout_settings=timeouts))
    assert config.discovery.default_timeout == expected
    assert config.gateways[0].servers[0].timeout == expected


def test_own_section_overrides_and_expands_environment(tmp_path: Path) -> None:
    """mcp_discoveryd's sections apply on top of the Enkrypt keys, with ${VAR} expanded there only."""
    doc = minimal(enkrypt_mcp_use_external_cache=True, timeout_settings={"discovery_timeout": 12})
    doc["mcp_discoveryd"] = {
        "discovery": {"timeout": "45s", "max_concurrent_spawns": 2},
        "cache": {"key_secret": "${MCPD_KEY_SECRET}", "tool_ttl": "90m", "key_prefix": "gw"},
        "guardrails": {"tools": {"poisoning": "off"}},
    }
    doc["mcp_configs"]["cfg"]["mcp_config"][0]["config"]["env"] = {"LITERAL": "${NOT_EXPANDED}"}
    config = load_json(tmp_path, doc, env={"MCPD_KEY_SECRET": "k" * 20})
    assert config.discovery.default_timeout == 45.0 and config.discovery.max_concurrent_spawns == 2
    assert config.cache.key_secret == Secret("k" * 20) and config.cache.key_prefix == "gw"
    assert config.cache.tool_ttl == 5400 and config.cache.config_ttl == 24 * 3600
    assert config.cache.backend == "redis"  # untouched keys keep what the Enkrypt keys said
    spec = config.gateways[0].servers[0]
    assert spec.timeout == 45.0 and spec.tool_policy.poisoning == "off"
    assert isinstance(spec.target, StdioTarget)
    assert spec.target.env == {
        "LITERAL": Secret("${NOT_EXPANDED}")
    }  # the Enkrypt part is read as it is


@pytest.mark.parametrize(
    ("switch", "poisoning"),
    [
        ({"enabled": True, "guardrail_name": "G", "block": ["injection_attack"]}, "block"),
        ({"enabled": True, "guardrail_name": "G", "block": []}, "report"),
        ({"enabled": False, "block": ["injection_attack"]}, "off"),
        (None, "off"),
    ],
)
def test_server_tools_guardrail_switch_maps_to_poisoning_policy(
    tmp_path: Path, switch: dict[str, Any] | None, poisoning: str
) -> None:
    """Enabled with a block list blocks, enabled without reports, disabled keeps the daemon's own."""
    doc = minimal()
    doc["mcp_discoveryd"] = {"guardrails": {"tools": {"poisoning": "off"}}}
    if switch is not None:
        doc["mcp_configs"]["cfg"]["common_overrides"] = {"server_tools_guardrails_config": switch}
    spec = load_json(tmp_path, doc).gateways[0].servers[0]
    assert spec.tool_policy.poisoning == poisoning


@pytest.mark.parametrize(
    ("config", "transport"),
    [
        ({"url": "https://h/mcp"}, Transport.STREAMABLE_HTTP),
        ({"url": "https://h/mcp", "transport": "streamable_http"}, Transport.STREAMABLE_HTTP),
        ({"url": "https://h/sse", "transport": "sse"}, Transport.SSE),
        ({"type": "http", "url": "https://h/mcp"}, Transport.STREAMABLE_HTTP),
        ({"type": "sse", "url": "https://h/sse", "headers": {"A": "b"}}, Transport.SSE),
        ({"type": "sse", "transport": "sse", "url": "https://h/sse"}, Transport.SSE),
    ],
)
def test_both_remote_config_shapes(
    tmp_path: Path, config: dict[str, Any], transport: Transport
) -> None:
    """{url, transport, headers} and {type, url, headers} both give a remote target."""
    doc = minimal()
    doc["mcp_configs"]["cfg"]["mcp_config"][0]["config"] = config
    target = load_json(tmp_path, doc).gateways[0].servers[0].target
    assert isinstance(target, RemoteTarget)
    assert (target.url.reveal(), target.transport) == (config["url"], transport)
    assert {k: v.reveal() for k, v in target.headers.items()} == config.get("headers", {})


def test_unused_enkrypt_keys_are_ignored(tmp_path: Path) -> None:
    """Keys the daemon does not use (oauth, sandbox, plugins, _doc...) never fail a load."""
    doc = minimal(enkrypt_log_level="DEBUG", sandbox={"enabled": False})
    server = doc["mcp_configs"]["cfg"]["mcp_config"][0]
    server.update(oauth_config={"enabled": False}, sandbox={}, enable_server_info_validation=False)
    doc["_doc_something"] = "text"
    doc["local_server_overrides"] = {}
    assert load_json(tmp_path, doc).gateways[0].servers[0].name == "echo"


def test_json_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    """A JSON syntax error is reported at its line and column."""
    text = '{\n  "mcp_configs": {\n    "a": 1,\n  }\n}\n'
    found = problems(tmp_path, text, name="enkrypt_mcp_config.json")
    assert found == {
        "line 4, column 3": "JSON syntax error: Expecting property name enclosed in double quotes"
    }


def test_enkrypt_errors_are_all_reported_with_key_paths(tmp_path: Path) -> None:
    """Bad common values, servers, references and duplicates all come back together."""
    doc = minimal(enkrypt_cache_port=70000, enkrypt_tool_cache_expiration="four")
    servers = doc["mcp_configs"]["cfg"]["mcp_config"]
    servers.extend(
        [
            {"server_name": "echo", "config": {"command": "python"}},  # duplicate name
            {"config": {"command": "x"}},  # no server_name
            {"server_name": "both", "config": {"command": "x", "url": "https://h"}},
            {"server_name": "none", "config": {}},
            {"server_name": "ws", "config": {"url": "https://h", "transport": "websocket"}},
            {
                "server_name": "mixed",
                "config": {"url": "https://h", "type": "sse", "transport": "streamable_http"},
            },
            {"server_name": "ftp", "config": {"url": "ftp://h"}},
            {"server_name": "deny", "config": {"command": "x"}, "denied_tools": ["a[", 3]},
        ]
    )
    doc["projects"]["orphan"] = {"mcp_config_id": "missing"}
    doc["apikeys"]["gw-key-000000000002"] = {"project_id": "nope", "user_id": "user"}
    found = json_problems(tmp_path, doc)
    base = "mcp_configs.cfg.mcp_config"
    assert found == {
        "common_mcp_gateway_config.enkrypt_cache_port": "input should be less than or equal to 65535",
        "common_mcp_gateway_config.enkrypt_tool_cache_expiration": "input should be a valid number, unable to parse string as a number",
        "projects.orphan.mcp_config_id": "unknown mcp_config 'missing'",
        "apikeys[1].project_id": "unknown project 'nope'",
        f"{base}[1].server_name": "duplicate server name 'echo' (first at mcp_config[0])",
        f"{base}[2].server_name": "required key is missing",
        f"{base}[3].config": "give either command (stdio) or url (remote), not both",
        f"{base}[4].config": "missing command or url: a server needs command (stdio) or url (remote)",
        f"{base}[5].config.transport": "unknown transport 'websocket': use streamable_http or sse",
        f"{base}[6].config.transport": "transport and type disagree",
        f"{base}[7].config.url": "url must start with http:// or https://",
        f"{base}[8].denied_tools[0]": "bad glob 'a[': '[' without a closing ']'",
        f"{base}[8].denied_tools[1]": 'a denied tool is a glob or {"pattern": "..."}',
    }


def test_duplicate_json_keys_are_reported_and_api_keys_never_named(tmp_path: Path) -> None:
    """A key written twice is an error; under apikeys the place is given without the key."""
    key = "gw-key-duplicated-0001"
    entry = '{"project_id": "proj", "user_id": "user"}'
    text = (
        json.dumps(minimal())
        .replace('"apikeys": {', f'"apikeys": {{"{key}": {entry}, "{key}": {entry}, ')
        .replace('"projects": {', '"projects": {"proj": {"mcp_config_id": "cfg"}, ')
    )
    error_text = "\n".join(
        f"{loc}: {msg}"
        for loc, msg in problems(tmp_path, text, name="enkrypt_mcp_config.json").items()
    )
    assert "apikeys: key written twice (only the last counts)" in error_text
    assert "projects.proj: key written twice (only the last counts)" in error_text
    assert key not in error_text


def test_own_section_is_strict(tmp_path: Path) -> None:
    """Typos in the mcp_discoveryd section are errors, as in the TOML format."""
    doc = minimal()
    doc["mcp_discoveryd"] = {"cahce": {}, "cache": {"tool_ttl": "soon", "url": "http://h"}}
    found = json_problems(tmp_path, doc)
    assert found == {
        "mcp_discoveryd.cahce": "unknown key (did you mean 'cache'?)",
        "mcp_discoveryd.cache.tool_ttl": "bad duration 'soon': write a number and a unit (ms, s, m, h, d), e.g. '90s', '4h' "
        "or '1h30m'",
        "mcp_discoveryd.cache.url": "unsupported scheme 'http': use redis://, rediss:// (TLS) or unix://",
    }


def test_config_without_mcp_configs_is_an_error(tmp_path: Path) -> None:
    """An Enkrypt config with no mcp_configs has nothing to discover."""
    doc = minimal()
    doc["mcp_configs"] = {}
    doc["projects"] = {}
    doc["apikeys"] = {}
    assert json_problems(tmp_path, doc) == {
        "mcp_configs": "no gateways: mcp_configs must be a non-empty object"
    }
    assert problems(tmp_path, "[1, 2]", name="x.json") == {
        "(top level)": "an Enkrypt config is a JSON object"
    }
