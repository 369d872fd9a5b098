"""Every kind of mistake in a TOML config is reported with its place and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.config.support import config_error, problems

from mcp_discoveryd.config import load_config
from mcp_discoveryd.errors import ConfigError

SERVER = '[gateways.g.servers.s]\ncommand = "x"\n'


def test_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    """A TOML syntax error is reported at its line and column."""
    text = '[gateways.g.servers.s]\ncommand = "x"\nargs = [1,\ntimeout = \n'
    found = problems(tmp_path, text)
    ((location, message),) = found.items()
    assert location.startswith("line 4, column ")
    assert message.startswith("TOML syntax error: ")


def test_duplicate_gateway_or_server_is_a_syntax_error_with_its_line(tmp_path: Path) -> None:
    """Declaring a gateway or a server twice is caught, with the line of the second one."""
    twice = SERVER + "\n" + SERVER
    ((location, message),) = problems(tmp_path, twice).items()
    assert location.startswith("line 4,") and "gateways" in message
    gateways = '[gateways.g]\nname = "a"\n[gateways.g]\nname = "b"\n'
    ((location, _),) = problems(tmp_path, gateways).items()
    assert location.startswith("line 3,")


def test_unknown_keys_are_errors_with_a_suggestion(tmp_path: Path) -> None:
    """Typos at every level are reported (never ignored), with the closest known key."""
    text = """
timeuot = "5s"
[discovery]
max_concurent_spawns = 2
[guardrails.tools]
denied_tool = ["x"]
[gateways.g]
nmae = "G"
[gateways.g.servers.s]
comand = "x"
command = "x"
[gateways.g.servers.s.guardrails.tools]
block_destructiv = true
"""
    found = problems(tmp_path, text)
    assert found == {
        "timeuot": "unknown key",
        "discovery.max_concurent_spawns": "unknown key (did you mean 'max_concurrent_spawns'?)",
        "guardrails.tools.denied_tool": "unknown key (did you mean 'denied_tools'?)",
        "gateways.g.nmae": "unknown key (did you mean 'name'?)",
        "gateways.g.servers.s.comand": "unknown key (did you mean 'command'?)",
        "gateways.g.servers.s.guardrails.tools.block_destructiv": "unknown key (did you mean 'block_destructive'?)",
    }


def test_wrong_types_are_reported_at_their_key(tmp_path: Path) -> None:
    """A value of the wrong type names its key path and the expected type."""
    text = """
discovery = 5
[cache]
max_entries = "many"
cluster = "yes"
[gateways.g.servers.s]
command = "x"
args = ["ok", 3]
env = { PORT = 8080 }
description = ["no"]
"""
    found = problems(tmp_path, text)
    assert found["discovery"] == "must be a table (a JSON object)"
    assert found["cache.max_entries"] == "input should be a valid integer"
    assert found["cache.cluster"] == "input should be a valid boolean"
    assert found["gateways.g.servers.s.args[1]"] == "input should be a valid string"
    assert found["gateways.g.servers.s.env.PORT"] == "input should be a valid string"
    assert found["gateways.g.servers.s.description"] == "input should be a valid string"
    assert len(found) == 6


def test_server_needs_exactly_one_of_command_and_url(tmp_path: Path) -> None:
    """Neither command nor url, or both, are errors at the server's key path."""
    text = """
[gateways.g.servers.neither]
description = "nothing to run"
[gateways.g.servers.both]
command = "npx"
url = "https://example.com/mcp"
[gateways.g.servers.blank]
command = " "
"""
    found = problems(tmp_path, text)
    assert found == {
        "gateways.g.servers.neither": "missing command or url: a server needs command (stdio) or url (remote)",
        "gateways.g.servers.both": "give either command (stdio) or url (remote), not both",
        "gateways.g.servers.blank.command": "command is empty",
    }


def test_keys_of_the_other_transport_are_errors(tmp_path: Path) -> None:
    """args/env/cwd make no sense for a url, transport/headers none for a command."""
    text = """
[gateways.g.servers.remote]
url = "https://example.com/mcp"
args = ["x"]
cwd = "/tmp"
[gateways.g.servers.local]
command = "x"
transport = "sse"
headers = { A = "b" }
"""
    found = problems(tmp_path, text)
    assert set(found) == {
        "gateways.g.servers.remote.args",
        "gateways.g.servers.remote.cwd",
        "gateways.g.servers.local.transport",
        "gateways.g.servers.local.headers",
    }
    assert found["gateways.g.servers.remote.args"].endswith("not to url")
    assert found["gateways.g.servers.local.headers"].endswith("not to command")


