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
