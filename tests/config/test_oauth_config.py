"""The [... .servers.S.oauth] table and Enkrypt's oauth_config: read, mapped, checked."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from tests.config.support import load_text, problems
from tests.config.test_enkrypt_loader import json_problems, load_json, minimal

from mcp_discoveryd.models import RemoteTarget
from mcp_discoveryd.secret import Secret

SERVER = """
[gateways.g.servers.s]
url = "https://mcp.example/mcp"
[gateways.g.servers.s.oauth]
client_id = "cid"
"""


def test_toml_oauth_table_becomes_the_targets_client(tmp_path: Path) -> None:
    """Every key is read; the secret comes through ${VAR} and is held as a Secret."""
    text = (
        SERVER
        + """client_secret = "${CS}"
token_url = "https://auth.example/token"
scope = "a b"
audience = "api"
resource = "https://mcp.example/mcp"
client_auth = "post"
extra_params = { tenant = "t1" }
headers = { x-org = "o1" }
expiry_buffer = "2m"
"""
    )
    config = load_text(tmp_path, text, env={"CS": "from-env-secret"})
    target = config.gateways[0].servers[0].target
    assert isinstance(target, RemoteTarget) and target.oauth is not None
    oauth = target.oauth
    assert oauth.client_secret == Secret("from-env-secret")
    assert (oauth.client_auth, oauth.scope, oauth.audience) == ("post", "a b", "api")
    assert oauth.extra_params == (("tenant", "t1"),)
    assert oauth.expiry_buffer == 120.0
    assert "from-env-secret" not in repr(config)


def test_disabled_oauth_table_means_no_client(tmp_path: Path) -> None:
    """enabled = false keeps the table but sends no token."""
    config = load_text(tmp_path, SERVER + "enabled = false\n")
    target = config.gateways[0].servers[0].target
    assert isinstance(target, RemoteTarget) and target.oauth is None


def test_oauth_on_a_stdio_server_is_a_problem(tmp_path: Path) -> None:
    """OAuth applies to remote servers: on a command it is reported, not ignored."""
    text = '[gateways.g.servers.s]\ncommand = "x"\n[gateways.g.servers.s.oauth]\nclient_id = "c"\n'
    found = problems(tmp_path, text)
    assert "remote servers" in found["gateways.g.servers.s.oauth"]


@given(
    host=st.from_regex(r"[a-z][a-z0-9-]{0,20}\.(com|net|internal)", fullmatch=True),
    enforce=st.booleans(),
    scheme=st.sampled_from(["http", "https"]),
)
def test_plain_http_token_url_is_refused_while_https_is_enforced(
    host: str, enforce: bool, scheme: str
) -> None:
    """Any non-loopback http:// token URL under enforce_https is a check-config problem."""
    text = (
        SERVER + f'token_url = "{scheme}://{host}/token"\nenforce_https = {str(enforce).lower()}\n'
    )
    with tempfile.TemporaryDirectory() as directory:
        bad = scheme == "http" and enforce
        if bad:
            found = problems(Path(directory), text)
            assert "enforce_https" in found["gateways.g.servers.s.oauth.token_url"]
        else:
            load_text(Path(directory), text)


def test_loopback_http_token_url_is_allowed(tmp_path: Path) -> None:
    """A token endpoint on this host may be plain HTTP (a local sidecar, tests)."""
    load_text(tmp_path, SERVER + 'token_url = "http://127.0.0.1:8080/token"\n')


def test_missing_certificate_files_are_problems(tmp_path: Path) -> None:
    """mTLS files that are not there could never make a connection."""
    text = SERVER + 'client_cert = "nope.pem"\nca_bundle = "ca.pem"\n'
    found = problems(tmp_path, text)
    assert found["gateways.g.servers.s.oauth.client_cert"] == "no such file"
    assert found["gateways.g.servers.s.oauth.ca_bundle"] == "no such file"


