"""A lean streamable HTTP transport for one-shot discovery sessions.

``ClientSession`` stays the protocol engine (handshake, correlation,
validation); this module only carries its messages over HTTP, as ``stdio.py``
does over pipes. The SDK's ``streamable_http_client`` does work that a
connect-list-close session never uses, which adds up with many servers at once:

- no standalone GET stream: discovery wants no server-initiated messages
  beyond those on its own requests' replies. A long-lived session that listens
  for ``list_changed`` must use the SDK's transport (or add the GET here);
- one task group and one task per request; no per-message task groups,
  context streams or reconnection machinery;
- an SSE reply is handed over at its answer and then read to its end, so its
  connection goes back to the pool (the SDK closes it, costing a new
  connection per request on both sides).

Kept from the SDK: the headers (``mcp-session-id`` once the handshake gave one,
``mcp-protocol-version`` and the per-message headers the session stamps),
redirects followed only within the endpoint's origin, a JSON-RPC error body on
a failing status delivered as the answer, 404 before a session read as "method
not found" (so mode "auto" falls back), a 2026-07-28 cancellation aborting the
request's POST instead of being sent, and a DELETE at the close when the server
gave a session id (not once the deadline has passed). Not supported: resuming
an SSE reply that the server closed before answering (``Last-Event-ID``); that
is a protocol error.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
import httpx2
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
    jsonrpc_message_adapter,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ...models import RemoteTarget
from .buffering import REPLIES_BUFFERED, REQUESTS_BUFFERED
from .client import Endpoint, HttpWatch, SharedClient
from .sdk_shim import (
    MCP_PROTOCOL_VERSION_HEADER,
    ClientMessageMetadata,
    SessionMessage,
    cancelled_request_id_from_params,
    redirect_location,
)

logger = logging.getLogger(__name__)

MCP_SESSION_ID = "mcp-session-id"
BASE_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}

ToSession = MemoryObjectSendStream[SessionMessage | Exception]
Streams = tuple[
    MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]
]


class BadReplyError(ValueError):
    """The server's HTTP reply to a request carried no usable JSON-RPC answer."""


@asynccontextmanager
async def streamable_transport(
    shared: SharedClient, target: RemoteTarget, watch: HttpWatch, limit_s: float
) -> AsyncIterator[Streams]:
    """Message streams for a session with the streamable HTTP server at ``target``.

    ``limit_s`` bounds connecting; the caller's cancel scope is the real deadline.
    """
    endpoint = Endpoint(shared, target, watch, limit_s)
    async with endpoint, _over(endpoint, shared.max_body_bytes) as streams:
        yield streams


@asynccontextmanager
async def _over(endpoint: Endpoint, max_event_bytes: int) -> AsyncIterator[Streams]:
    """Message streams for a ``ClientSession`` talking to ``endpoint``.

    Transport faults (connect errors, a body past the cap, a reply that is not
    JSON-RPC) end the session: they leave this context in an exception group.
    """
    to_session, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](
        REPLIES_BUFFERED
    )
    write_stream, from_session = anyio.create_memory_object_stream[SessionMessage](
        REQUESTS_BUFFERED
    )
    async with anyio.create_task_group() as tg:
        link = _Link(endpoint, max_event_bytes, tg, to_session)
        tg.start_soon(link.pump, from_session)
        try:
            yield read_stream, write_stream
        finally:
            read_stream.close()
            write_stream.close()
            if (
                link.session_id is not None
                and anyio.current_effective_deadline() > anyio.current_time()
            ):
                await link.terminate()
            tg.cancel_scope.cancel()


