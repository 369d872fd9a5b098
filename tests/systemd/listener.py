"""A stand-in for the service manager's end of ``$NOTIFY_SOCKET``: a datagram socket the
tests read, recording each message with the monotonic time it was sent.

The time is the kernel's (``SO_TIMESTAMPNS``: stamped when the sender queued the
datagram), not the reader's: on a loaded machine the reading thread may run late, and a
ping sent just before the test blocked its loop must not read as one sent during the block.
A thread reads, so the socket is drained while the test's own event loop is blocked
(that is what the watchdog tests block).
"""

from __future__ import annotations

import os
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value; Python names it from 3.14
STAMP_ERROR = 0.02
"""Seconds a message's time may be off: the stamp is CLOCK_REALTIME, moved onto
CLOCK_MONOTONIC when read, and the two clocks drift apart (0.5 % on a VM seen here),
so the error grows with how late the reader ran (20 ms: a reader seconds late)."""
_TIMESPEC = struct.Struct("@qq")  # struct timespec: seconds, nanoseconds


@dataclass(frozen=True, slots=True)
class Message:
    """One datagram: when it was sent (CLOCK_MONOTONIC seconds) and its fields."""

    at: float
    fields: dict[str, str]


class NotifyListener:
    """The messages received so far, and ways to wait for one."""

    def __init__(self, sock: socket.socket, env_value: str) -> None:
        self.env_value = env_value  # what NOTIFY_SOCKET is set to
        self.messages: list[Message] = []
        self._sock = sock
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                data, ancillary, _, _ = self._sock.recvmsg(65536, socket.CMSG_SPACE(_TIMESPEC.size))
            except OSError:  # closed by close()
                return
            if not data and not ancillary:  # shut down by close(): no datagram
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
            with self._changed:
                self.messages.append(Message(_sent_at(ancillary), fields))
                self._changed.notify_all()

    def wait_for(self, match: Callable[[Message], bool], timeout: float = 30.0) -> Message:
        """The first message (already received or yet to come) that matches."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((m for m in self.messages if match(m)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                assert left > 0, f"no such message in {timeout}s; got {self.fields()}"
                self._changed.wait(left)

    def wait_key(self, key: str, timeout: float = 30.0, after: float = 0.0) -> Message:
        """The first message carrying ``key`` that arrived after ``after``."""
        return self.wait_for(lambda m: key in m.fields and m.at > after, timeout)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Keep the reader from recording messages during the block (a reader running late)."""
        with self._changed:
            yield

    def fields(self) -> list[dict[str, str]]:
        """Every message's fields, in arrival order."""
        with self._changed:
            return [m.fields for m in self.messages]

    def with_key(self, key: str) -> list[Message]:
        """The messages carrying ``key``."""
        with self._changed:
            return [m for m in self.messages if key in m.fields]

    def close(self) -> None:
        """Stop reading (the socket is closed; the reader thread ends)."""
        if self._sock.fileno() < 0:
            return
        self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(timeout=5)


def _sent_at(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The kernel's send stamp (CLOCK_REALTIME) moved onto CLOCK_MONOTONIC."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = _TIMESPEC.unpack(data[: _TIMESPEC.size])
            sent = int(seconds) + int(nanoseconds) / 1e9
            return time.monotonic() - (time.time() - sent)
    raise AssertionError("a datagram without its SO_TIMESTAMPNS stamp")


@contextmanager
def notify_listener(*, abstract: bool = False) -> Iterator[NotifyListener]:
    """A listening datagram socket: a short path under /tmp, or an abstract name."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    with tempfile.TemporaryDirectory(prefix="sdn", dir="/tmp") as tmp:
        if abstract:
            name = f"mcpd-test-{os.getpid()}-{time.monotonic_ns()}"
            sock.bind(b"\0" + name.encode())
            value = f"@{name}"
        else:
            value = os.path.join(tmp, "notify")
            sock.bind(value)
        listener = NotifyListener(sock, value)
        try:
            yield listener
        finally:
            listener.close()
