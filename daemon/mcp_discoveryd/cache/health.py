"""The shared store's health as the daemon sees it, and the backoff between reconnects."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with equal jitter: half the delay fixed, half random."""

    initial: float = 0.5  # seconds
    maximum: float = 30.0
    factor: float = 2.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        ceiling = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


@dataclass(frozen=True, slots=True)
class Health:
    """Either "ok" or "degraded" (working from memory): since when, why, the next retry."""

    state: Literal["ok", "degraded"] = "ok"
    since: float | None = None  # UTC epoch seconds the current state began
    reason: str | None = None  # why the shared store is unusable (no secrets)
    attempts: int = 0  # failed reconnects in this outage
    next_retry_at: float | None = None
    written_back: int = 0  # entries written back when the store last returned

    @property
    def ok(self) -> bool:
        """True while the shared store is in use."""
        return self.state == "ok"


DEFAULT_BACKOFF = Backoff()
