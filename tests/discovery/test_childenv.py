"""What a stdio server inherits: the chosen variables of the daemon's, its own env, no secrets."""

from __future__ import annotations

import json
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import certifi
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.config.support import config_error, load_text
from tests.discovery.upstream_support import fetch

from mcp_discoveryd.discovery.childenv import inherited
from mcp_discoveryd.models import DEFAULT_INHERIT_ENV, ServerSpec, StdioTarget
from mcp_discoveryd.secret import Secret, looks_like_credential

# Writes its whole environment as JSON to the file named by its argument, then exits.
DUMP_ENV = "import json, os, sys\njson.dump(dict(os.environ), open(sys.argv[1], 'w'))\n"
DAEMON_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/var/lib/mcpd",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TZ": "Pacific/Auckland",
    "SSL_CERT_FILE": certifi.where(),  # read by this process's HTTP pool too: a real file
    "NODE_EXTRA_CA_CERTS": certifi.where(),
    "HTTPS_PROXY": "http://proxy:3128",
    "no_proxy": "localhost,127.0.0.1",
}
DAEMON_SECRETS = {
    "MCPD_REDIS_PASSWORD": "redis-pw-0001",
    "GITHUB_TOKEN": "ghp_daemon_0002",
    "AWS_SECRET_ACCESS_KEY": "aws-0003",
    "LC_SECRET": "glob-matched-0004",
}


async def child_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: StdioTarget
) -> dict[str, str]:
    """Spawn ``target`` (the env-dumping script) with the daemon's environment set; what it saw."""
    for name, value in {**DAEMON_ENV, **DAEMON_SECRETS, "UNLISTED": "x"}.items():
        monkeypatch.setenv(name, value)
    await fetch(ServerSpec("dump", target, timeout=10))  # fails at the handshake, by design
    seen: dict[str, str] = json.loads((tmp_path / "env.json").read_text())
    return seen


def dumper(tmp_path: Path, **fields: object) -> StdioTarget:
    script = tmp_path / "dump_env.py"
    script.write_text(DUMP_ENV)
    args = (str(script), str(tmp_path / "env.json"))
    return StdioTarget(sys.executable, args, **fields)  # type: ignore[arg-type]  # fields by name


async def test_a_child_gets_tls_proxy_locale_and_time_zone_but_no_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defaults pass TLS trust, proxies, LANG/LC_*, TZ, PATH and HOME; never a credential."""
    own = {"API_KEY": Secret("child-own-0005"), "DEBUG": Secret("true", credential=False)}
    seen = await child_env(tmp_path, monkeypatch, dumper(tmp_path, env=own))
    assert {k: seen[k] for k in DAEMON_ENV} == DAEMON_ENV
    assert seen["API_KEY"] == "child-own-0005" and seen["DEBUG"] == "true"
    assert not set(DAEMON_SECRETS) & set(seen) and "UNLISTED" not in seen


async def test_a_server_names_what_else_it_inherits_and_never_the_daemons_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """inherit_env adds names and globs; names the daemon uses for itself stay withheld."""
    target = dumper(
        tmp_path,
        inherit_env=("PATH", "UNLISTED", "MCPD_*", "GITHUB_*"),
        withheld_env=frozenset({"MCPD_REDIS_PASSWORD"}),
    )
    seen = await child_env(tmp_path, monkeypatch, target)
    assert seen["UNLISTED"] == "x" and "PATH" in seen
    assert "TZ" not in seen and "HOME" not in seen  # not in this server's list
    assert not set(DAEMON_SECRETS) & set(seen)


def test_config_lists_are_combined_and_secret_names_refused(tmp_path: Path) -> None:
    """[discovery] inherit_env replaces the defaults, a server's adds to it; secrets are refused."""
    text = """
[discovery]
inherit_env = ["PATH", "LC_*"]
[cache]
password = "${DAEMON_PW}"
[gateways.g.servers.a]
command = "server"
inherit_env = ["JAVA_HOME"]
"""
    config = load_text(tmp_path, text, env={"DAEMON_PW": "pw-0006"})
    target = config.gateways[0].servers[0].target
    assert isinstance(target, StdioTarget)
    assert target.inherit_env == ("PATH", "LC_*", "JAVA_HOME")
    assert target.withheld_env == {"DAEMON_PW"}
    refused = text.replace('"JAVA_HOME"', '"DAEMON_PW", "GITHUB_TOKEN", "NPM_*"')
    error = str(config_error(tmp_path, refused, env={"DAEMON_PW": "pw-0006"}))
    assert "inherit_env[0]: DAEMON_PW holds the daemon's own secret" in error
    assert "inherit_env[1]: GITHUB_TOKEN looks like a credential" in error
    assert "NPM_*" not in error and "pw-0006" not in error


def test_default_list_is_what_the_readme_promises() -> None:
    """The defaults (README, "What a stdio server inherits") hold no credential-like name."""
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        assert name in DEFAULT_INHERIT_ENV
    for name in ("CURL_CA_BUNDLE", "HTTP_PROXY", "https_proxy", "NO_PROXY", "LANG", "LC_*", "TZ"):
        assert name in DEFAULT_INHERIT_ENV
    assert not [name for name in DEFAULT_INHERIT_ENV if looks_like_credential(name)]


NAME_PART = st.sampled_from(["AWS", "GH", "DB", "NPM", "X", "MY_APP", "LC"])
SECRET_WORD = st.sampled_from(
    ["TOKEN", "SECRET", "PASSWORD", "API_KEY", "APIKEY", "PRIVATE_KEY", "CREDENTIALS"]
)


@given(NAME_PART, SECRET_WORD, st.sampled_from(["", "_FILE_X", "_1"]))
def test_no_glob_passes_a_credential_named_variable(prefix: str, word: str, suffix: str) -> None:
    """Whatever the list says (even "*"), a credential-named variable is not inherited."""
    name = f"{prefix}_{word}{suffix}"
    target = StdioTarget("server", inherit_env=("*",))
    assert name not in inherited(target, {name: "value", "PATH": "/bin"})


GLOB_TEXT = st.text(alphabet="AB_*?[]!-1", max_size=6)


@given(st.lists(GLOB_TEXT, max_size=4), st.lists(st.text(alphabet="AB_[]!-1", max_size=5)))
def test_a_variable_is_inherited_exactly_when_a_glob_of_the_list_matches_its_whole_name(
    patterns: list[str], names: list[str]
) -> None:
    """The list is matched as fnmatch globs, each over the whole name, case-sensitive."""
    target = StdioTarget("server", inherit_env=tuple(patterns))
    environ = dict.fromkeys(names, "v")
    expected = {n for n in names if any(fnmatchcase(n, p) for p in patterns)}
    assert set(inherited(target, environ)) == expected


async def test_the_time_server_sees_the_daemons_time_zone(
    time_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mcp-server-time names its local zone in its tools: TZ reached it, and only when listed."""
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    described: list[str] = []
    for inherit in (DEFAULT_INHERIT_ENV, ("PATH",)):
        target = StdioTarget(time_server, inherit_env=inherit)
        result, _ = await fetch(ServerSpec("time", target, timeout=20))
        assert result.catalog is not None, result.error
        described.append(json.dumps(result.catalog.tools))
    assert "Pacific/Auckland" in described[0] and "Pacific/Auckland" not in described[1]
