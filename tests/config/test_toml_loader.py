"""The TOML format read into the typed config: every key lands where the daemon reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.config.support import EXAMPLES, load_text

from mcp_discoveryd.cache.compat_enkrypt import compat_enabled
from mcp_discoveryd.config import load_config
from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.models import RemoteTarget, StdioTarget, Transport
from mcp_discoveryd.secret import Secret, SecretUrl

FULL = """
[discovery]
max_concurrent_spawns = 3
timeout = "45s"
page_cap = 20
max_reply_bytes = "4MiB"
mode = "auto"

[cache]
url = "rediss://cache.internal:6380/2"
password = "${REDIS_PASSWORD}"
key_prefix = "mcpd-prod"
key_secret = "${MCPD_KEY_SECRET}"
tool_ttl = "2h"
config_ttl = "1d"
stale_grace = "30m"
min_ttl = "90s"
max_entries = 500
max_bytes = "64MiB"
enkrypt_compat = true

[guardrails.servers]
denied_commands = ["curl", "wget"]
allow_plain_http = true

[guardrails.tools]
denied_tools = ["delete_*"]
allowed_tools = ["*"]
poisoning = "report"

[gateways.prod]
name = "Production"
cache_ids = ["u1_p1_prod", "u2_p1_prod", "u1_p1_prod"]

[gateways.prod.servers.github]
description = "GitHub"
url = "https://api.githubcopilot.com/mcp/"
headers = { Authorization = "Bearer ${GITHUB_TOKEN}" }
timeout = "1m30s"
denied_tools = ["*_repo", "delete_*"]
allowed_tools = ["get_*", "list_*", "*_repo"]

[gateways.prod.servers.github.guardrails.tools]
block_destructive = true
poisoning = "block"

[gateways.prod.servers.github.guardrails.servers]
allow_plain_http = false

[gateways.prod.servers.docs]
url = "https://docs.example.com/sse"
transport = "sse"

[gateways.prod.servers.files]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "./data"]
env = { LOG_LEVEL = "${LOG_LEVEL:-info}", HOME = "${HOME}" }
cwd = "servers/files"
"""

ENV = {
    "REDIS_PASSWORD": "redis-pw-0001",
    "MCPD_KEY_SECRET": "0123456789abcdef0123",
    "GITHUB_TOKEN": "ghp_test_token_0001",
    "HOME": "/home/mcpd",
}


def test_full_config_lands_in_the_typed_model(tmp_path: Path) -> None:
    """Discovery, cache and per-server values are typed, converted and defaulted as documented."""
    config = load_text(tmp_path, FULL, env=ENV)
    assert config.format == "toml" and config.path == str(tmp_path / "mcpd.toml")
    d = config.discovery
    assert (d.max_concurrent_spawns, d.default_timeout, d.page_cap) == (3, 45.0, 20)
    assert (d.max_reply_bytes, d.mode) == (4 * 1024 * 1024, "auto")
    c = config.cache
    assert c.backend == "redis"  # a url without a backend means redis
    assert c.url == SecretUrl("rediss://cache.internal:6380/2")
    assert c.password == Secret("redis-pw-0001")
    assert (c.key_prefix, c.key_secret) == ("mcpd-prod", Secret("0123456789abcdef0123"))
    assert (c.tool_ttl, c.config_ttl, c.stale_grace, c.min_ttl) == (7200, 86400, 1800, 90)
    assert (c.max_entries, c.max_bytes, c.enkrypt_compat) == (500, 64 * 1024 * 1024, True)
    assert compat_enabled(config)
    (gateway,) = config.gateways
    assert (gateway.id, gateway.name) == ("prod", "Production")
    assert gateway.cache_ids == ("u1_p1_prod", "u2_p1_prod")  # duplicates dropped, order kept
    assert [s.name for s in gateway.servers] == ["github", "docs", "files"]


def test_remote_servers_get_url_transport_headers_and_own_timeout(tmp_path: Path) -> None:
    """Remote servers default to streamable HTTP; headers are expanded; timeouts are per server."""
    gateway = load_text(tmp_path, FULL, env=ENV).gateways[0]
    github, docs = gateway.server("github"), gateway.server("docs")
    assert github is not None and docs is not None
    assert github.target == remote_target(
        url="https://api.githubcopilot.com/mcp/",
        transport=Transport.STREAMABLE_HTTP,
        headers={"Authorization": "Bearer ghp_test_token_0001"},
    )
    assert github.timeout == 90.0 and github.description == "GitHub"
    assert isinstance(docs.target, RemoteTarget) and docs.target.transport is Transport.SSE
    assert docs.timeout == 45.0  # [discovery] timeout is the default


def test_stdio_server_cwd_is_resolved_against_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative cwd is taken from the config file's directory; args stay as written."""
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    monkeypatch.chdir("/")
    files = load_text(config_dir, FULL, env=ENV).gateways[0].server("files")
    assert files is not None and isinstance(files.target, StdioTarget)
    assert files.target.cwd == str(config_dir / "servers" / "files")
    assert files.target.args == ("-y", "@modelcontextprotocol/server-filesystem", "./data")
    assert files.target.env == {
        "LOG_LEVEL": Secret("info"),
        "HOME": Secret("/home/mcpd"),
    }  # default used