def test_bad_transport_and_bad_remote_url(tmp_path: Path) -> None:
    """Only streamable-http and sse are transports; a url must be http(s) with a host."""
    text = """
[gateways.g.servers.ws]
url = "wss://example.com/mcp"
transport = "websocket"
[gateways.g.servers.hostless]
url = "https:///mcp"
[gateways.g.servers.port]
url = "https://example.com:99999/mcp"
"""
    found = problems(tmp_path, text)
    assert found == {
        "gateways.g.servers.ws.transport": "input should be 'streamable-http' or 'sse'",
        "gateways.g.servers.ws.url": "url must start with http:// or https://",
        "gateways.g.servers.hostless.url": "url has no host",
        "gateways.g.servers.port.url": "not a valid URL (check the port and any [IPv6] brackets)",
    }


def test_bad_durations_and_sizes(tmp_path: Path) -> None:
    """Durations and sizes that cannot be read, or must be positive, are named."""
    text = """
[discovery]
timeout = "0s"
max_reply_bytes = "lots"
[cache]
tool_ttl = "4 hours"
stale_grace = "-1h"
[gateways.g.servers.s]
command = "x"
timeout = true
"""
    found = problems(tmp_path, text)
    assert found["discovery.timeout"] == "input should be greater than 0"
    assert found["discovery.max_reply_bytes"].startswith("bad size 'lots'")
    assert found["cache.tool_ttl"].startswith("bad duration '4 hours': write a number and a unit")
    assert found["cache.stale_grace"] == "bad duration '-1h': must not be negative"
    assert found["gateways.g.servers.s.timeout"].startswith("expected a duration, got a boolean")
    assert len(found) == 5


def test_bad_globs(tmp_path: Path) -> None:
    """An unclosed '[' or an empty pattern in any name list is an error."""
    text = """
[guardrails.servers]
denied_commands = [""]
[gateways.g.servers.s]
command = "x"
denied_tools = ["ok_*", "delete_[abc"]
allowed_tools = ["[x]", "  "]
"""
    found = problems(tmp_path, text)
    assert found == {
        "guardrails.servers.denied_commands[0]": "empty pattern",
        "gateways.g.servers.s.denied_tools[1]": "bad glob 'delete_[abc': '[' without a closing ']'",
        "gateways.g.servers.s.allowed_tools[1]": "empty pattern",
    }


@pytest.mark.parametrize(
    ("cache", "where", "says"),
    [
        ('url = "http://localhost:6379"', "cache.url", "unsupported scheme 'http'"),
        ('url = "localhost:6379"', "cache.url", "unsupported scheme"),
        ('url = "redis://:6379/0"', "cache.url", "no host"),
        ('url = "redis://localhost:6379/zero"', "cache.url", "database must be"),
        ('url = "unix://run/redis.sock"', "cache.url", "absolute socket path"),
        ('url = "unix:///run/redis.sock?db=x"', "cache.url", "database must be"),
        ('url = "unix:///run/redis.sock"\ncluster = true', "cache.cluster", "unix://"),
        ('url = "redis://:pw1@h:6379"\npassword = "pw2-long"', "cache.password", "both"),
        ('backend = "redis"', "cache.url", "needs url (or sentinels)"),
        ('backend = "memory"\nurl = "redis://h"', "cache.backend", "backend is memory"),
        ("enkrypt_compat = true", "cache.enkrypt_compat", "needs Redis"),
        ('sentinels = ["h1:26379", "nohost"]', "cache.sentinels[1]", "bad sentinel address"),
        ('sentinels = ["h1:26379"]\ncluster = true', "cache.cluster", "not both"),
        ('backend = "valkey"', "cache.backend", "input should be 'memory' or 'redis'"),
        ('key_prefix = "has space"', "cache.key_prefix", "should match pattern"),
        ('key_secret = "short"', "cache.key_secret", "at least 16 characters"),
        ('min_ttl = "5h"', "cache.min_ttl", "longer than tool_ttl"),
    ],
)
def test_cache_settings_are_checked(tmp_path: Path, cache: str, where: str, says: str) -> None:
    """Redis URL schemes, hosts, databases and the combinations of cache keys are validated."""
    found = problems(tmp_path, f"[cache]\n{cache}\n{SERVER}")
    assert list(found) == [where]
    assert says in found[where]


def test_good_redis_urls_and_sentinels_pass(tmp_path: Path) -> None:
    """redis://, rediss:// and unix:// with user, password and db are all accepted."""
    for cache in (
        'url = "redis://mcpd:pw@cache.internal:6379/3"',
        'url = "rediss://cache.internal"',
        'url = "unix:///run/redis/redis.sock?db=2"',
        'url = "redis://[::1]:6379/0"\ncluster = true',
        'sentinels = ["10.0.0.5:26379", "[fd00::1]:26379"]\nsentinel_service = "cache"',
    ):
        path = tmp_path / "ok.toml"
        path.write_text(f"[cache]\n{cache}\n{SERVER}")
        assert load_config(path, env={}).cache.backend == "redis"


