"""Hypothesis strategies for config files: valid skeletons with mutated keys, values and
types, random junk, Redis URLs; and a small TOML writer (inline tables) for them."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from hypothesis import strategies as st

from mcp_discoveryd.config.redis_url import OPTIONS

# A TOML skeleton that loads: servers list their tools, so a discover run spawns nothing.
TOML_SKELETON: dict[str, Any] = {
    "discovery": {"timeout": "5s", "max_concurrent_spawns": 2, "max_reply_bytes": "1MiB"},
    "cache": {"backend": "memory", "tool_ttl": "4h", "min_ttl": "1m"},
    "guardrails": {"servers": {"allow_plain_http": False}, "tools": {"denied_tools": ["rm_*"]}},
    "gateways": {
        "g": {
            "name": "G",
            "cache_ids": ["g1"],
            "servers": {
                "calc": {
                    "description": "d",
                    "command": "/nonexistent/mcp-server",
                    "args": ["--flag"],
                    "env": {"MODE": "x"},
                    "tools": {"add": {"description": "Add.", "inputSchema": {"type": "object"}}},
                    "denied_tools": ["drop_*"],
                },
                "web": {
                    "url": "https://mcp.example.com/mcp",
                    "headers": {"Authorization": "Bearer abc"},
                    "tools": {"search": "Search."},
                },
            },
        }
    },
}

# An Enkrypt skeleton that loads, likewise with listed tools.
ENKRYPT_SKELETON: dict[str, Any] = {
    "admin_apikey": "admin-key-0000000001",
    "common_mcp_gateway_config": {
        "enkrypt_tool_cache_expiration": 4,
        "timeout_settings": {"discovery_timeout": 5},
    },
    "mcp_configs": {
        "cfg": {
            "mcp_config_name": "n",
            "mcp_config": [
                {
                    "server_name": "echo",
                    "config": {"command": "/nonexistent/mcp-server", "args": ["e.py"]},
                    "tools": {"echo": "Echo."},
                    "denied_tools": [{"pattern": "x_*", "reason": "r"}],
                },
                {
                    "server_name": "remote",
                    "config": {"url": "https://mcp.example.com/mcp", "headers": {"X-Key": "k"}},
                    "tools": {"find": "Find."},
                },
            ],
        }
    },
    "projects": {"proj": {"mcp_config_id": "cfg"}},
    "apikeys": {"gw-key-000000000001": {"project_id": "proj", "user_id": "user"}},
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", "0", "-1s", "4x", "1e999", "\x00", "é", "a\r\nb", "${UNSET}", "*["]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
keys = st.one_of(st.text(max_size=12), st.sampled_from(["arg", "comand", "timout", "url", "env"]))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, skeleton: dict[str, Any]) -> dict[str, Any]:
    """The skeleton with one to three changes: a value replaced, a key added or removed."""
    doc = copy.deepcopy(skeleton)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        node: Any = doc
        for part in path:
            node = node[part]
        action = draw(st.sampled_from(["replace", "add", "remove"]))
        if action == "add" or not path:
            if isinstance(node, dict):
                node[draw(keys)] = draw(values)
            continue
        parent: Any = doc
        for part in path[:-1]:
            parent = parent[part]
        if action == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(values)
    return doc


@st.composite
def deep(draw: st.DrawFn) -> tuple[str, str]:
    """(TOML, JSON) texts of the TOML skeleton plus a key nested 65 to 5,000 levels deep
    (arrays and tables mixed), written without recursion."""
    depth = draw(st.sampled_from([65, 500, 5000]))
    kinds = draw(st.lists(st.booleans(), min_size=depth, max_size=depth))
    toml = (
        "".join("[" if k else "{k = " for k in kinds)
        + "1"
        + "".join("]" if k else "}" for k in reversed(kinds))
    )
    json_text = (
        "".join("[" if k else '{"k": ' for k in kinds)
        + "1"
        + "".join("]" if k else "}" for k in reversed(kinds))
    )
    skeleton = json.dumps(TOML_SKELETON)
    return (
        to_toml(TOML_SKELETON) + f"deep = {toml}\n",
        skeleton[:-1] + f', "deep": {json_text}}}',
    )


def toml_value(value: Any) -> str:
    """A value as a TOML inline value (strings JSON-escaped, which TOML reads the same)."""
    if value is None:
        return '""'  # TOML has no null: the nearest wrong value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return (
        "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    )


def to_toml(doc: dict[str, Any]) -> str:
    """A document as top-level ``key = value`` lines."""
    return "".join(f"{json.dumps(str(k))} = {toml_value(v)}\n" for k, v in doc.items())


option_names = st.one_of(st.sampled_from(sorted(OPTIONS)), st.text(max_size=10))
option_values = st.one_of(
    st.sampled_from(
        ["1", "0", "true", "no", "2.5", "-1", "abc", "", "nan", "inf", "3", "required"]
    ),
    st.text(max_size=8),
)


@st.composite
def redis_urls(draw: st.DrawFn, host: str | None = None) -> str:
    """URLs built from parts, valid and not: schemes, credentials, hosts, ports, databases,
    query options known and unknown with values of every type."""
    scheme = draw(st.sampled_from(["redis", "rediss", "unix", "http", "", "REDIS"]))
    user = draw(st.sampled_from(["", "u:pw@", ":p%40ss@", "user@", ":@"]))
    if host is None:
        host = draw(st.sampled_from(["localhost", "127.0.0.1", "[::1]", "", "a" * 70, "h_st", "é"]))
    port = draw(st.sampled_from(["", ":6379", ":0", ":99999", ":x", ":1"]))
    path = draw(st.sampled_from(["", "/", "/0", "/15", "/x", "/-1", "/run/r.sock"]))
    pairs = draw(st.lists(st.tuples(option_names, option_values), max_size=3))
    query = "&".join(f"{name}={value}" for name, value in pairs)
    raw = draw(st.sampled_from(["", "?", "#frag", "?a&&b"]))
    return f"{scheme}://{user}{host}{port}{path}" + (f"?{query}" if query else raw)
