"""The server actors' supervisor: starts, restarts, updates and stops them.

Each actor runs under ``_supervise``, started with ``TaskGroup.start``: the
handshake returns once the actor exists and reads its mailbox. An actor that
raises is restarted after an exponential backoff; past ``restart_limit`` crashes
within ``restart_window`` it is marked failed (its server is served from what
the cache holds until that runs out) and requests to it are answered at once.

The mailbox outlives a restart: requests queued during a crash are served by the
next incarnation.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass, field, replace

import anyio
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..cache.health import Backoff
from ..discovery.selection import Selection
from ..models import ServerOutcome
from ..telemetry import record
from .deps import ActorDeps
from .messages import ActorState, Message, Reply, Request, Trigger, Update, interrupted
from .server import ServerActor

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (gateway id, server name)
MAILBOX = 64  # requests queued per actor before senders wait (backpressure)
RESTART_BACKOFF = Backoff(initial=0.1, maximum=10.0)


@dataclass(eq=False)
class Handle:
    """The supervisor's record of one actor: its mailbox, scope and last published state."""

    selection: Selection
    deps: ActorDeps
    send: MemoryObjectSendStream[Message]
    receive: MemoryObjectReceiveStream[Message]
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    preloaded: anyio.Event = field(default_factory=anyio.Event)
    done: anyio.Event = field(default_factory=anyio.Event)
    state: ActorState = field(default_factory=ActorState)
    first: Trigger = "preload"  # what its first discovery is reported as ("reload": added by one)

    def publish(self, state: ActorState) -> None:
        """The actor's own state, as it replaces it (status reads it from here)."""
        self.state = state


class ActorSet:
    """The running server actors, by (gateway id, server name)."""

    def __init__(self, tg: TaskGroup) -> None:
        self._tg = tg
        self.handles: dict[Key, Handle] = {}
        self.generation = 0  # changes whenever an actor is added or removed

    async def start(
        self, selection: Selection, deps: ActorDeps, *, first: Trigger = "preload"
    ) -> Handle:
        """Start an actor for a selection; returns once it reads its mailbox."""
        send, receive = anyio.create_memory_object_stream[Message](MAILBOX)
        handle = Handle(selection, deps, send, receive, first=first)
        self.handles[(selection.gateway.id, selection.spec.name)] = handle
        self.generation += 1
        await self._tg.start(self._supervise, handle)
        if deps.watch is not None and deps.watch.wanted(selection.spec):
            # The watcher ends with the actor (handle.done): stopped, failed or cancelled.
            await self._tg.start(deps.watch.follow, selection, handle.send.send, handle.done)
        return handle

    def update(self, key: Key, selection: Selection) -> None:
        """Same server definition, new gateway: tell the actor (no discovery)."""
        handle = self.handles[key]
        handle.selection = selection
        try:
            handle.send.send_nowait(Update(selection))
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # a full or dead mailbox: the next incarnation starts from handle.selection

    def nudge(self, key: Key) -> None:
        """Make an idle actor look at its entry again (changed by another daemon, or cleared)."""
        handle = self.handles.get(key)
        if handle is None:
            return
        try:
            handle.send.send_nowait(Update(handle.selection))  # same selection: a look, no work
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # busy or gone: it reads its entry when it next runs anyway

    async def stop(self, key: Key, *, grace: float = 0.0) -> None:
        """Stop one actor: close its mailbox, let a discovery in flight end within ``grace``."""
        handle = self.handles.pop(key)
        self.generation += 1
        handle.send.close()
        with anyio.move_on_after(grace):
            await handle.done.wait()
        handle.scope.cancel()
        await handle.done.wait()

    async def stop_all(self, grace: float) -> None:
        """Close every mailbox; in-flight discoveries get ``grace`` seconds, then are cancelled."""
        handles = list(self.handles.values())
        for handle in handles:
            handle.send.close()
        with anyio.move_on_after(grace):
            for handle in handles:
                await handle.done.wait()
        for handle in handles:
            handle.scope.cancel()

    async def ask(self, key: Key, refresh: bool) -> ServerOutcome:
        """The outcome of the actor's discovery in flight, or of one started for this request."""
        handle = self.handles[key]
        reply = Reply()
        try:
            await handle.send.send(Request(refresh, reply))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            why = "server actor failed" if handle.state.phase == "failed" else "stopping"
            return interrupted(handle.selection, f"{why}; serving what the cache holds")
        return await reply.wait()

    async def _supervise(self, handle: Handle, *, task_status: TaskStatus[None]) -> None:
        settings = handle.deps.settings
        crashes: collections.deque[float] = collections.deque()
        name = f"{handle.selection.gateway.id}/{handle.selection.spec.name}"
        try:
            with handle.scope:
                while True:
                    actor = ServerActor(
                        handle.selection,
                        handle.deps,
                        handle.receive,
                        on_state=handle.publish,
                        preloaded=handle.preloaded,
                        state=handle.state,
                        first=handle.first,
                    )
                    task_status.started()
                    task_status = anyio.TASK_STATUS_IGNORED
                    try:
                        await actor.run()
                        return  # its mailbox was closed: stopped
                    except Exception as exc:  # a bug in one actor must not end the others
                        now = time.monotonic()
                        crashes.append(now)
                        while crashes[0] < now - settings.restart_window:
                            crashes.popleft()
                        handle.selection = actor.selection
                        if len(crashes) > settings.restart_limit:
                            self._fail(handle, name, exc, len(crashes))
                            return
                        delay = RESTART_BACKOFF.delay(len(crashes) - 1)
                        record.actor_restart(
                            handle.selection.gateway.id, handle.selection.spec.name
                        )
                        handle.state = replace(
                            handle.state,
                            restarts=handle.state.restarts + 1,
                            note=f"crashed ({exc!r}); restarting",
                        )
                        logger.error(
                            "actor %s crashed; restart %d in %.1fs",
                            name,
                            handle.state.restarts,
                            delay,
                            exc_info=exc,
                        )
                        await anyio.sleep(delay)
        finally:
            _answer_queued(handle, "server actor stopped")
            handle.receive.close()  # later requests get an answer at once, never a hang
            handle.send.close()
            handle.done.set()

    def _fail(self, handle: Handle, name: str, exc: Exception, count: int) -> None:
        window = handle.deps.settings.restart_window
        note = (
            f"crashed {count} times in {window:.0f}s (last: {exc!r}); serving what the cache holds"
        )
        handle.state = replace(handle.state, phase="failed", next_run_at=None, note=note)
        _answer_queued(handle, "server actor failed")
        handle.receive.close()  # senders get an answer at once, never a hang
        handle.preloaded.set()
        logger.error("actor %s failed for good: %s", name, note, exc_info=exc)


def _answer_queued(handle: Handle, why: str) -> None:
    """Answer the requests still queued in a mailbox that nobody will read any more."""
    while True:
        try:
            message = handle.receive.receive_nowait()
        except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
            return
        if isinstance(message, Request):
            message.reply.set(interrupted(handle.selection, f"{why}; serving what the cache holds"))
