"""Generated cases against a real provider over uvicorn: garbled answers never crash and always
give a verdict by policy; no secret value of a server ever reaches the provider."""

from __future__ import annotations

import json
from typing import Any, Literal

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.discovery.guardrails import provider_support
from tests.discovery.guardrails.provider_support import Recorder, Scripted, served_in_thread

from examples.guardrail_provider import make_app
from mcp_discoveryd.discovery.guardrails import check_server, check_tools
from mcp_discoveryd.discovery.guardrails.http_provider import HttpGuardrailProvider
from mcp_discoveryd.models import (
    JSONObject,
    RemoteTarget,
    ServerPolicy,
    ServerSpec,
    StdioTarget,
    Transport,
)
from mcp_discoveryd.secret import Secret, SecretUrl

SPEC = ServerSpec("s", StdioTarget("node", ("server.js",)))
TOOLS: list[JSONObject] = [
    {"name": "one", "description": "First."},
    {"name": "two", "description": "Second."},
]
GENERATED = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
near_misses = st.one_of(
    st.fixed_dictionaries({"allow": json_values, "reasons": json_values}),
    st.fixed_dictionaries({"verdicts": json_values}),
    st.fixed_dictionaries(
        {
            "verdicts": st.lists(
                st.fixed_dictionaries(
                    {"id": json_values, "allow": json_values, "reasons": json_values}
                ),
                max_size=3,
            )
        }
    ),
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    near_misses.map(lambda v: json.dumps(v).encode()),
    st.just(b"[" * 100_000),  # nested past the parser's recursion limit
)
statuses = st.sampled_from([200, 200, 200, 201, 302, 400, 404, 500, 503])


@given(status=statuses, body=bodies, fail=st.sampled_from(["closed", "open"]))
@GENERATED
def test_garbled_answers_give_a_verdict_by_policy_never_a_crash(
    status: int, body: bytes, fail: Literal["closed", "open"]
) -> None:
    """Whatever comes back: every tool is decided (none can have a verdict: ids are hashes),
    blocked when fail-closed and kept with a warning when fail-open; a server check returns
    reasons or nothing, never raises."""
    scripted = Scripted(status=status, body=body)

    async def check(url: str) -> None:
        async with HttpGuardrailProvider(provider_support.settings(url, fail=fail)) as provider:
            checks = provider.guardrails()
            (violations,) = await checks.check_servers([SPEC])
            verdict = await checks.check_tools(SPEC, TOOLS)
        assert all(isinstance(v, str) and v for v in violations)
        if fail == "closed":
            assert verdict.kept == () and [b.name for b in verdict.blocked] == ["one", "two"]
            assert all("blocked (fail-closed)" in b.reasons[0] for b in verdict.blocked)
        else:
            assert verdict.kept == tuple(TOOLS) and verdict.blocked == ()
            assert all("(fail-open)" in w.reasons[0] for w in verdict.warnings)
            assert len(verdict.warnings) == 2

    with served_in_thread(scripted) as url:
        anyio.run(check, url)


secrets = (
    st.text(alphabet="abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=10)
    .filter(lambda s: any(c.isdigit() for c in s))
    .map(lambda s: "tok" + s[:30])
)


def forms(secret: str) -> list[bytes]:
    """The ways a secret could appear in a request: raw and JSON-escaped."""
    return [secret.encode(), json.dumps(secret)[1:-1].encode()]


@given(
    env_secret=secrets,
    header_secret=secrets,
    url_password=secrets,
    query_secret=secrets,
)
@GENERATED
def test_no_secret_value_of_a_server_is_sent_to_the_provider(
    env_secret: str, header_secret: str, url_password: str, query_secret: str
) -> None:
    """Env values, header values, URL passwords and token query values stay here, even when an
    upstream echoes one in a tool; the names are sent. The provider's own header is sent."""
    stdio = ServerSpec(
        "local",
        StdioTarget("node", ("server.js", "--verbose"), env={"GITHUB_TOKEN": Secret(env_secret)}),
    )
    url = f"https://user:{url_password}@api.example.com/mcp?api_key={query_secret}&region=eu"
    remote = ServerSpec(
        "remote",
        RemoteTarget(
            SecretUrl(url), Transport.STREAMABLE_HTTP, {"Authorization": Secret(header_secret)}
        ),
        # let the URL's password through the built-in checks, to show the view drops it
        server_policy=ServerPolicy(block_secrets_in_args=False),
    )
    # each server's upstream echoes its own secrets in its tools
    echoing: list[tuple[ServerSpec, list[JSONObject]]] = [
        (stdio, [{"name": "leaky", "description": f"Uses token {env_secret}."}]),
        (
            remote,
            [
                {"name": "leaky", "description": f"Uses {header_secret} and {url_password}."},
                {"name": "nested", "inputSchema": {"default": {url_password: [query_secret]}}},
            ],
        ),
    ]
    recorder = Recorder(make_app())
    own = "provider-credential-" + env_secret[::-1]

    async def check(url: str) -> None:
        headers: dict[str, Any] = {"X-Provider-Key": own}
        config = provider_support.settings(url, headers=headers)
        async with HttpGuardrailProvider(config) as provider:
            checks = provider.guardrails()
            await checks.check_servers([stdio, remote])
            for spec, tools in echoing:
                await checks.check_tools(spec, tools)

    with served_in_thread(recorder) as base:
        anyio.run(check, base)
    # what the built-in checks let through is sent: a server check and a tools check each
    servers = sum(1 for spec in (stdio, remote) if not check_server(spec))
    tools = sum(1 for spec, found in echoing if check_tools(found, spec.tool_policy).kept)
    assert len(recorder.seen) == servers + tools >= 2
    everything = b"\n".join(seen.body for seen in recorder.seen)
    for secret in (env_secret, header_secret, url_password, query_secret):
        for form in forms(secret):
            assert form not in everything
            assert all(form not in value for seen in recorder.seen for _, value in seen.headers)
    for name in (b"GITHUB_TOKEN", b"Authorization", b"api.example.com/mcp"):
        assert name in everything
    assert all((b"x-provider-key", own.encode()) in seen.headers for seen in recorder.seen)
