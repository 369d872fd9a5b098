"""The few HTTP pieces the control routes need: a request, a response, an error, bodies.

A hand-sized layer over ASGI (uvicorn has parsed the request): Starlette's routing and
request objects cost more per request than the whole catalog read, and the API is
eight routes of JSON.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, ValidationError

from .peer import Peer, peer_of

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
M = TypeVar("M", bound=BaseModel)

JSON_TYPE = (b"content-type", b"application/json")


class Body(BaseModel):
    """A request body or query: typed strictly, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class HttpError(Exception):
    """An answer other than success: its status and a message naming the problem."""

    def __init__(self, status: int, message: str, **extra: object) -> None:
        self.status = status
        self.message = message
        self.extra = extra
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Response:
    """A JSON answer (``body`` already encoded) and any extra headers."""

    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()

    @classmethod
    def json(cls, data: object, status: int = 200) -> Response:
        """``data`` encoded as JSON."""
        return cls(status, json.dumps(data).encode())

    @classmethod
    def error(cls, exc: HttpError) -> Response:
        """The JSON error answer: ``{"error": message, "status": code, ...}``."""
        return cls.json({"error": exc.message, "status": exc.status, **exc.extra}, exc.status)

    async def send(self, send: Send) -> None:
        """Write it through ASGI."""
        length = (b"content-length", str(len(self.body)).encode())
        headers = [JSON_TYPE, length, *self.headers] if self.body else [length, *self.headers]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


@dataclass(slots=True)
class Request:
    """What a route reads: method, path, query, headers, the peer; the body on demand."""

    scope: Scope
    receive: Receive
    param: str = ""  # the path's {name}
    query: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        raw: bytes = self.scope["query_string"]
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True) if raw else []
        self.query = dict(pairs)
        if len(self.query) != len(pairs):
            raise HttpError(400, "a query parameter is given twice")

    @property
    def peer(self) -> Peer | None:
        """The connection's peer (None only outside the socket server)."""
        return peer_of(self.scope)

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (lower case)."""
        for key, value in self.scope["headers"]:
            if key == name:
                return bytes(value)
        return None

    async def body(self) -> bytes:
        """The whole body (the protocol already bounded its size)."""
        chunks = []
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise HttpError(400, "the client went away before its body arrived")
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def parsed(self, model: type[M], *, query: tuple[str, ...] = ()) -> M:
        """The JSON body (empty: ``{}``) checked against ``model``; query keys in ``query`` join it."""
        raw = await self.body()
        try:
            data = json.loads(raw) if raw.strip() else {}
        except (ValueError, RecursionError) as exc:
            raise HttpError(400, f"malformed JSON body: {exc}") from None
        if not isinstance(data, dict):
            raise HttpError(400, f"the body must be a JSON object, not {type(data).__name__}")
        self.check_query(query)
        for key in query:
            if key in self.query:
                if key in data and data[key] != self.query[key]:
                    raise HttpError(400, f"{key!r} differs between the query and the body")
                data[key] = self.query[key]
        return checked(model, data)

    def check_query(self, allowed: tuple[str, ...]) -> None:
        """400 for a query parameter this route does not take."""
        unknown = sorted(set(self.query) - set(allowed))
        if unknown:
            takes = ", ".join(allowed) or "none"
            raise HttpError(400, f"unknown query parameter {unknown[0]!r} (takes: {takes})")


def checked(model: type[M], data: dict[str, Any]) -> M:
    """``data`` validated by ``model``; a 400 naming every problem (never quoting a value)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: "
            + ("unknown field" if err["type"] == "extra_forbidden" else err["msg"])
            for err in exc.errors(include_input=False, include_url=False)
        ]
        raise HttpError(400, "invalid request: " + "; ".join(problems), problems=problems) from None
