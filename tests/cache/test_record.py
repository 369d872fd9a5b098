"""``Cache.record``: what a run's outcomes do to the entries held, for any sequence of runs."""

from __future__ import annotations

from functools import partial
from typing import Literal

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.cache.builders import catalog, gateway

from mcp_discoveryd.cache import Cache, MemoryBackend
from mcp_discoveryd.config.settings import CacheSettings
from mcp_discoveryd.models import CacheType, ErrorKind, ServerOutcome, UpstreamError

Kind = Literal["ok", "timeout", "partial", "crash", "stale", "blocked", "config"]
KINDS: list[Kind] = ["ok", "timeout", "partial", "crash", "stale", "blocked", "config"]
FAILED = {"timeout": ErrorKind.TIMEOUT, "partial": ErrorKind.PROTOCOL_ERROR}


def outcome(kind: Kind, tools: int) -> ServerOutcome:
    """One run's outcome for gw-1/server-a."""
    make = partial(ServerOutcome, "gw-1", "server-a")
    if kind == "ok":
        return make(status="success", source="discovery", catalog=catalog(tools))
    if kind == "config":
        return make(status="success", source="config", catalog=catalog(tools))
    if kind == "blocked":
        error = UpstreamError(ErrorKind.BLOCKED, "blocked by server guardrails")
        return make(status="blocked", source="config", error=error)
    error = UpstreamError(FAILED.get(kind, ErrorKind.SPAWN_FAILED), f"{kind} happened")
    if kind == "stale":  # served from the expired entry after a failed refresh
        return make(status="success", source="cache", stale=True, catalog=catalog(1), error=error)
    return make(status="error", source="discovery", error=error)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(1, 5)), min_size=1, max_size=8))
def test_failures_never_replace_data_and_are_counted(runs: list[tuple[Kind, int]]) -> None:
    """The held catalog is the last successful discovery's; failures since then are counted;
    blocked servers and config-served tools change nothing."""

    async def main() -> None:
        cache = Cache(CacheSettings(), memory=MemoryBackend())
        gw = gateway("gw-1", ("server-a",))
        last_ok: int | None = None
        failures = 0
        last_error: str | None = None
        for kind, tools in runs:
            await cache.record([outcome(kind, tools)], [gw])
            if kind == "ok":
                last_ok, failures, last_error = tools, 0, None
            elif kind in ("timeout", "partial", "crash", "stale") and last_ok is not None:
                failures += 1
                last_error = f"{kind} happened"
            held = await cache.get(CacheType.TOOLS, "gw-1", "server-a")
            if last_ok is None:
                assert held is None
                continue
            assert held is not None and held.catalog == catalog(last_ok)
            assert held.consecutive_failures == failures
            assert (held.last_error.message if held.last_error else None) == last_error
            assert held.definition == cache.fingerprint(gw.servers[0])

    anyio.run(main)


Step = Literal["record", "reload", "due", "clear"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["record", "reload", "due", "clear"]), min_size=1, max_size=10))
def test_the_gateway_config_entry_is_rewritten_only_when_changed_due_or_lost(
    steps: list[Step],
) -> None:
    """A run for one server leaves an unchanged, not yet due config entry alone (rewriting a
    2,000-server summary on each run was quadratic); a changed config, one due for refresh,
    or one cleared from memory is written again, and the entry always shows the config."""

    async def main() -> None:
        now = [1_000_000.0]
        cache = Cache(CacheSettings(), memory=MemoryBackend(), clock=lambda: now[0])
        servers = ["server-a"]
        gw = gateway("gw-1", tuple(servers))
        await cache.record([outcome("ok", 1)], [gw])
        for step in steps:
            before = cache.lookup(CacheType.GATEWAY_CONFIG, "gw-1", None)
            assert before is not None
            now[0] += 1.0
            expect_rewrite = step != "record"
            if step == "reload":  # a new config object with one more server
                servers.append(f"server-{len(servers)}")
                gw = gateway("gw-1", tuple(servers))
            elif step == "due":
                now[0] = before.refresh_at
            elif step == "clear":
                await cache.clear("gw-1", cache_type="gateway_config")
            await cache.record([outcome("ok", 1)], [gw])
            after = cache.lookup(CacheType.GATEWAY_CONFIG, "gw-1", None)
            assert after is not None and after.gateway_config is not None
            assert [s["name"] for s in after.gateway_config["servers"]] == servers
            assert (after.fetched_at != before.fetched_at) == expect_rewrite

    anyio.run(main)
