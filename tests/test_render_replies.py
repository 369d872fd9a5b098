"""Text from a daemon's answers: any JSON the socket hands back renders, and names show."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcp_discoveryd.render_replies import render_catalog, render_discovered, render_status

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
FIELDS = st.sampled_from(
    [
        "daemon",
        "servers",
        "backend",
        "available_servers",
        "tools",
        "error",
        "last_error",
        "fetched_at",
        "next_run_in_s",
        "uptime_s",
        "server_name",
        "blocked",
        "violations",
        "reasons",
    ]
)
REPLY = st.dictionaries(FIELDS | st.text(max_size=8), JSON, max_size=8)


@given(REPLY)
def test_any_answer_renders_without_an_error(reply: dict[str, object]) -> None:
    for render in (render_status, render_discovered, render_catalog):
        assert isinstance(render(reply), str)


@given(st.text(min_size=1, max_size=40))
def test_upstream_text_is_shown_on_one_printable_line(message: str) -> None:
    status = {
        "daemon": {"state": "ready"},
        "servers": [
            {"gateway": "g", "server": "s", "last_error": {"kind": "x", "message": message}}
        ],
    }
    row = render_status(status, now=0).splitlines()[-1]
    assert row.isprintable() and row.startswith("g")


def test_status_rows_say_how_long_ago_and_how_soon() -> None:
    status = {
        "daemon": {
            "version": "1",
            "state": "ready",
            "uptime_s": 3725,
            "backend": {"name": "redis", "health": "degraded", "reason": "down"},
        },
        "servers": [
            {
                "gateway": "g",
                "server": "s",
                "state": "idle",
                "entry": "stale",
                "tool_count": 4,
                "fetched_at": "1970-01-01T00:01:00Z",
                "next_run_in_s": -5,
            }
        ],
    }
    text = render_status(status, now=190)
    assert "up 1h02m" in text and "cache redis degraded (down)" in text
    assert text.splitlines()[-1].split()[:7] == ["g", "s", "idle", "stale", "4", "2m10s", "ago"]
    assert text.rstrip().endswith("overdue 5s")


def test_status_lists_oauth_tokens_held_and_when_they_expire() -> None:
    """The OAuth table: one row per protected server, the token never (it is not in the reply)."""
    status = {
        "daemon": {
            "state": "ready",
            "oauth": [
                {
                    "gateway": "g",
                    "server": "crm",
                    "client_id": "mcpd",
                    "token_held": True,
                    "expires_at": "1970-01-01T00:05:00Z",
                    "last_error": None,
                },
                {
                    "gateway": "g",
                    "server": "hr",
                    "client_id": "mcpd",
                    "token_held": False,
                    "expires_at": None,
                    "last_error": "token endpoint refused (invalid_client)",
                },
            ],
        },
        "servers": [],
    }
    lines = render_status(status, now=60).splitlines()
    assert lines[-3].split() == ["GATEWAY", "SERVER", "CLIENT", "TOKEN", "EXPIRES", "LAST", "ERROR"]
    assert lines[-2].split() == ["g", "crm", "mcpd", "held", "in", "4m00s", "-"]
    assert lines[-1].split()[:5] == ["g", "hr", "mcpd", "none", "-"]
    assert "invalid_client" in lines[-1]


def test_status_shows_the_redis_pool_queue_and_busy_counts_under_the_head_line() -> None:
    pool = {"size": 63, "in_use": 2, "waiting": 5, "waiting_peak": 412}
    pool |= {"queued": 9120, "exhausted": 3, "gave_up": 1}
    status = {
        "daemon": {"state": "ready", "backend": {"name": "redis", "health": "ok"}},
        "servers": [],
        "cache_status": {"gateway_specific": None, "global": {"pool": pool}},
    }
    lines = render_status(status, now=0).splitlines()
    assert lines[1] == (
        "redis pool: 2/63 in use, 5 waiting (peak 412); 9120 queued, 3 found it exhausted, "
        "1 gave up after busy_wait"
    )
    memory = {**status, "cache_status": {"gateway_specific": None, "global": {"pool": None}}}
    assert "pool" not in render_status(memory, now=0)
