"""Remote handshakes: a few at a time, so each session reaches its listing early.

The client's event loop serves every session in turn. Started all at once,
50 remote sessions move in lock step: all connect, then all send
``initialize``, then all ``notifications/initialized``, then all
``tools/list``; the first listing goes out only once every handshake is done,
and the 50 replies come back together and queue for the one loop (measured
with 50 upstreams answering after 500 ms: the lists reached the server in
the last 30 ms of a 150-250 ms handshake phase, and the work after the last
reply took 40-100 ms). With a few handshakes in flight, sessions get to their
listing one after another while the others still shake hands, and each reply
is handled as it comes, while the loop would otherwise wait.

A slow network must not turn the gate into a queue: a session stops counting
once its handshake is done, or ``window`` seconds after its admission at the
latest (a far or stalled server), so sessions are admitted at
``slots / window`` a second at least, above what one loop starts in CPU. Its
deadline starts at its admission; the wait is reported as ``queue``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Self

import anyio
from anyio import AsyncContextManagerMixin
from anyio.abc import TaskStatus

# Handshakes in flight. Fewer spread the lists more evenly but cost the client more CPU
# (a step run for many sessions in a row is cheaper than steps interleaved): with 50
# upstreams, 8 took the stateless fan-out from 1.13x to 1.08x its floor at +23% CPU per
# upstream, 24 to 1.09x at +9%.
SLOTS = 24
WINDOW = 0.04  # seconds a handshake counts at most: 600 admissions a second at least


class HandshakeGate(AsyncContextManagerMixin):
    """Admits remote sessions to their handshake, ``slots`` at a time; ``async with`` runs it."""

    def __init__(self, slots: int | None = None, window: float | None = None) -> None:
        self.slots = SLOTS if slots is None else slots  # read late: tests set the module's
        self.window = WINDOW if window is None else window
        self._counted: dict[object, float] = {}  # admitted, by admission time (oldest first)
        self._waiters: deque[tuple[object, anyio.Event]] = deque()
        self._wake = anyio.Event()
        self._running = False

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncIterator[Self]:
        async with anyio.create_task_group() as tg:
            await tg.start(self._expire_windows)
            self._running = True
            try:
                yield self
            finally:
                self._running = False
                tg.cancel_scope.cancel()

    @property
    def counted(self) -> int:
        """Sessions in their handshake and within their window now."""
        return len(self._counted)

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[Callable[[], None]]:
        """Wait for a slot; yields the call that gives it back (the handshake is done)."""
        if not self._running:
            raise RuntimeError("HandshakeGate must be entered (async with) before admit")
        token = object()
        if self._waiters or len(self._counted) >= self.slots:
            admitted = anyio.Event()
            self._waiters.append((token, admitted))
            self._wake.set()
            try:
                await admitted.wait()
            except BaseException:
                if (token, admitted) in self._waiters:
                    self._waiters.remove((token, admitted))
                self._release(token)  # admitted as the cancellation came
                raise
        else:
            self._counted[token] = anyio.current_time()

        def release() -> None:
            self._release(token)

        try:
            yield release
        finally:
            self._release(token)

    def _release(self, token: object) -> None:
        if self._counted.pop(token, None) is not None:
            self._admit_waiters()

    def _admit_waiters(self) -> None:
        while self._waiters and len(self._counted) < self.slots:
            token, admitted = self._waiters.popleft()
            self._counted[token] = anyio.current_time()
            admitted.set()

    async def _expire_windows(self, *, task_status: TaskStatus[None]) -> None:
        """While someone waits, stop counting each handshake at the end of its window."""
        task_status.started()
        while True:
            if not self._waiters:
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            now = anyio.current_time()
            for token, admitted_at in list(self._counted.items()):
                if now - admitted_at < self.window:
                    break  # admission order: the rest are younger
                del self._counted[token]
            self._admit_waiters()
            if self._waiters and self._counted:
                oldest = next(iter(self._counted.values()))
                await anyio.sleep(max(0.0, oldest + self.window - anyio.current_time()))
