"""A client of a running daemon's control socket, async and sync, for gateways and the CLI.

    async with ControlClient("/run/mcp-discoveryd/control.sock") as daemon:
        reply = await daemon.catalog("github", etag=last_etag)
        if reply.changed:
            tools, last_etag = reply.data["tools"], reply.etag

``SyncControlClient`` has the same methods, blocking. Connections are kept alive.
Errors (``errors.py``): ``DaemonUnavailable`` when no daemon answers,
``RefusedError`` (403: this user may read, not change), ``NotFoundError`` (404),
``DaemonStoppingError`` (503), ``ControlRequestError`` for any other error status.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Self
from urllib.parse import quote

import httpcore2
import httpx2
from httpcore2._backends.sync import SyncStream

from ..config.settings import DEFAULT_SOCKET
from ..errors import (
    ControlRequestError,
    DaemonStoppingError,
    DaemonUnavailable,
    NotFoundError,
    RefusedError,
)
from ..models import JSONObject

DEFAULT_TIMEOUT = 30.0  # seconds; a discover of many servers may take this long
_BASE = "http://mcp-discoveryd"  # the host is not used on a Unix socket
_ERRORS: dict[int, type[ControlRequestError]] = {
    403: RefusedError,
    404: NotFoundError,
    503: DaemonStoppingError,
}


@dataclass(frozen=True, slots=True)
class CatalogReply:
    """A catalog read: the catalog (None when unchanged since ``etag``) and its ETag."""

    data: JSONObject | None
    etag: str | None

    @property
    def changed(self) -> bool:
        """False for a 304: the catalog is the one the caller already holds."""
        return self.data is not None


@dataclass(frozen=True, slots=True)
class Call:
    """One request: method, path, query and JSON body."""

    method: str
    path: str
    params: dict[str, str]
    body: JSONObject | None = None
    headers: dict[str, str] | None = None


class _ClosingBackend(httpcore2.SyncBackend):
    """httpcore2's blocking backend, closing the socket of a failed Unix connect.

    Its own leaves the socket to the garbage collector (a ResourceWarning) whenever no
    daemon answers: the very case a CLI or a gateway meets first.
    """

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.NetworkStream:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(path)
        except TimeoutError as exc:
            sock.close()
            raise httpcore2.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            sock.close()
            raise httpcore2.ConnectError(str(exc)) from exc
        return SyncStream(sock)


class _UnixTransport(httpx2.HTTPTransport):
    """httpx2's transport on a Unix socket, over the closing backend (its pool replaced:
    the transport takes no backend argument)."""

    def __init__(self, path: str) -> None:
        super().__init__(uds=path)
        self._pool = httpcore2.ConnectionPool(uds=path, network_backend=_ClosingBackend())


def _params(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


def _quote(name: str) -> str:
    return quote(name, safe="")


class _Calls:
    """The API's requests, shared by both clients."""

    @staticmethod
    def health() -> Call:
        return Call("GET", "/v1/health", {})

    @staticmethod
    def status(gateway: str | None) -> Call:
        return Call("GET", "/v1/status", _params(gateway=gateway))

    @staticmethod
    def servers(gateway: str | None) -> Call:
        return Call("GET", "/v1/servers", _params(gateway=gateway))

    @staticmethod
    def catalog(server: str, gateway: str | None, etag: str | None) -> Call:
        headers = {"if-none-match": etag} if etag else None
        return Call(
            "GET", f"/v1/servers/{_quote(server)}/catalog", _params(gateway=gateway), None, headers
        )

    @staticmethod
    def discover(server: str | None, gateway: str | None, refresh: bool) -> Call:
        body: JSONObject = {**_params(server=server, gateway=gateway), "refresh": refresh}
        return Call("POST", "/v1/discover", {}, body)

    @staticmethod
    def clear(
        gateway: str | None, server: str | None, cache_type: str | None, forget_logins: bool
    ) -> Call:
        body: JSONObject = dict(_params(gateway=gateway, server=server, cache_type=cache_type))
        if forget_logins:
            body["forget_logins"] = True
        return Call("POST", "/v1/cache/clear", {}, body)

    @staticmethod
    def reload() -> Call:
        return Call("POST", "/v1/reload", {}, {})

    @staticmethod
    def accept(server: str, gateway: str | None, tool: str | None) -> Call:
        body: JSONObject = dict(_params(gateway=gateway, tool=tool))
        return Call("POST", f"/v1/servers/{_quote(server)}/accept", {}, body)


def _decoded(response: httpx2.Response) -> JSONObject:
    """The JSON object of a success; the typed error of a failure status."""
    if response.status_code < 400:
        data = response.json()
        if not isinstance(data, dict):
            raise ControlRequestError(response.status_code, "the daemon answered a non-object")
        return data
    try:
        message = str(response.json().get("error") or response.reason_phrase)
    except (ValueError, AttributeError):
        message = response.reason_phrase or "error"
    raise _ERRORS.get(response.status_code, ControlRequestError)(response.status_code, message)


def _catalog(response: httpx2.Response, etag: str | None) -> CatalogReply:
    if response.status_code == 304:
        return CatalogReply(None, response.headers.get("etag", etag))
    return CatalogReply(_decoded(response), response.headers.get("etag"))


