"""Cache counters and operation timings, kept where telemetry reads them.

Two ways in for telemetry: ``snapshot()`` for periodic (observable) readers, and
listeners called on every event for push-style instruments. Counters only grow.
Every method is thread-safe: an OpenTelemetry reader thread may take snapshots
while the event loop counts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

from ..models import CacheType

Tier = Literal["memory", "redis"]
Result = Literal["hit", "stale", "miss"]
# Whose read it was: the daemon's own (preload, refresh, lease checks) or a reader's
# (a gateway's catalog read over the control socket or the MCP tools).
Reader = Literal["daemon", "gateway"]
RequestKey = tuple[CacheType, Tier, Result, Reader]


class StatsListener(Protocol):
    """Receives each cache event as it happens (telemetry binds its instruments here)."""

    def on_request(self, cache_type: CacheType, tier: Tier, result: Result, reader: Reader) -> None:
        """One lookup: which tier answered (or was asked last), how it ended, for whom."""

    def on_operation(self, operation: str, backend: str, seconds: float, ok: bool) -> None:
        """One backend round trip and how long it took."""


@dataclass(frozen=True, slots=True)
class OperationStats:
    """Count, failures and durations of one (operation, backend) pair."""

    count: int = 0
    errors: int = 0
    total_s: float = 0.0
    max_s: float = 0.0

    def add(self, seconds: float, ok: bool) -> OperationStats:
        """These figures with one more operation."""
        return OperationStats(
            self.count + 1,
            self.errors + (0 if ok else 1),
            self.total_s + seconds,
            max(self.max_s, seconds),
        )


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """A consistent copy of every counter at one moment."""

    requests: dict[RequestKey, int]
    operations: dict[tuple[str, str], OperationStats]
    decode_errors: int

    def results(self, reader: Reader | None = None) -> dict[Result, int]:
        """Requests by result over every type and tier (one reader's, or everyone's)."""
        out: dict[Result, int] = {"hit": 0, "stale": 0, "miss": 0}
        for (_, _, result, whose), count in self.requests.items():
            if reader is None or whose == reader:
                out[result] += count
        return out


class CacheStats:
    """Hit/stale/miss counters by cache type and tier, and timings by operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[RequestKey, int] = {}
        self._operations: dict[tuple[str, str], OperationStats] = {}
        self._decode_errors = 0
        self._listeners: list[StatsListener] = []

    def add_listener(self, listener: StatsListener) -> None:
        """Call ``listener`` on every later event."""
        with self._lock:
            self._listeners = [*self._listeners, listener]

    def record_request(
        self, cache_type: CacheType, tier: Tier, result: Result, reader: Reader = "daemon"
    ) -> None:
        """Count one lookup, how it ended and whose it was."""
        key = (cache_type, tier, result, reader)
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1
            listeners = self._listeners
        for listener in listeners:
            listener.on_request(cache_type, tier, result, reader)

    def record_operation(self, operation: str, backend: str, seconds: float, ok: bool) -> None:
        """Count one backend operation (a Redis round trip, a memory scan) and its duration."""
        key = (operation, backend)
        with self._lock:
            self._operations[key] = self._operations.get(key, OperationStats()).add(seconds, ok)
            listeners = self._listeners
        for listener in listeners:
            listener.on_operation(operation, backend, seconds, ok)

    def record_decode_error(self) -> None:
        """Count one stored entry that could not be decoded (served as a miss)."""
        with self._lock:
            self._decode_errors += 1

    @contextmanager
    def timed(self, operation: str, backend: str) -> Iterator[None]:
        """Time the block as one operation; an exception counts it as failed."""
        started = time.perf_counter()
        ok = False
        try:
            yield
            ok = True
        finally:
            self.record_operation(operation, backend, time.perf_counter() - started, ok)

    def snapshot(self) -> StatsSnapshot:
        """Every counter, copied under the lock."""
        with self._lock:
            return StatsSnapshot(dict(self._requests), dict(self._operations), self._decode_errors)
