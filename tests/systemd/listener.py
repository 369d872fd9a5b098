"""A stand-in for the service manager's end of ``$NOTIFY_SOCKET``: a datagram socket the
tests read, recording each message with the monotonic time it arrived.

A thread reads, so arrival times stay true while the test's own event loop is blocked
(that is what the watchdog tests block).
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    """One datagram: when it arrived (CLOCK_MONOTONIC seconds) and its fields."""

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
                data = self._sock.recv(65536)
            except OSError:  # closed by close()
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
            with self._changed:
                self.messages.append(Message(time.monotonic(), fields))
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


@contextmanager
def notify_listener(*, abstract: bool = False) -> Iterator[NotifyListener]:
    """A listening datagram socket: a short path under /tmp, or an abstract name."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
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
