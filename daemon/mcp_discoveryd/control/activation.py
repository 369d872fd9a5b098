"""The control socket's listening socket: handed in by systemd, or created here.

Socket activation (``sd_listen_fds``): ``LISTEN_PID`` names this process, ``LISTEN_FDS``
counts the sockets from fd 3 on, ``LISTEN_FDNAMES`` names them (colon separated). The
one named ``control`` is used, else the first Unix stream socket; the variables are then
removed so no child mistakes them for its own.

Created here: the parent directory is made if missing; a lock file beside the socket
(``<path>.lock``, ``flock``) is held for the daemon's life, so two daemons starting at
once cannot both decide a socket is stale. A socket file that nothing answers on (a
crashed run's) is replaced; one a live daemon serves is never taken: ``SocketInUseError``.
The file gets the configured mode and group; it and the lock are removed at shutdown.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import grp
import logging
import os
import socket
import stat
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..config.settings import ControlSettings
from ..errors import SocketInUseError, SocketSetupError

logger = logging.getLogger(__name__)

SD_LISTEN_FDS_START = 3
FD_NAME = "control"
BACKLOG = 512
_ACTIVATION_VARS = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


@dataclass(frozen=True, slots=True)
class Listener:
    """A listening Unix socket and where it came from."""

    sock: socket.socket
    path: str
    activated: bool  # handed in by systemd: its file is systemd's, never removed here
    admin_gid: int | None = None  # the admin group's, resolved before anything starts


def inherited(env: MutableMapping[str, str] | None = None) -> socket.socket | None:
    """The control socket systemd passed to this process, or None; clears the variables."""
    env = os.environ if env is None else env
    try:
        if int(env.get("LISTEN_PID", "")) != os.getpid():
            return None
        count = int(env.get("LISTEN_FDS", ""))
    except ValueError:
        return None
    names = env.get("LISTEN_FDNAMES", "").split(":")
    for name in _ACTIVATION_VARS:
        env.pop(name, None)
    fds = range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count)
    candidates = [(names[i] if i < len(names) else "", fd) for i, fd in enumerate(fds)]
    candidates.sort(key=lambda pair: pair[0] != FD_NAME)  # the named one first
    for _name, fd in candidates:
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            continue
        if sock.family == socket.AF_UNIX and sock.type == socket.SOCK_STREAM:
            os.set_inheritable(fd, False)  # stdio children never get it
            return sock
        sock.detach()  # not ours to close
    return None


@contextmanager
def open_listener(
    settings: ControlSettings, env: MutableMapping[str, str] | None = None
) -> Iterator[Listener]:
    """The listening control socket for the daemon's life (inherited, else created)."""
    admin_gid = _group_id(settings.socket, settings.admin_group, "admin_group")
    sock = inherited(env)
    if sock is not None:
        path = sock.getsockname()
        name = path if isinstance(path, str) and path else settings.socket
        logger.info("control socket: %s (from systemd)", name)
        with sock:
            yield Listener(sock, name, activated=True, admin_gid=admin_gid)
        return
    path = settings.socket
    with _locked(path), _bound(path, settings) as sock:
        logger.info("control socket: %s", path)
        yield Listener(sock, path, activated=False, admin_gid=admin_gid)


@contextmanager
def _locked(path: str) -> Iterator[None]:
    """Hold ``<path>.lock``: one daemon per socket path, even while both start."""
    parent = Path(path).parent
    try:
        parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise SocketSetupError(path, f"cannot create it: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            reason = "another daemon holds its lock (running or starting)"
            raise SocketInUseError(path, reason) from None
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(f"{path}.lock")  # before unlocking: the next daemon makes its own
    finally:
        os.close(fd)


@contextmanager
def _bound(path: str, settings: ControlSettings) -> Iterator[socket.socket]:
    """A socket bound and listening at ``path``, a stale file replaced; removed on exit."""
    gid = _group_id(path, settings.group, "group")
    _clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # Bound under a umask that leaves nobody a window of wider permissions.
        old = os.umask(0o777 & ~settings.mode)
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        os.chmod(path, settings.mode)
        if gid is not None:
            os.chown(path, -1, gid)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise SocketSetupError(path, f"cannot create it: {exc.strerror or exc}") from None
    try:
        with sock:
            yield sock
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _clear_stale(path: str) -> None:
    """Remove a socket file nothing answers on; refuse a live one, or a file of another kind."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise SocketSetupError(path, "exists and is not a socket; not removing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        logger.warning("control socket %s: stale (nothing answers); replacing it", path)
        os.unlink(path)
        return
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return
        raise SocketInUseError(path, f"cannot tell whether a daemon serves it: {exc}") from None
    finally:
        probe.close()
    raise SocketInUseError(path, "a running daemon serves it; stop that one first")


def _group_id(path: str, group: str | None, key: str) -> int | None:
    """The gid of a configured group (a name or a number)."""
    if group is None:
        return None
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise SocketSetupError(path, f"{key}: unknown group {group!r}") from None