class _Link:
    """One session's HTTP side: what the server told us, and the requests in flight."""

    def __init__(
        self, endpoint: Endpoint, max_event_bytes: int, tg: TaskGroup, to_session: ToSession
    ) -> None:
        self.endpoint = endpoint
        self.max_event_bytes = max_event_bytes
        self.tg = tg
        self.to_session = to_session
        self.session_id: str | None = None
        self.version: str | None = None  # the negotiated protocol version, once stamped
        self.in_flight: dict[RequestId, anyio.CancelScope] = {}

    async def pump(self, from_session: MemoryObjectReceiveStream[SessionMessage]) -> None:
        """Send each message the session writes; requests run concurrently, in their own task."""
        async with from_session, self.to_session:
            async for item in from_session:
                message = item.message
                stamped = (
                    item.metadata.headers
                    if isinstance(item.metadata, ClientMessageMetadata)
                    else None
                )
                if isinstance(message, JSONRPCRequest) and message.method == "initialize":
                    self.version = None  # the handshake negotiates afresh (after an "auto" probe)
                elif stamped and MCP_PROTOCOL_VERSION_HEADER in stamped:
                    self.version = stamped[MCP_PROTOCOL_VERSION_HEADER]
                headers = self._headers(stamped)
                if isinstance(message, JSONRPCRequest):
                    scope = self.in_flight[message.id] = anyio.CancelScope()
                    self.tg.start_soon(self._request, message, headers, scope)
                elif not self._cancel_modern(message):
                    await self._post_quietly(message, headers)

    def _headers(self, stamped: dict[str, str] | None) -> dict[str, str]:
        headers = dict(BASE_HEADERS)
        if self.session_id is not None:
            headers[MCP_SESSION_ID] = self.session_id
        if self.version is not None:
            headers[MCP_PROTOCOL_VERSION_HEADER] = self.version
        if stamped:
            headers.update(stamped)
        return headers

    def _cancel_modern(self, message: JSONRPCMessage) -> bool:
        """At 2026-07-28 a cancellation is not sent: the request's POST is aborted instead."""
        if (
            not isinstance(message, JSONRPCNotification)
            or message.method != "notifications/cancelled"
        ):
            return False
        if self.version not in MODERN_PROTOCOL_VERSIONS:
            return False
        request_id = cancelled_request_id_from_params(message.params)
        if request_id is not None and (scope := self.in_flight.get(request_id)) is not None:
            scope.cancel()
        return True

    def _post(
        self, message: JSONRPCMessage, headers: dict[str, str]
    ) -> AbstractAsyncContextManager[httpx2.Response]:
        body = message.model_dump_json(by_alias=True, exclude_unset=True).encode()
        return self.endpoint.stream("POST", headers, body)

    async def _post_quietly(self, message: JSONRPCMessage, headers: dict[str, str]) -> None:
        """A notification or a response to the server: no answer is expected (202)."""
        async with self._post(message, headers) as response:
            await response.aread()

    async def _request(
        self, message: JSONRPCRequest, headers: dict[str, str], scope: anyio.CancelScope
    ) -> None:
        try:
            with scope:
                await self._exchange(message, headers)
        finally:
            if self.in_flight.get(message.id) is scope:
                del self.in_flight[message.id]

    async def _exchange(self, message: JSONRPCRequest, headers: dict[str, str]) -> None:
        """POST one request and hand its answer (and whatever came with it) to the session."""
        async with self._post(message, headers) as response:
            status = response.status_code
            if status == 202:
                return await self._fail(
                    message.id, INVALID_REQUEST, "server answered a request with 202 Accepted"
                )
            if (location := redirect_location(response)) is not None:
                note = f"redirect to {location} not followed; use that URL if it is the intended server"
                return await self._fail(message.id, INVALID_REQUEST, note)
            if status >= 400:  # the response hook has recorded the status for the error report
                return await self._failed_status(message, response)
            if message.method == "initialize" and (
                session_id := response.headers.get(MCP_SESSION_ID)
            ):
                self.session_id = session_id
            kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
            if kind == "application/json":
                parsed = jsonrpc_message_adapter.validate_json(
                    await response.aread(), by_name=False
                )
                if not isinstance(parsed, JSONRPCResponse | JSONRPCError):
                    raise BadReplyError(f"{message.method} got a JSON reply that is not an answer")
                parsed.id = message.id  # as for an event stream: correlation stays exact
                await self._deliver(parsed)
            elif kind == "text/event-stream":
                await self._read_events(message, response)
            else:
                raise BadReplyError(
                    f"{message.method} got a reply of content type {kind or 'none'!r}, not JSON-RPC"
                )

    async def _failed_status(self, message: JSONRPCRequest, response: httpx2.Response) -> None:
        """A JSON-RPC error in the body is the answer; otherwise one is made up from the status."""
        if response.headers.get("content-type", "").lower().startswith("application/json"):
            try:
                parsed = jsonrpc_message_adapter.validate_json(
                    await response.aread(), by_name=False
                )
            except ValueError:  # not JSON-RPC (pydantic's ValidationError is a ValueError)
                parsed = None
            if isinstance(parsed, JSONRPCError):
                return await self._deliver(
                    JSONRPCError(jsonrpc="2.0", id=message.id, error=parsed.error)
                )
        if response.status_code == 404 and self.session_id is None:
            return await self._fail(message.id, METHOD_NOT_FOUND, "Not Found")
        if response.status_code == 404:
            return await self._fail(message.id, INVALID_REQUEST, "Session terminated")
        await self._fail(message.id, INTERNAL_ERROR, "Server returned an error response")

    async def _read_events(self, message: JSONRPCRequest, response: httpx2.Response) -> None:
        """Deliver each event up to the answer to ``message``, then drain the rest unread.

        Reading to the end of the stream (the server ends it right after the
        answer) lets the connection go back to the pool instead of being closed;
        the session does not wait for it, and a fault after the answer only
        costs the connection. A stream the server keeps open is cut when the
        transport closes.
        """
        answered = False
        try:
            async for event in httpx2.EventSource(response, max_event_size=self.max_event_bytes):
                if answered or event.event != "message" or not event.data:
                    continue  # after the answer; priming events (an id, no data); other types
                parsed = jsonrpc_message_adapter.validate_json(event.data, by_name=False)
                if isinstance(parsed, JSONRPCResponse | JSONRPCError):
                    parsed.id = message.id  # correlation stays exact if the server retyped it
                    answered = True
                await self._deliver(parsed)
        except (httpx2.HTTPError, httpx2.StreamError) as exc:
            if not answered:
                raise
            logger.debug("event stream failed after the answer: %s", type(exc).__name__)
        if not answered:
            raise BadReplyError(f"server closed the event stream before answering {message.method}")

    async def _deliver(self, message: JSONRPCMessage) -> None:
        try:
            await self.to_session.send(SessionMessage(message))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # the session is closing; nobody waits for this any more

    async def _fail(self, request_id: RequestId, code: int, text: str) -> None:
        error = ErrorData(code=code, message=text)
        await self._deliver(JSONRPCError(jsonrpc="2.0", id=request_id, error=error))

    async def terminate(self) -> None:
        """DELETE the session: the server can free it now instead of at its own timeout."""
        try:
            async with self.endpoint.stream("DELETE", self._headers(None)) as response:
                await response.aread()
        except (httpx2.HTTPError, httpx2.StreamError) as exc:  # a courtesy: nothing depends on it
            logger.debug("ending the session failed: %s", type(exc).__name__)
