"""A connection's peer credentials: ``SO_PEERCRED``, and its groups for the admin check.

The groups come from ``SO_PEERGROUPS`` (the kernel's record at connect time, Linux 4.13+),
else from ``/proc/PID/status`` (racy: read only when the first is missing).
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path
from typing import Protocol

from .peer import Peer

_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)
_MAX_GROUPS = 1024


class SockOpts(Protocol):
    """What is read of a connected socket (asyncio's and uvloop's transports both give it)."""

    def getsockopt(self, level: int, optname: int, buflen: int, /) -> bytes: ...


def read_peer(sock: SockOpts, admin_gid: int | None, own_uid: int) -> Peer:
    """Who is connected, and whether it may change things (root, our uid, the admin group)."""
    pid, uid, gid = _CRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))
    may_change = uid in (0, own_uid)
    if not may_change and admin_gid is not None:
        may_change = gid == admin_gid or admin_gid in _groups(sock, pid)
    return Peer(pid=pid, uid=uid, gid=gid, may_change=may_change)


def _groups(sock: SockOpts, pid: int) -> frozenset[int]:
    """The peer's supplementary groups."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, 4 * _MAX_GROUPS)
    except OSError:
        return _proc_groups(pid)
    count = len(raw) // 4
    return frozenset(struct.unpack(f"{count}I", raw[: 4 * count]))


def _proc_groups(pid: int) -> frozenset[int]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return frozenset()
    for line in status.splitlines():
        if line.startswith("Groups:"):
            return frozenset(int(g) for g in line.split()[1:])
    return frozenset()