ENKRYPT_OAUTH = {
    "enabled": True,
    "OAUTH_VERSION": "2.1",
    "OAUTH_GRANT_TYPE": "client_credentials",
    "OAUTH_CLIENT_ID": "ek-client",
    "OAUTH_CLIENT_SECRET": "ek-secret-123456",
    "OAUTH_TOKEN_URL": "https://auth.example/oauth/token",
    "OAUTH_AUDIENCE": "https://api.example",
    "OAUTH_SCOPE": "read write",
    "OAUTH_RESOURCE": "https://mcp.example/mcp",
    "OAUTH_TOKEN_EXPIRY_BUFFER": 120,
    "OAUTH_USE_BASIC_AUTH": False,
    "OAUTH_USE_MTLS": False,
    "OAUTH_ADDITIONAL_PARAMS": {"tenant": "t"},
    "OAUTH_CUSTOM_HEADERS": {"X-Org": "o"},
    "OAUTH_ENFORCE_HTTPS": True,
}


def _remote_doc(oauth: dict[str, object]) -> dict[str, object]:
    doc = minimal()
    entry = doc["mcp_configs"]["cfg"]["mcp_config"][0]
    entry["config"] = {"url": "https://mcp.example/mcp"}
    entry["oauth_config"] = oauth
    return doc


def test_enkrypt_oauth_config_read_as_it_is(tmp_path: Path) -> None:
    """The OAUTH_* fields map onto the daemon's own client; no unknown-key warning."""
    config = load_json(tmp_path, _remote_doc(ENKRYPT_OAUTH))
    target = config.gateways[0].servers[0].target
    assert isinstance(target, RemoteTarget) and target.oauth is not None
    oauth = target.oauth
    assert (oauth.client_id, oauth.client_auth, oauth.expiry_buffer) == ("ek-client", "post", 120.0)
    assert oauth.token_url == "https://auth.example/oauth/token"
    assert (oauth.scope, oauth.audience, oauth.resource) == (
        "read write",
        "https://api.example",
        "https://mcp.example/mcp",
    )
    assert oauth.extra_params == (("tenant", "t"),)
    assert oauth.headers == {"X-Org": Secret("o")}
    assert "ek-secret-123456" not in repr(config)


def test_enkrypt_oauth_config_disabled_sends_no_token(tmp_path: Path) -> None:
    """enabled: false is read as Enkrypt reads it."""
    config = load_json(tmp_path, _remote_doc({**ENKRYPT_OAUTH, "enabled": False}))
    target = config.gateways[0].servers[0].target
    assert isinstance(target, RemoteTarget) and target.oauth is None


def test_enkrypt_plain_http_token_url_with_https_enforced_is_a_problem(tmp_path: Path) -> None:
    """What cannot work is a check-config error, and the secret is not in it."""
    doc = _remote_doc({**ENKRYPT_OAUTH, "OAUTH_TOKEN_URL": "http://auth.example/token"})
    found = json_problems(tmp_path, doc)
    key = next(k for k in found if k.endswith("oauth_config.token_url"))
    assert "enforce_https" in found[key]
    assert "ek-secret-123456" not in json.dumps(found)


def test_enkrypt_mtls_without_a_certificate_is_a_problem(tmp_path: Path) -> None:
    """OAUTH_USE_MTLS with no certificate path could never authenticate."""
    found = json_problems(tmp_path, _remote_doc({**ENKRYPT_OAUTH, "OAUTH_USE_MTLS": True}))
    assert any(k.endswith("OAUTH_CLIENT_CERT_PATH") for k in found)


@given(secret=st.from_regex(r"[A-Za-z0-9_\-]{12,40}", fullmatch=True))
def test_a_broken_oauth_table_never_shows_its_secret(secret: str) -> None:
    """Problems in the table (a wrong type, a bad URL) quote no value: the secret stays out."""
    text = (
        SERVER
        + f'client_secret = "{secret}"\nscope = 5\ntoken_url = "ftp://x/{secret}"\n'
        + f'headers = {{ x-key = "{secret}" }}\nclient_auth = "{secret}"\n'
    )
    with tempfile.TemporaryDirectory() as directory:
        found = problems(Path(directory), text)
    assert secret not in json.dumps(found)
    assert len(found) >= 2


def test_enkrypt_authorization_code_grant_is_read(tmp_path: Path) -> None:
    """OAUTH_GRANT_TYPE authorization_code: a server a person logs in to once."""
    doc = _remote_doc({**ENKRYPT_OAUTH, "OAUTH_GRANT_TYPE": "authorization_code"})
    target = load_json(tmp_path, doc).gateways[0].servers[0].target
    assert isinstance(target, RemoteTarget) and target.oauth is not None
    assert target.oauth.grant == "authorization_code"