@contextmanager
def _reaching(path: str) -> Iterator[None]:
    """Transport failures as ``DaemonUnavailable`` (no daemon, or it hung up)."""
    try:
        yield
    except (httpx2.ConnectError, httpx2.RemoteProtocolError, httpx2.ReadError) as exc:
        reason = str(exc) or type(exc).__name__
        raise DaemonUnavailable(path, reason) from None


class ControlClient:
    """The async client (``async with``)."""

    def __init__(self, socket: str = DEFAULT_SOCKET, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.socket = socket
        transport = httpx2.AsyncHTTPTransport(uds=socket)
        self._http = httpx2.AsyncClient(transport=transport, base_url=_BASE, timeout=timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the kept-alive connections."""
        await self._http.aclose()

    async def _send(self, call: Call) -> httpx2.Response:
        with _reaching(self.socket):
            return await self._http.request(
                call.method, call.path, params=call.params, json=call.body, headers=call.headers
            )

    async def _json(self, call: Call) -> JSONObject:
        return _decoded(await self._send(call))

    async def health(self) -> JSONObject:
        """Live, ready and degraded parts (raises ``DaemonStoppingError`` while stopping)."""
        return await self._json(_Calls.health())

    async def status(self, gateway: str | None = None) -> JSONObject:
        """The daemon's status (one gateway's cache entries when given)."""
        return await self._json(_Calls.status(gateway))

    async def servers(self, gateway: str | None = None) -> JSONObject:
        """Every configured server: state, freshness, tool count."""
        return await self._json(_Calls.servers(gateway))

    async def catalog(
        self, server: str, gateway: str | None = None, *, etag: str | None = None
    ) -> CatalogReply:
        """A server's cached catalog; unchanged since ``etag``: ``changed`` is False."""
        return _catalog(await self._send(_Calls.catalog(server, gateway, etag)), etag)

    async def discover(
        self, server: str | None = None, gateway: str | None = None, *, refresh: bool = True
    ) -> JSONObject:
        """Discover one server, a gateway or all (changing: needs the admin rights)."""
        return await self._json(_Calls.discover(server, gateway, refresh))

    async def clear(
        self,
        gateway: str | None = None,
        server: str | None = None,
        cache_type: str | None = None,
        *,
        forget_logins: bool = False,
    ) -> JSONObject:
        """Clear cache entries, as Enkrypt's ``clear_cache``, or (``cache_type="tokens"``)
        the OAuth access tokens (changing)."""
        return await self._json(_Calls.clear(gateway, server, cache_type, forget_logins))

    async def reload(self) -> JSONObject:
        """Reload the config file (changing)."""
        return await self._json(_Calls.reload())

    async def accept(
        self, server: str, gateway: str | None = None, tool: str | None = None
    ) -> JSONObject:
        """Accept a changed tool's definition (every pending one without ``tool``; changing)."""
        return await self._json(_Calls.accept(server, gateway, tool))


class SyncControlClient:
    """The blocking client (``with``), for code without an event loop."""

    def __init__(self, socket: str = DEFAULT_SOCKET, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.socket = socket
        transport = _UnixTransport(socket)
        self._http = httpx2.Client(transport=transport, base_url=_BASE, timeout=timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the kept-alive connections."""
        self._http.close()

    def _send(self, call: Call) -> httpx2.Response:
        with _reaching(self.socket):
            return self._http.request(
                call.method, call.path, params=call.params, json=call.body, headers=call.headers
            )

    def _json(self, call: Call) -> JSONObject:
        return _decoded(self._send(call))

    def health(self) -> JSONObject:
        """As ``ControlClient.health``."""
        return self._json(_Calls.health())

    def status(self, gateway: str | None = None) -> JSONObject:
        """As ``ControlClient.status``."""
        return self._json(_Calls.status(gateway))

    def servers(self, gateway: str | None = None) -> JSONObject:
        """As ``ControlClient.servers``."""
        return self._json(_Calls.servers(gateway))

    def catalog(
        self, server: str, gateway: str | None = None, *, etag: str | None = None
    ) -> CatalogReply:
        """As ``ControlClient.catalog``."""
        return _catalog(self._send(_Calls.catalog(server, gateway, etag)), etag)

    def discover(
        self, server: str | None = None, gateway: str | None = None, *, refresh: bool = True
    ) -> JSONObject:
        """As ``ControlClient.discover``."""
        return self._json(_Calls.discover(server, gateway, refresh))

    def clear(
        self,
        gateway: str | None = None,
        server: str | None = None,
        cache_type: str | None = None,
        *,
        forget_logins: bool = False,
    ) -> JSONObject:
        """As ``ControlClient.clear``."""
        return self._json(_Calls.clear(gateway, server, cache_type, forget_logins))

    def reload(self) -> JSONObject:
        """As ``ControlClient.reload``."""
        return self._json(_Calls.reload())

    def accept(
        self, server: str, gateway: str | None = None, tool: str | None = None
    ) -> JSONObject:
        """As ``ControlClient.accept``."""
        return self._json(_Calls.accept(server, gateway, tool))
