"""Secret values: never visible through repr, str, format or json, and scrubbed from upstream text."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mcp_discoveryd.config.settings import CacheSettings, DaemonConfig, GatewayConfig
from mcp_discoveryd.config.targets import remote_target, secret, stdio_target
from mcp_discoveryd.discovery.failures import Subject
from mcp_discoveryd.discovery.transports.stdio import StdioWatch
from mcp_discoveryd.models import (
    DiscoveryReport,
    ErrorKind,
    ServerOutcome,
    ServerSpec,
    Transport,
)
from mcp_discoveryd.report import report_json
from mcp_discoveryd.secret import (
    MASK,
    Secret,
    SecretUrl,
    scrub,
    url_without_credentials,
    url_without_secrets,
)

# Anything a person could configure as a secret: printable, 8+ characters.
SECRETS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=8)
SHOWN_CONSTANTS = "Secret('***') SecretUrl('') ***"


def shown(value: object) -> str:
    """Every way a value can be printed by accident."""
    return repr(value) + str(value) + f"{value}" + f"{value!s:>20}" + "%s %r" % (value, value)  # noqa: UP031 -- logging formats so


@given(SECRETS)
def test_a_secret_is_never_shown_but_compares_by_value(value: str) -> None:
    """repr/str/format show a mask, json refuses it; equality, hashing and copies keep the value."""
    assume(value not in SHOWN_CONSTANTS)
    held = Secret(value)
    assert value not in shown(held) and MASK in shown(held)
    with pytest.raises(TypeError) as refused:
        json.dumps({"v": held})
    assert value not in str(refused.value)
    assert held == Secret(value) and hash(held) == hash(Secret(value)) and held != value
    assert copy.deepcopy(held).reveal() == value and pickle.loads(pickle.dumps(held)) == held
    with pytest.raises(AttributeError):
        held._value = "changed"


def test_bearer_credentials_are_also_known_bare() -> None:
    """`Bearer abc123` is scrubbed in both forms; a short innocent word only as a whole token."""
    forms = Secret("Bearer abc123").forms()
    assert forms == {"Bearer abc123", "abc123"}
    text = "got Bearer abc123, then abc123 and xabc1234 and information"
    assert scrub(text, [Secret("Bearer abc123"), Secret("info")]) == (
        "got ***, then *** and xabc1234 and information"
    )


def test_only_credentials_are_scrubbed_from_upstream_text() -> None:
    """DEBUG=true is masked as a value but never searched for in what a server said."""
    text = "status: success, token tok-4242-x"
    innocent, credential = secret("MODE", "success"), secret("API_TOKEN", "tok-4242-x")
    assert not innocent.credential and credential.credential
    assert scrub(text, [innocent, credential]) == "status: success, token ***"
    assert secret("X_ID", "Hunter2Hunter2").credential  # token-shaped, whatever its name
    assert secret("ACCEPT", "application/json").credential is False


@given(SECRETS, SECRETS)
def test_urls_show_their_credentials_masked(password: str, key: str) -> None:
    """User-info passwords and credential query values are masked; their encodings are secrets."""
    assume(password not in SHOWN_CONSTANTS and key not in SHOWN_CONSTANTS)
    url = SecretUrl(
        f"https://svc:{quote(password, safe='')}@h.example/mcp?api_key={quote(key)}&x=1"
    )
    text = shown(url)
    for value in (password, key, quote(password, safe=""), quote(key)):
        assume(value not in "https://svc:@h.example/mcp?api_key=&x=1")
        assert value not in text
    assert str(url) == "https://svc:***@h.example/mcp?api_key=***&x=1"
    upstream_said = f"denied svc:{password} with api_key={key} at {url.reveal()}"
    assert password not in scrub(upstream_said, url.secrets())
    assert key not in scrub(upstream_said, url.secrets())


@given(SECRETS, SECRETS, st.sampled_from(["h.example", "h.example:8443", "[::1]:9000"]))
def test_credential_free_url_shapes_keep_no_secret(password: str, key: str, host: str) -> None:
    """Neither shape keeps a password or query value; one keeps the user and query names."""
    url = f"https://svc:{quote(password, safe='')}@{host}/mcp?api_key={quote(key, safe='')}&x=1#f"
    assert url_without_credentials(url) == f"https://svc@{host}/mcp?api_key=&x="
    assert url_without_secrets(url) == f"https://{host}/mcp"
    for broken in ("https://[::1/x", "http://h:port/"):
        assert url_without_credentials(broken) == url_without_secrets(broken) == "<invalid url>"


def _render(env: str, header: str, pw: str) -> tuple[str, str]:
    """Targets, settings and config as printed, and a report of errors quoting the secrets."""
    local = stdio_target("server", ["--flag"], {"API_TOKEN": env}, None, Path("/"))
    remote = remote_target(
        "https://h.example/mcp", Transport.SSE, {"Authorization": f"Bearer {header}"}
    )
    cache = CacheSettings(password=Secret(pw), key_secret=Secret(pw + "-key-secret-text"))
    specs = (ServerSpec("local", local), ServerSpec("remote", remote))
    config = DaemonConfig("c.toml", "toml", (GatewayConfig("g", specs),), cache=cache)
    printed = shown(config) + shown(specs) + repr(dataclasses.asdict(specs[0]))
    outcomes = []
    for spec, value in ((specs[0], env), (specs[1], header)):
        watch = StdioWatch()
        watch.stderr.extend([f"bad key {value}", f"Authorization: Bearer {value}"])
        subject = Subject.of(spec.target, 5.0, 1024)
        error = subject.error(ErrorKind.PROTOCOL_ERROR, f"server said: {value}", watch)
        outcomes.append(ServerOutcome("g", spec.name, "error", "discovery", error=error))
    return printed, json.dumps(report_json(DiscoveryReport(tuple(outcomes), 1.0)))


# What the same objects show with other secrets: a generated value that is part of this
# text anyway ("blocked_", "00000000") says nothing about a leak.
_INNOCENT = "".join(_render("Env-Secret-1", "Header-Secret-2", "Password-Secret-3"))


@given(SECRETS, SECRETS, SECRETS)
def test_secrets_never_leak_through_models_or_a_report(env: str, header: str, pw: str) -> None:
    """Targets, settings and the whole config print masked; an error quoting them is scrubbed."""
    for value in (env, header, pw):
        assume(value not in SHOWN_CONSTANTS and len(value.strip()) == len(value))
        assume(value not in _INNOCENT)
    printed, report = _render(env, header, pw)
    for value in (env, header, pw):
        assert value not in printed
    assert env not in report and header not in report