def test_absolute_cwd_is_kept(tmp_path: Path) -> None:
    """An absolute cwd is used as written (normalized)."""
    text = '[gateways.g.servers.s]\ncommand = "x"\ncwd = "/srv/mcp/../mcp/s"\n'
    spec = load_text(tmp_path, text).gateways[0].servers[0]
    assert isinstance(spec.target, StdioTarget) and spec.target.cwd == "/srv/mcp/s"


def test_guardrail_defaults_and_per_server_overrides(tmp_path: Path) -> None:
    """Global guardrails apply to every server; a server's own keys replace them one by one."""
    gateway = load_text(tmp_path, FULL, env=ENV).gateways[0]
    github, files = gateway.server("github"), gateway.server("files")
    assert github is not None and files is not None
    # files inherits the global policies untouched.
    assert files.server_policy.denied_commands == ("curl", "wget")
    assert files.server_policy.allow_plain_http is True
    assert files.tool_policy.denied_tools == ("delete_*",)
    assert files.tool_policy.allowed_tools == ("*",)
    assert files.tool_policy.poisoning == "report"
    # github: deny list adds to the global one, allow list replaces it, overrides replace.
    assert github.tool_policy.denied_tools == ("delete_*", "*_repo")
    assert github.tool_policy.allowed_tools == ("get_*", "list_*", "*_repo")
    assert github.tool_policy.block_destructive is True
    assert github.tool_policy.poisoning == "block"
    assert github.server_policy.allow_plain_http is False
    assert github.server_policy.denied_commands == ("curl", "wget")


def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    """One server and nothing else: memory cache, 4 h / 24 h TTLs, 30 s timeout, auto compat off."""
    config = load_text(tmp_path, '[gateways.g.servers.s]\ncommand = "srv"\n')
    assert config.cache.backend == "memory" and config.cache.key_prefix == "mcpd"
    assert (config.cache.tool_ttl, config.cache.config_ttl) == (4 * 3600, 24 * 3600)
    assert config.cache.enkrypt_compat is None and not compat_enabled(config)
    spec = config.gateways[0].servers[0]
    assert spec.timeout == 30.0 and spec.tools is None and not spec.is_config_defined
    assert spec.target == StdioTarget(command="srv")
    assert config.gateways[0].effective_cache_ids == ("g",)


