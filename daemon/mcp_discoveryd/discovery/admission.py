"""Stdio spawn admission: a new server starts while the starting ones leave a core idle.

A fixed count of live children wastes the machine whenever a child sleeps
(``npx``/``uvx`` fetching packages, a server waiting before it serves, a hang),
and spawning everything at once makes 50 Python servers share 2 cores so that
all miss their deadlines. The controller follows what the starting children
really do:

- every ``SAMPLE_INTERVAL`` while someone waits, it reads the state of each
  starting child and of its descendants (``npx`` and ``uvx`` start
  grandchildren) from ``/proc/PID/stat``; a child's *demand* is how many of
  its processes are runnable (``R``), rising at once and falling by
  ``DECAY`` per quiet sample. Runnable, not CPU time: on a loaded machine a
  child that waits for a core still wants one, while its CPU time would
  under-report it; and a CPU rate needs two samples before it says anything
  (measured with ``schedstat``: four times the queueing on I/O-bound starts,
  no gain on CPU-bound ones);
- a waiter is admitted while the starting children's demand, rounded up per
  child, stays below ``OVERCOMMIT`` starters per core (a child not sampled yet
  counts as one). One per core, measured (README): two per core kept the
  cores no busier, but the starters slowed one another (their CPU 1.16x of
  theirs alone against 1.05x), which cost 10-15% of the wall time on
  CPU-bound starts; the price is a little more queueing on I/O-bound ones,
  which the short ``SAMPLE_INTERVAL`` keeps small;
- a child stops counting when its session is initialised (``release``), or
  ``ADMISSION_WINDOW`` after its admission at the latest, so a hung or
  spinning server holds the others back for that long at most;
- ``cap`` bounds the live children whatever they do: the safety bound.

Policies: ``"cpu"`` (the above; on a system without ``/proc`` it falls back to
``"handshake"``), ``"handshake"`` (every starting child counts as busy until
its handshake or the window), ``"count"`` (only the cap: the
fixed limit of earlier versions, held from spawn until the process is gone).
Nothing runs while nobody waits: the sampler sleeps on an event. While
someone waits and nothing changes (every starter busy, no admission), each
quiet sample doubles the wait up to ``SAMPLE_INTERVAL_MAX``: on a loaded VM a
wake-up alone costs about 0.1 ms of CPU, two thirds of a sample of four
starters. An admission brings the next sample back to ``SAMPLE_INTERVAL``
after it (the new child is seen soon after it starts), a handshake admits at
once without a sample, and the end of a starter's window is never overslept.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self

import anyio
from anyio import AsyncContextManagerMixin
from anyio.abc import TaskStatus

Policy = Literal["cpu", "handshake", "count"]

SAMPLE_INTERVAL = 0.005  # seconds between samples while a spawn waits and the picture moves
SAMPLE_INTERVAL_MAX = 0.1  # ... while it stands still (each quiet sample doubles the wait)
DECAY = 0.25  # a child not runnable at a sample keeps this share of its demand
IDLE_DEMAND = 0.3  # below this (one quiet sample) a child is taken as waiting
HEADROOM = 0.5  # admit while the starting children leave this much of the budget free
OVERCOMMIT = 1.0  # runnable starters per core: at 2.0 they slow one another (module docstring)
ADMISSION_WINDOW = 2.0  # seconds a starting child counts at most
# The window also caps the admission rate of starters that outlive it (a spinning or hung
# server still runnable) at the budget per window, 2 per 2 s on 2 cores; a starter that
# finishes its handshake stops counting at once, whatever the window.
PROC = Path("/proc")


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class SpawnStats:
    """Stdio spawns: in flight now, the most ever in flight at once, and the total."""

    in_flight: int
    peak: int
    total: int


@dataclass(eq=False)
class Ticket:
    """One admitted spawn: counts against the CPU budget until released or out of its window."""

    admission: SpawnAdmission
    pid: Callable[[], int | None] = lambda: None  # the child's pid once it is spawned
    admitted_at: float = 0.0
    demand: float = 1.0  # runnable processes, smoothed; a child not sampled yet counts fully
    starting: bool = True

    def follow(self, pid: Callable[[], int | None]) -> None:
        """Sample the process whose pid ``pid()`` returns once it is spawned."""
        self.pid = pid

    def release(self) -> None:
        """The server is up (handshake done): its share goes back to the waiters."""
        if self.starting:
            self.starting = False
            self.admission._admit_waiters()


@dataclass(eq=False)
class _Waiter:
    ticket: Ticket
    admitted: anyio.Event = field(default_factory=anyio.Event)


class SpawnAdmission(AsyncContextManagerMixin):
    """Decides when a stdio server may spawn; ``async with`` owns the sampling task."""

    def __init__(
        self,
        cap: int,
        *,
        policy: Policy = "cpu",
        cores: int | None = None,
        window: float | None = None,
        overcommit: float | None = None,
    ) -> None:
        if policy == "cpu" and not (PROC / "self" / "stat").exists():
            policy = "handshake"
        self.policy: Policy = policy
        self.cores = cores if cores is not None else available_cores()
        self._window = ADMISSION_WINDOW if window is None else window  # read late: tests set it
        self._budget = self.cores * (OVERCOMMIT if overcommit is None else overcommit)
        self._cap = anyio.CapacityLimiter(cap)
        self._starting: list[Ticket] = []
        self._waiters: deque[_Waiter] = deque()
        self._wake = anyio.Event()  # someone waits: the sampler starts
        self._nudge = anyio.Event()  # someone was admitted: the sampler looks at it soon
        self._running = False
        self._in_flight = self._peak = self._total = 0

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncIterator[Self]:
        async with anyio.create_task_group() as tg:
            if self.policy != "count":
                await tg.start(self._run)
            self._running = True
            try:
                yield self
            finally:
                self._running = False
                tg.cancel_scope.cancel()

    @property
    def stats(self) -> SpawnStats:
        """Admitted spawns now, at most at once, and in total."""
        return SpawnStats(self._in_flight, self._peak, self._total)

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[Ticket]:
        """Wait for a live-child slot and for CPU; the slot is held until the block ends."""
        if not self._running:
            raise RuntimeError("SpawnAdmission must be entered (async with) before admit")
        ticket = Ticket(self)
        await self._cap.acquire_on_behalf_of(ticket)  # the ticket borrows: one task may hold two
        try:
            if self.policy != "count":
                await self._wait_for_cpu(ticket)
            ticket.admitted_at = anyio.current_time()
            self._in_flight += 1
            self._total += 1
            self._peak = max(self._peak, self._in_flight)
            try:
                yield ticket
            finally:
                self._in_flight -= 1
                ticket.starting = False
                if ticket in self._starting:
                    self._starting.remove(ticket)
                self._admit_waiters()
        finally:
            self._cap.release_on_behalf_of(ticket)

    async def _wait_for_cpu(self, ticket: Ticket) -> None:
        waiter = _Waiter(ticket)
        self._waiters.append(waiter)
        self._admit_waiters()
        if waiter.admitted.is_set():
            return
        self._wake.set()
        try:
            await waiter.admitted.wait()
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif ticket in self._starting:  # admitted as the cancellation came
                self._starting.remove(ticket)
                self._admit_waiters()
            raise

    def load(self) -> float:
        """Cores the starting children want now, each rounded up once it is busy."""
        now = anyio.current_time()
        self._starting = [
            t for t in self._starting if t.starting and now - t.admitted_at < self._window
        ]
        return sum(1.0 if t.demand >= IDLE_DEMAND else t.demand for t in self._starting)

    def _admit_waiters(self) -> None:
        """Admit waiters in arrival order while the starting children leave a core free."""
        while self._waiters and self.load() + HEADROOM <= self._budget:
            waiter = self._waiters.popleft()
            waiter.ticket.admitted_at = anyio.current_time()
            self._starting.append(waiter.ticket)
            waiter.admitted.set()
            self._nudge.set()

    def _picture(self) -> tuple[object, ...]:
        """What a sample may change: who is starting and who of them is busy, who waits."""
        busy = tuple((id(t), t.demand >= IDLE_DEMAND) for t in self._starting)
        return (busy, len(self._waiters))

    def _next_sample(self, interval: float) -> float:
        """``interval``, cut short to the end of the first starter's window."""
        ends = [t.admitted_at + self._window for t in self._starting]
        return max(0.0, min([interval, *(end - anyio.current_time() for end in ends)]))

    async def _run(self, *, task_status: TaskStatus[None]) -> None:
        """Sample while someone waits, less often while nothing moves; sleep on an event otherwise."""
        task_status.started()
        interval, seen = SAMPLE_INTERVAL, self._picture()
        while True:
            if not self._waiters:
                self._wake = anyio.Event()
                await self._wake.wait()
                interval = SAMPLE_INTERVAL
                continue
            if self.policy == "cpu":
                for ticket in self._starting:
                    pid = ticket.pid()
                    if pid is not None:  # up at once, down by halves: one quiet sample is noise
                        ticket.demand = max(runnable(pid), ticket.demand * DECAY)
            self._admit_waiters()
            now = self._picture()
            moved, seen = now != seen, now
            interval = SAMPLE_INTERVAL if moved else min(2 * interval, SAMPLE_INTERVAL_MAX)
            self._nudge = anyio.Event()
            with anyio.move_on_after(self._next_sample(interval)):
                await self._nudge.wait()
            if self._nudge.is_set():  # admitted outside a sample: look once the child runs
                interval = SAMPLE_INTERVAL
                await anyio.sleep(SAMPLE_INTERVAL)


def runnable(pid: int) -> int:
    """Processes in state R in ``pid``'s tree (itself and its descendants); 0 once it is gone.

    Read with bare ``os`` calls, twice per process and sample: ``Path.read_text``
    cost 57 us of this process's CPU per child and sample (four times more).
    """
    count = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        stat = _read(f"{PROC}/{current}/stat")
        if not stat:  # gone
            continue
        count += stat[stat.rindex(b")") + 2] == ord("R")  # the name in (...) may hold spaces
        # Empty on a kernel without CONFIG_PROC_CHILDREN: the process itself only.
        todo.extend(int(c) for c in _read(f"{PROC}/{current}/task/{current}/children").split())
    return count


def _read(path: str, size: int = 4096) -> bytes:
    """The whole of a small /proc file; empty when it (or its process) is gone.

    Read to the end: the kernel hands out a page or less per read, whole records only.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return b""
    try:
        chunks = []
        while chunk := os.read(fd, size):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:  # gone between the open and the read
        return b""
    finally:
        os.close(fd)
