"""The admission gate's arithmetic under generated sequences of arrivals, handshakes and exits.

Policy "handshake" with a window longer than the test, so no process and no
clock is involved: each starting ticket counts as one busy starter. After
every step: the cap holds, the starters fit the budget, admission is in
arrival order, and nobody waits while both a live slot and a core are free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_discoveryd.discovery.admission import SpawnAdmission, Ticket


@dataclass
class _Holder:
    index: int
    ticket: Ticket
    done: anyio.Event = field(default_factory=anyio.Event)


async def _drive(cap: int, cores: int, ops: list[str]) -> None:
    admitted: list[_Holder] = []
    gate = SpawnAdmission(cap, policy="handshake", cores=cores, overcommit=1, window=3600)
    async with gate, anyio.create_task_group() as tg:

        async def spawn(index: int) -> None:
            async with gate.admit() as ticket:
                holder = _Holder(index, ticket)
                admitted.append(holder)
                await holder.done.wait()

        arrived = 0
        for op in ops:
            live = [h for h in admitted if not h.done.is_set()]
            if op == "arrive":
                tg.start_soon(spawn, arrived)
                arrived += 1
            elif op == "handshake" and (starting := [h for h in live if h.ticket.starting]):
                starting[0].ticket.release()
            elif op == "exit" and live:
                live[0].done.set()
            await anyio.wait_all_tasks_blocked()
            live = [h for h in admitted if not h.done.is_set()]
            starters = sum(1 for h in live if h.ticket.starting)
            waiting = arrived - len(admitted)
            assert gate.stats.in_flight == len(live) <= cap
            assert starters <= cores
            assert [h.index for h in admitted] == list(range(len(admitted)))  # arrival order
            assert waiting == 0 or len(live) == cap or starters == cores
        for holder in admitted:
            holder.done.set()
        tg.cancel_scope.cancel()


@settings(max_examples=60, deadline=None)
@given(
    cap=st.integers(1, 5),
    cores=st.integers(1, 3),
    ops=st.lists(st.sampled_from(["arrive", "handshake", "exit"]), max_size=30),
)
def test_the_gate_keeps_the_cap_the_budget_the_order_and_never_stalls(
    cap: int, cores: int, ops: list[str]
) -> None:
    """Any sequence of arrivals, handshakes and exits keeps every invariant of the gate."""
    anyio.run(_drive, cap, cores, ops)
