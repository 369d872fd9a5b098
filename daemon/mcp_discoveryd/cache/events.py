"""What daemons sharing a Redis tell each other: an entry was updated, or entries were cleared.

Events travel on the ``events`` channel (keys.py) as compact JSON. They name
entries only by their hashed identity (``G/member``, as in key names), never by
gateway id or server name. ``Hub`` hands events to the coroutines of this
daemon that wait for another daemon's result (``Coordinator.wait_for_update``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import anyio

from ..models import CacheType
from .base import ClearScope
from .keys import KeySpace, member_type

Kind = Literal["updated", "cleared"]


@dataclass(frozen=True, slots=True)
class CacheEvent:
    """One event: ``updated`` names one entry; ``cleared`` a scope (None = every)."""

    kind: Kind
    instance: str  # the publishing daemon's instance id: a daemon ignores its own events
    at: float  # when it was published (UTC epoch seconds)
    gateway: str | None = None  # gateway hash
    member: str | None = None  # updated: the entry's index member; cleared: unused
    server: str | None = None  # cleared: the server hash, None for every server
    types: tuple[str, ...] = ()  # cleared: the cache types in scope
    fetched_at: float | None = None  # updated: the written entry's fetched_at

    @classmethod
    def updated(cls, instance: str, at: float, ref: str, fetched_at: float) -> CacheEvent:
        """An entry (``ref`` = ``G/member``) was written with this ``fetched_at``."""
        gateway, _, member = ref.partition("/")
        return cls("updated", instance, at, gateway, member, fetched_at=fetched_at)

    @classmethod
    def cleared(cls, instance: str, at: float, scope: ClearScope, keys: KeySpace) -> CacheEvent:
        """Every entry in ``scope`` was removed."""
        return cls(
            "cleared",
            instance,
            at,
            keys.gateway_hash(scope.gateway_id) if scope.gateway_id is not None else None,
            server=keys.server_hash(scope.server_name) if scope.server_name is not None else None,
            types=tuple(sorted(t.value for t in scope.types)),
        )

    @property
    def ref(self) -> str:
        """The updated entry's ``G/member``."""
        return f"{self.gateway}/{self.member}"

    def covers(self, ref: str) -> bool:
        """True when the entry ``G/member`` is the one updated or lies in the cleared scope."""
        if self.kind == "updated":
            return ref == self.ref
        gateway, _, member = ref.partition("/")
        if member_type(member).value not in self.types:
            return False
        if self.gateway is not None and gateway != self.gateway:
            return False
        tools = member_type(member) is CacheType.TOOLS
        return not tools or self.server is None or member == f"t:{self.server}"

    def encode(self) -> bytes:
        """The wire form."""
        doc = {
            "k": self.kind,
            "i": self.instance,
            "at": self.at,
            "g": self.gateway,
            "m": self.member,
            "s": self.server,
            "ty": list(self.types),
            "f": self.fetched_at,
        }
        return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()

    @classmethod
    def decode(cls, data: bytes) -> CacheEvent | None:
        """The event, or None for anything else (another version's, garbage)."""
        try:
            doc = json.loads(data)
            kind = doc["k"]
            if kind not in ("updated", "cleared"):
                return None
            fetched = doc.get("f")
            return cls(
                kind,
                str(doc["i"]),
                float(doc["at"]),
                _opt(doc.get("g")),
                _opt(doc.get("m")),
                _opt(doc.get("s")),
                tuple(str(t) for t in doc.get("ty", ())),
                float(fetched) if fetched is not None else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(eq=False)
class _Waiter:
    ref: str
    event: anyio.Event = field(default_factory=anyio.Event)
    seen: CacheEvent | None = None


class Hub:
    """Wakes this daemon's waiters when another daemon's event covers their entry."""

    def __init__(self) -> None:
        self._waiters: set[_Waiter] = set()
        self._observers: list[Callable[[CacheEvent | None], None]] = []

    @contextmanager
    def observe(self, observer: Callable[[CacheEvent | None], None]) -> Iterator[None]:
        """Call ``observer`` with every event passed on (None: anything may have changed)."""
        self._observers.append(observer)
        try:
            yield
        finally:
            self._observers.remove(observer)

    @contextmanager
    def watch(self, ref: str) -> Iterator[_Waiter]:
        """Register interest in ``G/member`` (before looking, so no event slips between)."""
        waiter = _Waiter(ref)
        self._waiters.add(waiter)
        try:
            yield waiter
        finally:
            self._waiters.discard(waiter)

    def notify(self, event: CacheEvent) -> int:
        """Wake every waiter the event covers; how many."""
        woken = 0
        for waiter in list(self._waiters):
            if not waiter.event.is_set() and event.covers(waiter.ref):
                waiter.seen = event
                waiter.event.set()
                woken += 1
        for observer in list(self._observers):
            observer(event)
        return woken

    def notify_all(self, event: CacheEvent) -> None:
        """Wake every waiter (after a resync: anything may have changed)."""
        for waiter in list(self._waiters):
            if not waiter.event.is_set():
                waiter.seen = event
                waiter.event.set()
        for observer in list(self._observers):
            observer(None)