def test_explicit_tools_as_table_and_as_array_become_wire_shaped(tmp_path: Path) -> None:
    """Name -> description, name -> definition and [[tools]] all give MCP tool objects."""
    text = """
[gateways.g.servers.table]
command = "x"
[gateways.g.servers.table.tools]
add = "Add two numbers."
mul = { description = "Multiply.", inputSchema = { type = "object", properties = { a = { type = "number" } } }, annotations = { readOnlyHint = true } }

[gateways.g.servers.array]
command = "x"
[[gateways.g.servers.array.tools]]
name = "echo"
title = "Echo"
description = "Echo ${NOT_EXPANDED}."

[gateways.g.servers.empty]
command = "x"
tools = {}
"""
    gateway = load_text(tmp_path, text).gateways[0]
    table, array, empty = gateway.servers
    assert table.tools == (
        {
            "name": "add",
            "description": "Add two numbers.",
            "inputSchema": {"type": "object", "properties": {}},
        },
        {
            "name": "mul",
            "description": "Multiply.",
            "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}}},
            "annotations": {"readOnlyHint": True},
        },
    )
    assert table.is_config_defined
    assert array.tools == (
        {
            "name": "echo",
            "title": "Echo",
            "description": "Echo ${NOT_EXPANDED}.",
            "inputSchema": {"type": "object", "properties": {}},
        },
    )  # tool definitions are data for models: references inside are not expanded
    assert empty.tools is None and not empty.is_config_defined  # {} means discover


def test_environment_references_default_and_escape(tmp_path: Path) -> None:
    """${VAR:-default} uses the default when unset or empty; $${ writes a literal ${."""
    text = """
[gateways.g.servers.s]
command = "x"
args = ["${A:-fallback}", "${B:-fallback}", "$${LITERAL}", "cost: $5", "${C}"]
"""
    spec = load_text(tmp_path, text, env={"B": "", "C": "set"}).gateways[0].servers[0]
    assert isinstance(spec.target, StdioTarget)
    assert spec.target.args == ("fallback", "fallback", "${LITERAL}", "cost: $5", "set")


def test_load_config_reads_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an explicit env mapping, references are answered from os.environ."""
    monkeypatch.setenv("MCPD_TEST_COMMAND", "from-environ")
    path = tmp_path / "c.toml"
    path.write_text('[gateways.g.servers.s]\ncommand = "${MCPD_TEST_COMMAND}"\n')
    spec = load_config(path).gateways[0].servers[0]
    assert isinstance(spec.target, StdioTarget) and spec.target.command == "from-environ"


def test_format_is_detected_by_suffix_then_content(tmp_path: Path) -> None:
    """.toml is TOML, .json is Enkrypt; without a known suffix a leading "{" means JSON."""
    toml_text = '[gateways.g.servers.s]\ncommand = "x"\n'
    assert load_text(tmp_path, toml_text, name="mcpd.conf").format == "toml"
    json_text = (EXAMPLES / "enkrypt_mcp_config.json").read_text()
    assert load_text(tmp_path, json_text, name="gateway.conf").format == "enkrypt"


def test_demo_config_runs_bundled_servers_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's servers point at the bundled demo server whatever the working directory."""
    monkeypatch.chdir(tmp_path)
    config = load_config(EXAMPLES / "demo.toml", env={})
    (gateway,) = config.gateways
    assert gateway.id == "demo"
    by_name = {s.name: s for s in gateway.servers}
    assert set(by_name) == {"notes", "weather", "calculator", "installer"}
    for name in ("notes", "weather", "calculator"):
        target = by_name[name].target
        assert isinstance(target, StdioTarget) and target.command == "python3"
        assert target.cwd is not None
        assert (Path(target.cwd) / target.args[0]).is_file()
    assert by_name["calculator"].is_config_defined
    assert [t["name"] for t in by_name["calculator"].tools or ()] == ["add", "multiply"]
    installer = by_name["installer"].target
    assert isinstance(installer, StdioTarget) and "| sh" in installer.args[-1]


def test_spawn_admission_defaults_to_cpu_under_a_cap_of_live_children(tmp_path: Path) -> None:
    """By default stdio spawns follow the CPU under a cap of 4 per core (>= 32); "count" is kept."""
    server = '[gateways.g.servers.s]\ncommand = "srv"\n'
    default = load_text(tmp_path, server).discovery
    assert default.spawn_admission == "cpu"
    assert default.max_concurrent_spawns >= 32
    old = load_text(tmp_path, f'[discovery]\nspawn_admission = "count"\n{server}').discovery
    assert old.spawn_admission == "count"
