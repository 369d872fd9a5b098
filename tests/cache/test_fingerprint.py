"""Server definition fingerprints: every covered field counts, credential values do not."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from mcp_discoveryd.cache import definition_fingerprint
from mcp_discoveryd.models import RemoteTarget, ServerSpec, StdioTarget, ToolPolicy, Transport
from mcp_discoveryd.secret import Secret, SecretUrl

text = st.text(min_size=1, max_size=20)
names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=12)
stdio = st.builds(
    StdioTarget,
    command=text,
    args=st.tuples(text, text),
    env=st.dictionaries(names, text.map(Secret), max_size=3),
    cwd=st.none() | text,
)
remote = st.builds(
    RemoteTarget,
    url=text.map(lambda s: SecretUrl(f"https://example.com/mcp?token={s}")),
    transport=st.sampled_from([Transport.STREAMABLE_HTTP, Transport.SSE]),
    headers=st.dictionaries(names, text.map(Secret), max_size=3),
)


def spec(target: StdioTarget | RemoteTarget) -> ServerSpec:
    return ServerSpec(name="s", target=target)


@given(stdio, st.sampled_from(["command", "args", "cwd", "env"]), text)
def test_each_stdio_field_changes_the_fingerprint(
    target: StdioTarget, field: str, value: str
) -> None:
    """Another command, arg list, cwd or set of env names is another definition."""
    changed = {
        "command": target.command + value,
        "args": (*target.args, value),
        "cwd": (target.cwd or "") + "/" + value,
        "env": {**target.env, "NEW_" + str(len(target.env)): Secret(value)},
    }[field]
    other = replace(target, **{field: changed})  # type: ignore[arg-type]
    assert definition_fingerprint(spec(target), None) != definition_fingerprint(spec(other), None)


@given(remote, st.sampled_from(["url", "transport", "headers"]), text)
def test_each_remote_field_changes_the_fingerprint(
    target: RemoteTarget, field: str, value: str
) -> None:
    """Another URL (query tokens included), transport or set of header names is another one."""
    changed = {
        "url": SecretUrl(target.url.reveal() + value),
        "transport": Transport.SSE
        if target.transport is Transport.STREAMABLE_HTTP
        else Transport.STREAMABLE_HTTP,
        "headers": {**target.headers, "X-New-" + str(len(target.headers)): Secret(value)},
    }[field]
    other = replace(target, **{field: changed})  # type: ignore[arg-type]
    assert definition_fingerprint(spec(target), "k") != definition_fingerprint(spec(other), "k")


@given(stdio, remote, text)
def test_credential_values_policy_and_name_do_not_count(
    local: StdioTarget, net: RemoteTarget, value: str
) -> None:
    """Rotated env or header values, another tool policy or name: the same definition."""
    rotated_env = replace(local, env={k: Secret(v.reveal() + value) for k, v in local.env.items()})
    rotated_headers = replace(
        net, headers={k.upper(): Secret(v.reveal() + value) for k, v in net.headers.items()}
    )
    for before, after in ((local, rotated_env), (net, rotated_headers)):
        moved = replace(
            spec(after), name="other", tool_policy=ToolPolicy(denied_tools=("x",)), timeout=1.0
        )
        assert definition_fingerprint(spec(before), "k") == definition_fingerprint(moved, "k")


@given(remote)
def test_fingerprint_is_keyed_and_shows_nothing_of_the_definition(target: RemoteTarget) -> None:
    """Under a key secret the digest differs per key and holds no part of the URL or its token."""
    keyed = definition_fingerprint(spec(target), "secret-a")
    assert keyed != definition_fingerprint(spec(target), "secret-b")
    assert keyed != definition_fingerprint(spec(target), None)
    token = target.url.reveal().partition("token=")[2]
    assert len(token) < 8 or token not in keyed.partition(":")[2]


@given(remote, st.sampled_from(["a", "ab1", "0000", "hunter2"]))
def test_without_a_key_secret_no_url_token_is_hashed(target: RemoteTarget, token: str) -> None:
    """Unkeyed, a digest over a short token could be guessed: query values and the password
    are left out, so tokens do not change it, while another host or path does."""
    with_token = replace(
        target, url=SecretUrl(f"https://user:{token}@example.com/mcp?token={token}")
    )
    other_token = replace(target, url=SecretUrl("https://user:x@example.com/mcp?token=y"))
    other_path = replace(
        target, url=SecretUrl(f"https://user:{token}@example.com/v2?token={token}")
    )
    digest = definition_fingerprint(spec(with_token), None)
    assert digest == definition_fingerprint(spec(other_token), None)
    assert digest != definition_fingerprint(spec(other_path), None)
    assert definition_fingerprint(spec(with_token), "k") != definition_fingerprint(
        spec(other_token), "k"
    )
