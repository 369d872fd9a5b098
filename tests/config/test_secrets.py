"""Secrets from a config never show: not in problems, not in the loaded config's repr."""

from __future__ import annotations

import json
from pathlib import Path

from tests.config.support import EXAMPLES, config_error, load_text

from mcp_discoveryd.config import load_config
from mcp_discoveryd.models import RemoteTarget, StdioTarget
from mcp_discoveryd.secret import Secret

ENV = {
    "GITHUB_TOKEN": "ghp_env_secret_0001",
    "REDIS_PASSWORD": "redis_env_secret_0002",
    "KEY_SECRET": "hmac_env_secret_0003_long",
    "DB_PASSWORD": "db_env_secret_0004",
    "BAD_TIMEOUT": "tmo_env_secret_0005",
}
LITERALS = ("literal_env_secret_0006", "literal_header_secret_0007", "url_pw_secret_0008")

VALID = f"""
[cache]
url = "redis://mcpd:{LITERALS[2]}@cache:6379/0"
key_secret = "${{KEY_SECRET}}"

[gateways.g.servers.remote]
url = "https://example.com/mcp"
headers = {{ Authorization = "Bearer ${{GITHUB_TOKEN}}", "X-Other" = "{LITERALS[1]}" }}

[gateways.g.servers.local]
command = "server"
env = {{ DB_PASSWORD = "${{DB_PASSWORD}}", API_KEY = "{LITERALS[0]}" }}
"""

# Every secret sits next to (or inside) a mistake, so each is near a reported problem.
BROKEN = f"""
[cache]
url = "http://mcpd:{LITERALS[2]}@cache:6379/0"
password = "${{REDIS_PASSWORD}}"
key_secret = "${{KEY_SECRET}}"
tool_ttl = "soon"

[gateways.g.servers.remote]
url = "ftp://example.com/mcp"
transport = "grpc"
headers = {{ Authorization = "Bearer ${{GITHUB_TOKEN}}", "X-Other" = "{LITERALS[1]}" }}
timeout = "${{BAD_TIMEOUT}}"

[gateways.g.servers.local]
command = "server"
url = "https://example.com/mcp"
env = {{ DB_PASSWORD = "${{DB_PASSWORD}}", API_KEY = "{LITERALS[0]}", PORT = 5 }}
"""

SECRETS = (*ENV.values(), *LITERALS)


def test_problem_reports_never_carry_secrets(tmp_path: Path) -> None:
    """Even a value echoed by a message (a bad duration from ${VAR}) is masked."""
    error = config_error(tmp_path, BROKEN, env=ENV)
    text = str(error) + repr(error) + "".join(repr(p) for p in error.problems)
    assert "gateways.g.servers.remote.timeout: bad duration '***'" in str(error)
    assert len(error.problems) == 7
    for secret in SECRETS:
        assert secret not in text


def test_loaded_config_repr_has_no_secrets(tmp_path: Path) -> None:
    """repr/str of the loaded config show no env value, header, password, key or URL password."""
    config = load_text(tmp_path, VALID, env=ENV)
    shown = repr(config) + str(config)
    for secret in (*LITERALS, ENV["GITHUB_TOKEN"], ENV["KEY_SECRET"], ENV["DB_PASSWORD"]):
        assert secret not in shown


def test_loaded_config_holds_each_secret_as_a_secret_where_it_entered(tmp_path: Path) -> None:
    """Env and header values, the URL password and the key secret arrive as Secret values."""
    config = load_text(tmp_path, VALID, env=ENV)
    remote, local = config.gateways[0].servers
    assert isinstance(remote.target, RemoteTarget) and isinstance(local.target, StdioTarget)
    assert remote.target.headers["Authorization"] == Secret(f"Bearer {ENV['GITHUB_TOKEN']}")
    assert local.target.env == {
        "DB_PASSWORD": Secret(ENV["DB_PASSWORD"]),
        "API_KEY": Secret(LITERALS[0]),
    }
    assert config.cache.key_secret == Secret(ENV["KEY_SECRET"])
    assert config.cache.url is not None and Secret(LITERALS[2]) in config.cache.url.secrets()
    assert str(config.cache.url) == "redis://mcpd:***@cache:6379/0"


def test_enkrypt_api_keys_and_passwords_stay_hidden(tmp_path: Path) -> None:
    """API keys, the admin key and the cache password are secrets, in errors and in repr."""
    doc = json.loads((EXAMPLES / "enkrypt_mcp_config.json").read_text())
    doc["common_mcp_gateway_config"].update(
        enkrypt_mcp_use_external_cache=True, enkrypt_cache_password="enk_cache_pw_0009"
    )
    api_keys = list(doc["apikeys"])
    hidden = (
        *api_keys,
        doc["admin_apikey"],
        "enk_cache_pw_0009",
        "ghp_FAKE_4d1c9e7b2a6f8e3d5c0b1a9f7e6d",
        "notes_FAKE_5e2b9c1d7a3f4e6b",
    )
    path = tmp_path / "enkrypt_mcp_config.json"
    path.write_text(json.dumps(doc))
    config = load_config(path, env={})
    assert config.cache.password == Secret("enk_cache_pw_0009")
    shown = repr(config) + str(config)
    assert not [s for s in hidden if s in shown]

    doc["apikeys"][api_keys[0]] = {"user_id": 7}  # broken entry under a secret key
    doc["mcp_configs"][next(iter(doc["mcp_configs"]))]["mcp_config"][1]["config"]["transport"] = 1
    error = config_error(tmp_path, json.dumps(doc), name="enkrypt_mcp_config.json")
    assert "apikeys[0].project_id" in str(error)
    assert not [s for s in hidden if s in str(error)]


def test_secret_forms_are_precise(tmp_path: Path) -> None:
    """Only credential parts become secrets: an auth scheme's token, a URL's key=, not prose."""
    text = """
[gateways.g.servers.remote]
url = "https://example.com/mcp?key=query_secret_0010&format=json"
headers = { Authorization = "Basic YmFzaWNfc2VjcmV0", Accept = "application/json" }
[gateways.g.servers.local]
command = "server"
env = { GREETING = "hello world" }
"""
    targets = [spec.target for spec in load_text(tmp_path, text).gateways[0].servers]
    forms = {form for target in targets for secret in target.secrets() for form in secret.forms()}
    assert {"query_secret_0010", "YmFzaWNfc2VjcmV0", "hello world"} <= forms
    assert "world" not in forms and "json" not in forms
