"""uvicorn's httptools protocol with the control socket's guards on each connection.

uvicorn parses HTTP (httptools, C) and runs the ASGI app; this subclass adds what a
socket any local user may reach needs and uvicorn does not bound:

- the peer's credentials read once per connection (``SO_PEERCRED``) and put in every
  request's ``scope["state"]["peer"]`` (uvicorn copies ``app_state`` into each scope);
- connections per peer uid bounded (503, closed at once);
- a request must arrive whole within ``request_timeout`` (slow or silent clients: 408);
- the request line and headers bounded in bytes and count (431), the body in bytes
  (413, from ``Content-Length`` before any is read, or as chunks arrive).

A rejected connection is answered and closed; nothing it sent reaches the app.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from ..config.settings import ControlSettings
from .credentials import read_peer
from .peer import PEER_STATE_KEY, Peer

logger = logging.getLogger(__name__)

LINGER = 1.0  # seconds a rejected client has to read its answer before the connection closes
_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


@dataclass(slots=True)
class Guard:
    """The bounds every connection is held to, and the live connections per peer uid."""

    settings: ControlSettings
    admin_gid: int | None
    own_uid: int = field(default_factory=os.geteuid)
    per_uid: Counter[int] = field(default_factory=Counter)


def rejection(status: int, message: str) -> bytes:
    """A whole HTTP response that closes the connection: a JSON error naming the problem."""
    body = json.dumps({"error": message, "status": status}).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class ControlProtocol(HttpToolsProtocol):
    """One control-socket connection: uvicorn's, guarded (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        guard: Guard,
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guard = guard
        self.peer: Peer | None = None
        self.rejected = False
        self.header_bytes = 0
        self.header_count = 0
        self.body_bytes = 0
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        try:
            self.peer = read_peer(sock, self.guard.admin_gid, self.guard.own_uid)
        except (OSError, AttributeError) as exc:  # not a Unix socket: nobody to authorize
            logger.warning("control socket: cannot read the peer's credentials: %s", exc)
            self.reject(503, "peer credentials unavailable")
            return
        self.app_state = {**self.app_state, PEER_STATE_KEY: self.peer}
        self.guard.per_uid[self.peer.uid] += 1
        limit = self.guard.settings.max_connections_per_peer
        if self.guard.per_uid[self.peer.uid] > limit:
            self.reject(503, f"too many connections from uid {self.peer.uid} (at most {limit})")
            return
        self.arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        if self.peer is not None:
            self.guard.per_uid[self.peer.uid] -= 1
            if self.guard.per_uid[self.peer.uid] <= 0:
                del self.guard.per_uid[self.peer.uid]
            self.peer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's, with its answers to unparseable input as JSON errors and no log line
        # per bad request (any local user could fill the journal with them)
        if self.rejected:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # no upgrades here: the request is answered as plain HTTP, then the connection
            # closes (the parser reads nothing more after an upgrade)
            if self.cycle is not None:
                self.cycle.keep_alive = False
        except httptools.HttpParserError as exc:
            self.reject(400, f"malformed HTTP request: {exc}")

    # Parser callbacks: bounds first, then uvicorn's.

    def on_message_begin(self) -> None:
        self.header_bytes = self.header_count = self.body_bytes = 0
        if self.deadline is None:
            self.arm()  # a kept-alive (or pipelined) connection's next request begins
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self.header_bytes += len(url)
        if self.over_headers():
            return
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value)
        self.header_count += 1
        if self.over_headers():
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.rejected:
            return
        limit = self.guard.settings.max_body
        for name, value in self.headers:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                self.reject(413, f"the body is larger than {limit} bytes")
                return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.rejected:
            return
        self.body_bytes += len(body)
        limit = self.guard.settings.max_body
        if self.body_bytes > limit:
            self.reject(413, f"the body is larger than {limit} bytes")
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self.rejected:
            return
        self.disarm()  # whole: the app's own time is not the client's to spend
        super().on_message_complete()

    # Guards

    def over_headers(self) -> bool:
        settings = self.guard.settings
        if self.rejected:
            return True
        if self.header_bytes > settings.max_header_bytes:
            self.reject(431, f"request line and headers exceed {settings.max_header_bytes} bytes")
        elif self.header_count > settings.max_headers:
            self.reject(431, f"more than {settings.max_headers} headers")
        return self.rejected

    def arm(self) -> None:
        self.deadline = self.loop.call_later(self.guard.settings.request_timeout, self.too_slow)

    def disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def too_slow(self) -> None:
        self.deadline = None
        seconds = self.guard.settings.request_timeout
        self.reject(408, f"the request did not arrive whole within {seconds:g}s")

    def reject(self, status: int, message: str) -> None:
        """Answer ``status`` and close; the app never sees this connection's request."""
        self.rejected = True
        self.disarm()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # a pipelined request's app stops writing
        if not self.transport.is_closing():
            # Lingering close: closing with the client's bytes unread would reset the
            # connection and lose the answer, so shut our side, discard what comes, then close.
            self.transport.write(rejection(status, message))
            self.transport.write_eof()
            self.deadline = self.loop.call_later(LINGER, self.transport.close)
