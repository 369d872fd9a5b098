"""Who is on the other end of a control-socket connection (``SO_PEERCRED``).

The socket server reads the peer's credentials once per connection and puts a ``Peer``
in every request's ASGI scope under ``scope["state"][PEER_STATE_KEY]`` (Starlette:
``request.state.peer``), so the HTTP routes and the MCP tools authorize the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PEER_STATE_KEY = "peer"


@dataclass(frozen=True, slots=True)
class Peer:
    """A connected process: its pid, uid and gid, and whether it may change things."""

    pid: int
    uid: int
    gid: int
    # root, the daemon's own user, or a member of the configured admin group
    may_change: bool


def peer_of(scope: Mapping[str, Any]) -> Peer | None:
    """The peer the server recorded for this request's connection, if any."""
    state = scope.get("state")
    peer = state.get(PEER_STATE_KEY) if isinstance(state, Mapping) else None
    return peer if isinstance(peer, Peer) else None
