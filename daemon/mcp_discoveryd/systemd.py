"""The service manager's notify protocol (``sd_notify``), written by hand.

The protocol is small and stable: one datagram of ``KEY=VALUE`` lines to the Unix
socket named by ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace).
No libsystemd: a C dependency for a dozen lines is not worth its packaging. Without
``NOTIFY_SOCKET`` (not under systemd, or ``Type=simple``) every call does nothing.

Messages the daemon sends (``man sd_notify``):

=======================  =================================================================
``READY=1``              startup finished (after the preload, or at once by config); also
                         ends a reload
``RELOADING=1``          a reload began; with ``MONOTONIC_USEC`` (CLOCK_MONOTONIC, the
                         form ``Type=notify-reload`` requires)
``STOPPING=1``           shutdown began
``STATUS=...``           one line for ``systemctl status``
``EXTEND_TIMEOUT_USEC``  the start (preload) is alive and needs this much longer
``WATCHDOG=1``           the daemon is healthy (``heartbeat.py`` decides when)
=======================  =================================================================

A failed send is logged once per reason and never raised: the service manager going
away must not take the daemon with it.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping, MutableMapping

logger = logging.getLogger(__name__)

_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def notify_address(value: str) -> str | bytes | None:
    """The socket address ``$NOTIFY_SOCKET`` names; ``@`` means the abstract namespace."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()  # abstract: a leading NUL, no file
    if value.startswith("/"):
        return value
    return None  # empty, relative, or another family (vsock:) this daemon does not speak


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, as ``RELOADING=1`` carries it."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of ``WATCHDOG_USEC``), or None.

    None when no watchdog is asked for, or ``WATCHDOG_PID`` names another process
    (the variable was inherited by a child: the watchdog is its parent's).
    """
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    watched = environ.get("WATCHDOG_PID")
    if usec <= 0 or (watched is not None and watched.strip() != str(pid)):
        return None
    return usec / 2 / 1_000_000


def one_line(text: str) -> str:
    """``text`` fit for ``STATUS=``: a message is newline-separated, so no newlines."""
    return " ".join(text.split())


class Notifier:
    """Sends notify messages to the service manager; does nothing when there is none."""

    def __init__(self, address: str | bytes | None, watchdog: float | None = None) -> None:
        self.address = address
        self.watchdog = watchdog  # seconds between pings; None: no watchdog
        self._status: str | None = None
        self._failed: set[str] = set()  # reasons already logged

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str] | None = None) -> Notifier:
        """The notifier the service manager's variables describe (``os.environ`` by default).

        The variables are removed once read, as ``sd_notify``'s ``unset_environment``
        does: they are this process's, and no child should take them for its own.
        """
        env = os.environ if environ is None else environ
        address = notify_address(env.get("NOTIFY_SOCKET", ""))
        watchdog = watchdog_interval(env, os.getpid())
        for name in _VARIABLES:
            env.pop(name, None)
        if address is None:
            return cls(None)
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        """True when a service manager listens."""
        return self.address is not None

    def send(self, **fields: object) -> bool:
        """One datagram of ``KEY=VALUE`` lines; True once it was handed to the socket."""
        if self.address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)  # a full queue drops a message, never stalls the loop
                sock.sendto(message, self.address)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            if reason not in self._failed:
                self._failed.add(reason)
                logger.warning("notify: cannot reach the service manager: %s", reason)
            return False
        return True

    def status(self, text: str) -> None:
        """``STATUS=``, only when the line changed (``systemctl status`` shows the last one)."""
        line = one_line(text)
        if line != self._status and self.send(STATUS=line):
            self._status = line

    def ready(self, status: str) -> None:
        """``READY=1`` with the line that says what is ready."""
        self._status = one_line(status)
        self.send(READY=1, STATUS=self._status)

    def reloading(self) -> None:
        """``RELOADING=1`` with the monotonic time the reload began."""
        self._status = "reloading the configuration"
        self.send(RELOADING=1, MONOTONIC_USEC=monotonic_usec(), STATUS=self._status)

    def stopping(self, status: str) -> None:
        """``STOPPING=1``: shutdown began."""
        self._status = one_line(status)
        self.send(STOPPING=1, STATUS=self._status)

    def extend_timeout(self, seconds: float) -> None:
        """``EXTEND_TIMEOUT_USEC``: the current start (or stop) needs ``seconds`` more."""
        self.send(EXTEND_TIMEOUT_USEC=int(seconds * 1_000_000))

    def ping(self) -> None:
        """``WATCHDOG=1``."""
        self.send(WATCHDOG=1)
