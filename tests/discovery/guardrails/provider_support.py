"""Guardrail providers for the tests, served by a real uvicorn: a recorder, scripted answers.

``Recorder`` wraps any ASGI app (the reference provider among them) and keeps every
request it passes on, so a test can read exactly what the daemon sent. ``Scripted``
answers every check with the status, body and delay a test sets (down, slow, garbage),
and counts the requests in flight at once.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

import anyio
from anyio.from_thread import start_blocking_portal
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tests.servers.http_harness import serve_app

from mcp_discoveryd.config.settings import GuardrailProviderSettings
from mcp_discoveryd.discovery.guardrails.http_provider import HttpGuardrailProvider


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as the provider received it."""

    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


class Recorder:
    """An ASGI app that keeps every HTTP request, then passes it on to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[Seen] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        self.seen.append(Seen(tuple(scope["headers"]), body))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@dataclass(eq=False)
class Scripted:
    """Answers every request with ``status`` and ``body`` after ``delay`` seconds."""

    status: int = 200
    body: bytes = b"{}"
    delay: float = 0.0
    requests: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    content_type: bytes = b"application/json"
    extra: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.requests += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await anyio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        headers = [(b"content-type", self.content_type), *self.extra]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def settings(url: str, **changes: object) -> GuardrailProviderSettings:
    """Provider settings for ``url`` (a test's short timeouts by default)."""
    values: dict[str, object] = {"url": url, "name": "test", "timeout": 2.0, "deadline": 10.0}
    return GuardrailProviderSettings(**(values | changes))  # type: ignore[arg-type]


@asynccontextmanager
async def provider_for(app: ASGIApp, **changes: object) -> AsyncIterator[HttpGuardrailProvider]:
    """An open HTTP provider talking to ``app`` served by uvicorn on a free port."""
    async with (
        serve_app(app) as base,
        HttpGuardrailProvider(settings(f"{base}/check", **changes)) as p,
    ):
        yield p


@contextmanager
def served_in_thread(app: ASGIApp) -> Iterator[str]:
    """``app`` served by uvicorn in a thread's event loop, for sync (hypothesis) tests."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(serve_app(app)) as base,
    ):
        yield f"{base}/check"


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/check"
