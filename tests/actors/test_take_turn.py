"""``take_turn`` over generated lease histories: a lease only when granted and nobody wrote a
newer result; every lease not handed back is released; bounded waits; never a spin."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.cache.builders import entry, gateway

from mcp_discoveryd.actors.coordination import MAX_WAITS, take_turn
from mcp_discoveryd.cache.lease import Lease, WaitResult
from mcp_discoveryd.discovery.selection import Selection
from mcp_discoveryd.models import CacheEntry, CacheType

BEFORE = time.time() - 60  # the fetched_at held when the turn came (fresh for hours)


@dataclass
class ScriptedLease:
    released: bool = False
    degraded: bool = False

    async def release(self) -> bool:
        self.released = True
        return True

    async def renew(self, ttl_s: float | None = None) -> bool:
        return True


@dataclass
class Script:
    """Per attempt: granted?, what the wait returns, and whether a newer entry is then in."""

    steps: list[tuple[bool, WaitResult, bool]]
    attempt: int = 0
    leases: list[ScriptedLease] = field(default_factory=list)
    newer: bool = False

    async def try_acquire(self, gateway_id: str, server_name: str, ttl_s: float) -> Lease | None:
        granted, _, _ = self.steps[min(self.attempt, len(self.steps) - 1)]
        if not granted:
            return None
        self.leases.append(ScriptedLease())
        return self.leases[-1]

    async def wait_for_update(
        self,
        gateway_id: str,
        server_name: str,
        timeout: float,  # noqa: ASYNC109  # the protocol's
    ) -> WaitResult:
        _, result, newer = self.steps[min(self.attempt, len(self.steps) - 1)]
        self.attempt += 1
        self.newer = self.newer or newer
        return result


@dataclass
class Memory:
    script: Script
    newer_from_start: bool

    def lookup(
        self, cache_type: CacheType, gateway_id: str, server_name: str | None
    ) -> CacheEntry | None:
        newer = self.newer_from_start or self.script.newer
        return entry(
            "gw-1", "server-a", fetched_at=BEFORE + 1 if newer else BEFORE, now=time.time()
        )


steps = st.lists(
    st.tuples(
        st.booleans(), st.sampled_from(["updated", "cleared", "released", "timeout"]), st.booleans()
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(steps=steps, newer_from_start=st.booleans())
def test_a_turn_is_a_lease_only_when_granted_and_nobody_wrote_newer(
    steps: list[tuple[bool, WaitResult, bool]], newer_from_start: bool
) -> None:
    script = Script(steps)
    memory = Memory(script, newer_from_start)
    gw = gateway("gw-1", ("server-a",))
    sel = Selection(gw, gw.servers[0])
    waits: list[int] = []

    async def turn() -> Lease | None:
        return await take_turn(
            script,
            memory,  # type: ignore[arg-type]  # lookup is all take_turn reads of a non-Redis cache
            sel,
            lease_ttl=1.0,
            wait_limit=1.0,
            before=BEFORE,
            on_wait=lambda: waits.append(1),
        )

    got = anyio.run(turn)
    assert len(waits) <= MAX_WAITS  # bounded, whatever the holder does
    if got is not None:
        assert got is script.leases[-1] and not script.newer and not newer_from_start
    for lease in script.leases:  # every lease taken and not handed back is released
        assert lease.released == (lease is not got)
    refused_throughout = not any(granted for granted, _, _ in steps[:MAX_WAITS])
    if got is None and not (newer_from_start or script.newer):
        assert refused_throughout or len(waits) == MAX_WAITS