def test_environment_reference_problems_name_the_key_path(tmp_path: Path) -> None:
    """A missing variable or a malformed reference is reported at the key that uses it."""
    text = """
[cache]
url = "redis://h"
password = "${REDIS_PASSWORD}"
[gateways.g.servers.s]
url = "https://example.com/mcp"
headers = { Authorization = "Bearer ${TOKEN" }
[gateways.g.servers.t]
command = "${1BAD}"
"""
    found = problems(tmp_path, text)
    assert found == {
        "cache.password": "environment variable REDIS_PASSWORD is not set (referenced as ${REDIS_PASSWORD})",
        "gateways.g.servers.s.headers.Authorization": "unterminated environment reference: '${' without '}'",
        "gateways.g.servers.t.command": "bad environment reference '${1BAD}': write ${NAME} or ${NAME:-default} "
        "with NAME made of letters, digits and '_'",
    }


def test_bad_names_and_no_gateways(tmp_path: Path) -> None:
    """Gateway ids and server names are restricted; a config without gateways is an error."""
    found = problems(tmp_path, '[gateways."a/b".servers."my server"]\ncommand = "x"\n')
    assert set(found) == {'gateways."a/b"', 'gateways."a/b".servers."my server"'}
    assert found['gateways."a/b"'].startswith("bad gateway id")
    assert problems(tmp_path, "[discovery]\n") == {
        "gateways": "no gateways: add at least one [gateways.<id>] table"
    }


def test_explicit_tool_problems(tmp_path: Path) -> None:
    """Tools without names, with clashing names, non-object schemas or wrong types are errors."""
    text = """
[gateways.g.servers.s]
command = "x"
[[gateways.g.servers.s.tools]]
description = "no name"
[[gateways.g.servers.s.tools]]
name = "a"
[[gateways.g.servers.s.tools]]
name = "a"
[[gateways.g.servers.s.tools]]
name = "b"
inputSchema = { type = "array" }
annotations = "none"
[gateways.g.servers.t]
command = "x"
tools = { a = { name = "b" }, c = 5 }
[gateways.g.servers.u]
command = "x"
tools = "everything"
"""
    found = problems(tmp_path, text)
    assert found == {
        "gateways.g.servers.s.tools[0].name": "a tool needs a non-empty string name",
        "gateways.g.servers.s.tools[2]": "duplicate tool name 'a'",
        "gateways.g.servers.s.tools[3].annotations": "must be a table (JSON object)",
        "gateways.g.servers.s.tools[3].inputSchema.type": 'an MCP input schema has type "object"',
        "gateways.g.servers.t.tools.a.name": "name differs from the key 'a'",
        "gateways.g.servers.t.tools.c": "a tool must be a description string or a definition table",
        "gateways.g.servers.u.tools": "tools must be a table of name -> description/definition, or a list",
    }


def test_several_errors_are_reported_together(tmp_path: Path) -> None:
    """Problems in every section and every server come back at once, in one ConfigError."""
    text = """
[discovery]
timeout = "soon"
[cache]
url = "mysql://db"
[gateways.a.servers.one]
url = "https://example.com/mcp"
transport = "grpc"
timeout = "never"
[gateways.a.servers.two]
command = "x"
url = "https://example.com/mcp"
[gateways.b.servers.three]
description = "nothing"
"""
    error = config_error(tmp_path, text)
    assert [p.location for p in error.problems] == [
        "discovery.timeout",
        "cache.url",
        "gateways.a.servers.one.transport",
        "gateways.a.servers.one.timeout",
        "gateways.a.servers.two",
        "gateways.b.servers.three",
    ]
    path = str(tmp_path / "mcpd.toml")
    assert str(error).splitlines()[0] == f"6 problem(s) in {path}"
    assert all(line.startswith(f"{path}: ") for line in str(error).splitlines()[1:])


def test_a_broken_key_does_not_hide_checks_on_the_rest_of_its_table(tmp_path: Path) -> None:
    """A server with a bad timeout still has its url checked; the bad key is reported once."""
    text = '[gateways.g.servers.s]\nurl = "ftp://x"\ntimeout = "later"\n'
    found = problems(tmp_path, text)
    assert set(found) == {"gateways.g.servers.s.url", "gateways.g.servers.s.timeout"}


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    """A missing file and a file that is not UTF-8 are config errors naming the file."""
    with pytest.raises(ConfigError) as missing:
        load_config(tmp_path / "absent.toml")
    assert missing.value.path == str(tmp_path / "absent.toml")
    assert missing.value.problems[0].message.startswith("cannot read: ")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b'name = "\xff\xfe"\n')
    with pytest.raises(ConfigError) as garbled:
        load_config(binary)
    assert garbled.value.problems[0].message == "not UTF-8 text"


def test_unknown_spawn_admission_policy_is_reported(tmp_path: Path) -> None:
    """Only the three policies exist; a typo is a problem at its key, not a silent default."""
    found = problems(
        tmp_path, '[discovery]\nspawn_admission = "fast"\n[gateways.g.servers.s]\ncommand = "x"\n'
    )
    assert list(found) == ["discovery.spawn_admission"]
