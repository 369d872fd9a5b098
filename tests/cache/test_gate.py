"""The gate in front of the Redis pool: at most N round trips at once, the rest queued with
no timeout; work queued behind a failure fails at once instead of spending its own timeout."""

from __future__ import annotations

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_discoveryd.cache.gate import Gate
from mcp_discoveryd.errors import CacheBusyError, CacheUnavailableError


@settings(max_examples=50, deadline=None)
@given(size=st.integers(1, 5), ops=st.integers(1, 40))
def test_at_most_size_round_trips_run_at_once_and_every_queued_one_runs(
    size: int, ops: int
) -> None:
    gate = Gate(size, "redis")
    running = peak = done = 0

    async def op() -> None:
        nonlocal running, peak, done
        async with gate.admitted():
            running += 1
            peak = max(peak, running)
            await anyio.sleep(0.001)
            running -= 1
            done += 1

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(ops):
                tg.start_soon(op)

    anyio.run(main)
    assert done == ops
    assert peak == min(size, ops)


@settings(max_examples=50, deadline=None)
@given(outcomes=st.lists(st.booleans(), min_size=1, max_size=12))
def test_work_queued_before_a_failure_fails_at_once_and_later_work_runs(
    outcomes: list[bool],
) -> None:
    gate = Gate(1, "redis")
    ran: list[int] = []
    failed: list[int] = []

    async def op(i: int, ok: bool) -> None:
        try:
            async with gate.admitted():
                ran.append(i)
                await anyio.sleep(0.001)
                if not ok:
                    raise CacheUnavailableError("redis", "timed out")
        except CacheUnavailableError as exc:
            assert exc.reason == "timed out"  # the failure's own reason, passed on
            failed.append(i)

    async def main() -> None:
        async with anyio.create_task_group() as tg:  # all queued before the first one ends
            for i, ok in enumerate(outcomes):
                tg.start_soon(op, i, ok)
        await op(len(outcomes), True)  # queued after the failures: asks Redis again

    anyio.run(main)
    first_failure = outcomes.index(False) if False in outcomes else len(outcomes)
    assert ran == [*range(first_failure + 1)[: len(outcomes)], len(outcomes)]
    assert failed == list(range(first_failure, len(outcomes)))


async def test_a_cancelled_wait_gives_up_its_place_and_leaves_the_slot_to_others() -> None:
    gate = Gate(1, "redis")
    async with gate.admitted():
        with anyio.move_on_after(0.05):
            async with gate.admitted():
                pytest.fail("admitted while the only slot was held")
        assert gate.waiting == 0
    async with gate.admitted():  # the slot came back
        pass


@settings(max_examples=50, deadline=None)
@given(size=st.integers(1, 5), ops=st.integers(1, 30), busy=st.integers(0, 30))
def test_the_gate_counts_its_queue_its_peak_and_the_round_trips_that_found_it_busy(
    size: int, ops: int, busy: int
) -> None:
    """All started at once: every one past ``size`` queued, the queue peaked at that many,
    and each round trip whose pool wait ended busy is counted as exhausted."""
    gate = Gate(size, "redis")
    seen_waiting: list[int] = []

    async def op(i: int) -> None:
        try:
            async with gate.admitted():
                seen_waiting.append(gate.figures().waiting)
                await anyio.sleep(0.001)
                if i < busy:
                    raise CacheBusyError("redis", "no pooled connection came free in time")
        except CacheBusyError:
            pass

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for i in range(ops):
                tg.start_soon(op, i)

    anyio.run(main)
    figures = gate.figures()
    assert figures.queued == max(0, ops - size)
    assert figures.waiting_peak == max(0, ops - size)
    assert figures.waiting == 0 and figures.in_use == 0
    assert figures.exhausted == min(busy, ops)
    assert max(seen_waiting) <= max(0, ops - size)  # read while held: never past the peak
    assert figures.gave_up == 0  # only busy.py's bound gives up
