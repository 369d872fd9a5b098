"""The server actor: one per (gateway, server) that needs discovery.

It owns its server's discovery (the per-server path of ``run_discovery``: the
server guardrails, the fetch, the tool guardrails, the cache record), the refresh
timer (the entry's ``refresh_at``, which the cache set at about 80 % of the TTL
with jitter), the backoff after failures, and the single flight: requests that
arrive while a discovery runs wait in the mailbox and get that discovery's
outcome when it ends; they never start another.

Across daemons on one Redis, each upstream discovery is taken under the key's lease
(``coordination.take_turn``): refused, the actor waits for the holder's result and
reschedules from it. Alone, or with Redis unreachable, every lease is granted.

The cache alone decides what a failure does to the entry it holds (kept, served
stale until ``stale_until``); the actor only reschedules. State is shown as a
frozen ``ActorState`` replaced whole, so readers never see it half-written.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream

from ..cache.health import Backoff
from ..cache.lease import LocalCoordinator
from ..discovery.phases import run_discovery
from ..discovery.selection import Selection
from ..errors import CacheBusyError
from ..models import CacheEntry, CacheType, ServerOutcome
from ..telemetry import record
from .coordination import RunCache, kept, reread, take_turn
from .deps import ActorDeps
from .messages import (
    ActorState,
    ListChanged,
    Message,
    Reply,
    Request,
    Trigger,
    Update,
    interrupted,
)
from .schedule import due_after_success, refresh_due

logger = logging.getLogger(__name__)


class ServerActor:
    """Discovers one server on request and on its refresh timer, one discovery at a time."""

    def __init__(
        self,
        selection: Selection,
        deps: ActorDeps,
        mailbox: MemoryObjectReceiveStream[Message],
        *,
        on_state: Callable[[ActorState], None],
        preloaded: anyio.Event,
        state: ActorState | None = None,
        first: Trigger = "preload",
    ) -> None:
        self.selection = selection
        self._first = first  # the first discovery's trigger: preload, or reload (added by one)
        self._deps = deps
        self._mailbox = mailbox
        self._on_state = on_state
        self._preloaded = preloaded  # set once the first discovery ended
        self._state = state or ActorState()
        backoff = deps.settings
        self._backoff = Backoff(backoff.retry_initial, backoff.retry_max)
        self._changed = False  # a ListChanged arrived during a discovery: one more follows
        self._scheduled_from: float | None = None  # fetched_at of the entry next_run_at is from

    @property
    def state(self) -> ActorState:
        """The latest state (frozen)."""
        return self._state

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until the mailbox is closed; a preload discovery first, unless one happened."""
        task_status.started()
        replies: list[Reply] = []
        try:
            trigger: Trigger | None = self._first if not self._preloaded.is_set() else None
            refresh = False
            while True:
                if trigger is None:
                    message, trigger = await self._next()
                    if message is None and trigger is None:
                        return  # mailbox closed and nothing in flight: stopped
                    if isinstance(message, Update):
                        self.selection, trigger = message.selection, None
                        continue
                    refresh = True if message is None else message.refresh
                    if isinstance(message, Request):
                        replies.append(message.reply)
                    elif isinstance(message, ListChanged):
                        trigger = "list_changed"
                    message = None  # a request holds its reply: not kept while idle
                assert trigger is not None
                if await self._answer(trigger, refresh, replies):
                    return
                # A change announced during the run may have been listed before it happened.
                trigger, self._changed = ("list_changed" if self._changed else None), False
                refresh = True
        finally:
            for reply in replies:  # a crash or a cancel: nobody is left waiting forever
                reply.set(interrupted(self.selection, "discovery interrupted"))
            self._set(phase="stopped")

    async def _answer(self, trigger: Trigger, refresh: bool, replies: list[Reply]) -> bool:
        """One discovery, its outcome to every waiter; True when the mailbox is closed.

        The outcome is not kept past this call: held by an idle actor, its catalog (decoded)
        was most of a loaded daemon's memory.
        """
        outcome = await self._discover(trigger, refresh)
        closed = self._drain(replies)
        for reply in replies:
            reply.set(outcome)
        replies.clear()
        return closed

    async def _next(self) -> tuple[Message | None, Trigger | None]:
        """The next message, or the timer firing (None, trigger); (None, None) when closed."""
        while True:  # the due time is read again when it comes: another daemon may have moved it
            with anyio.move_on_after(self._delay()):
                try:
                    message = await self._mailbox.receive()
                except anyio.EndOfStream:
                    return None, None
                return message, "manual"
            if self._delay() <= 0:
                return None, "retry" if self._state.failures else "refresh"

    def _drain(self, replies: list[Reply]) -> bool:
        """Join every request that arrived during the run; True when the mailbox is closed."""
        while True:
            try:
                message = self._mailbox.receive_nowait()
            except anyio.WouldBlock:
                return False
            except anyio.EndOfStream:
                return True
            if isinstance(message, Update):
                self.selection = message.selection
            elif isinstance(message, ListChanged):
                self._changed = True
            else:
                replies.append(message.reply)

    async def _discover(self, trigger: Trigger, refresh: bool) -> ServerOutcome:
        deps, sel = self._deps, self.selection
        refresh = refresh or trigger in ("refresh", "retry")
        held = await reread(deps.cache, sel)
        if trigger == "refresh" and held is not None and held.refresh_at > deps.clock():
            refresh = False  # refreshed elsewhere since our timer was set: reschedule from it
        try:
            outcome = await self._turn(trigger, refresh, held)
        except CacheBusyError as exc:
            # Redis's pool stayed busy past busy_wait for the lease (a write is owed, never
            # raised): a failure as data, so the actor backs off instead of a restart.
            outcome = interrupted(sel, str(exc))
        if held is not None and outcome.ok and outcome.source == "discovery":
            # how long before the entry it replaced expired (negative: late)
            lead = held.expires_at - deps.clock()
            record.refresh_lead(sel.gateway.id, sel.spec.name, trigger, lead)
        self._after(outcome, trigger)
        self._preloaded.set()
        return outcome

    async def _turn(
        self, trigger: Trigger, refresh: bool, held: CacheEntry | None
    ) -> ServerOutcome:
        """Our turn at the key (the lease, or another daemon's result), then the run."""
        deps, sel = self._deps, self.selection
        lease = None
        if refresh or held is None or held.freshness(deps.clock()) != "fresh":
            lease = await take_turn(
                deps.coordinator,
                deps.cache,
                sel,
                lease_ttl=deps.settings.lease_ttl,
                wait_limit=sel.spec.timeout + deps.settings.lease_ttl,
                before=held.fetched_at if held is not None else None,
                on_wait=lambda: self._set(phase="waiting", note="another daemon is discovering"),
            )
            refresh = refresh and lease is not None  # no lease: another daemon's result, read it
        self._set(phase="discovering")
        try:
            async with kept(lease, deps.settings.lease_ttl):
                report = await run_discovery(
                    deps.config,
                    deps.fetcher,
                    cache=RunCache(deps.cache),
                    refresh=refresh,
                    selections=[sel],
                    checks=deps.checks,
                    trigger=trigger,
                )
        finally:
            if lease is not None:
                await lease.release()  # shielded and bounded: also when cancelled
        return report.outcomes[0]

    def _after(self, outcome: ServerOutcome, trigger: Trigger) -> None:
        """Reschedule from the outcome and the entry the cache now holds, and say so."""
        now = self._deps.clock()
        name = f"{outcome.gateway_id}/{outcome.server_name}"
        entry = self._entry()
        runs = self._state.runs + 1
        if outcome.status == "blocked":
            self._set(
                phase="blocked",
                runs=runs,
                failures=0,
                last_status="blocked",
                last_error=outcome.error,
                last_run_at=now,
                next_run_at=None,
                note="blocked by server guardrails: " + "; ".join(outcome.violations),
            )
            logger.warning("%s %s: blocked (%s)", trigger, name, "; ".join(outcome.violations))
            return
        if outcome.error is None:
            due = due_after_success(
                entry, now, shared=self._shared, backoff=self._backoff, rng=self._deps.rng
            )
            self._scheduled_from = entry.fetched_at if entry is not None else None
            self._set(
                phase="idle",
                runs=runs,
                failures=0,
                last_status=outcome.status,
                last_error=None,
                last_run_at=now,
                next_run_at=due,
                note="",
            )
            logger.info(
                "%s %s: ok, %d tool(s)%s from %s in %.2fs; next refresh in %.0fs",
                trigger,
                name,
                len(outcome.catalog.tools),
                f" ({len(outcome.blocked_tools)} blocked)" if outcome.blocked_tools else "",
                outcome.source,
                outcome.duration_s,
                max(0.0, due - now),
            )
            return
        failures = self._state.failures + 1
        due = now + self._backoff.delay(failures - 1, self._deps.rng)
        error = outcome.error
        if entry is not None:
            note = f"serving the entry of {_ago(now - entry.fetched_at)} ago"
            note += f" (stale until {_clock(entry.stale_until)})" if now >= entry.expires_at else ""
        else:
            note = "no entry to serve (past its stale_until, or never fetched)"
        self._set(
            phase="backoff",
            runs=runs,
            failures=failures,
            last_status=outcome.status,
            last_error=error,
            last_run_at=now,
            next_run_at=due,
            note=f"{failures} failed discover{'y' if failures == 1 else 'ies'}; {note}",
        )
        logger.warning(
            "%s %s failed (%s: %s); %s; retry in %.1fs",
            trigger,
            name,
            error.kind.value,
            error.message,
            note,
            due - now,
        )

    def _delay(self) -> float:
        """Seconds until the next refresh or retry (inf: only a message wakes the actor).

        While idle the entry's own ``refresh_at`` counts, read again each time: whoever
        wrote the entry last (a manual refresh, another daemon) moved it.
        """
        due = self._state.next_run_at
        if due is None:
            return math.inf
        if self._state.phase == "idle":
            entry = self._entry()
            if entry is None:
                self._set(note="entry gone (evicted or cleared); refreshing")
                return 0.0
            written = entry.fetched_at != self._scheduled_from
            if written and entry.refresh_at > self._deps.clock():
                # written since we scheduled (a manual refresh, another daemon): from it
                due = self._due(entry)
                self._scheduled_from = entry.fetched_at
                self._set(next_run_at=due)
        return max(0.0, due - self._deps.clock())

    def _due(self, entry: CacheEntry) -> float:
        return refresh_due(entry, shared=self._shared, rng=self._deps.rng)

    @property
    def _shared(self) -> bool:
        """True on a shared Redis: other daemons may refresh our entries first."""
        return not isinstance(self._deps.coordinator, LocalCoordinator)

    def _entry(self) -> CacheEntry | None:
        sel = self.selection
        return self._deps.cache.lookup(CacheType.TOOLS, sel.gateway.id, sel.spec.name)

    def _set(self, **changes: object) -> None:
        self._state = replace(self._state, **changes)  # type: ignore[arg-type]
        self._on_state(self._state)


def _ago(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))
