"""What a server actor is sent (its mailbox), what it answers, and the state it shows.

Every value here is frozen except ``Reply``, a one-shot slot that only the actor
fills and only the requester reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import anyio

from ..discovery.selection import Selection
from ..models import ErrorKind, ServerOutcome, UpstreamError

Phase = Literal[
    "starting", "waiting", "discovering", "idle", "backoff", "blocked", "failed", "stopped"
]
Trigger = Literal["preload", "reload", "refresh", "retry", "manual", "list_changed"]


class Reply:
    """Where an actor puts the outcome a requester waits for (set once)."""

    def __init__(self) -> None:
        self._done = anyio.Event()
        self._outcome: ServerOutcome | None = None

    def set(self, outcome: ServerOutcome) -> None:
        """Answer; later answers are ignored (the first one wins)."""
        if self._outcome is None:
            self._outcome = outcome
            self._done.set()

    async def wait(self) -> ServerOutcome:
        """The outcome, once the actor answered."""
        await self._done.wait()
        assert self._outcome is not None
        return self._outcome


@dataclass(frozen=True, slots=True)
class Request:
    """Discover now (``refresh``: ask the upstream even when the entry is fresh), or join."""

    refresh: bool
    reply: Reply


@dataclass(frozen=True, slots=True)
class Update:
    """The server's definition is unchanged but its gateway changed: use this selection."""

    selection: Selection


@dataclass(frozen=True, slots=True)
class ListChanged:
    """The server said its lists changed (a watched session, debounced): refresh at once."""

    kinds: frozenset[str]  # "tools", "prompts", "resources"
    refresh: bool = True  # always asks the upstream: the entry is known to be out of date


Message = Request | Update | ListChanged


@dataclass(frozen=True, slots=True)
class ActorState:
    """What one server actor shows to status: replaced whole, never mutated."""

    phase: Phase = "starting"
    runs: int = 0  # discoveries ended (upstream or cache)
    failures: int = 0  # consecutive failed discoveries
    last_status: str | None = None  # the last outcome's status ("success", "error", ...)
    last_error: UpstreamError | None = None
    last_run_at: float | None = None  # wall clock
    next_run_at: float | None = None  # wall clock: the next refresh or retry
    restarts: int = 0  # crashes the supervisor restarted this actor after
    note: str = ""  # why, in words (an entry gone past its grace, a crash loop, ...)


def interrupted(selection: Selection, why: str) -> ServerOutcome:
    """The outcome a requester gets when the actor stopped before answering."""
    return ServerOutcome(
        gateway_id=selection.gateway.id,
        server_name=selection.spec.name,
        status="error",
        source="discovery",
        error=UpstreamError(ErrorKind.INTERNAL, why),
    )
