"""The control API's routes (``/v1/...``), as one ASGI app; ``/mcp`` goes to the MCP app.

| method | path                             | changes | answers                               |
|--------|----------------------------------|---------|---------------------------------------|
| GET    | /v1/health                       |         | live, ready, degraded parts           |
| GET    | /v1/status?gateway=G             |         | ``DaemonApi.status``                  |
| GET    | /v1/servers                      |         | every server: state, freshness, tools |
| GET    | /v1/servers/{name}/catalog?gateway=G |     | the cached catalog; ETag, 304         |
| POST   | /v1/discover                     | yes     | the discover report                   |
| POST   | /v1/cache/clear                  | yes     | the clear reply                       |
| POST   | /v1/reload                       | yes     | what the reload changed               |
| POST   | /v1/servers/{name}/accept        | yes     | accepted and pending tool changes     |

A changing request from a peer that is not root, the daemon's user or in the admin group
is refused with 403. Errors are JSON ``{"error", "status"}``; 503 while stopping, and when
Redis's connection pool stayed busy past ``[cache] busy_wait`` (the error says so).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from ..api import DaemonApi
from ..app import Daemon
from ..errors import CacheBusyError, NotAccepting, UnknownTargetError
from ..telemetry.record import record_control_request
from .catalogs import CatalogBodies
from .http import ASGIApp, HttpError, Receive, Request, Response, Scope, Send
from .shapes import (
    AcceptBody,
    ClearBody,
    DiscoverBody,
    ReloadBody,
    ServerIndex,
    check_clear,
    discover_json,
    health_json,
    servers_json,
)

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
_SERVERS = "/v1/servers/"
_NOT_MODIFIED = 304


class ControlApp:
    """The ASGI app of the control socket (one per running daemon)."""

    def __init__(self, api: DaemonApi, daemon: Daemon, mcp: ASGIApp | None = None) -> None:
        self.api = api
        self.daemon = daemon
        self.mcp = mcp
        self.catalogs = CatalogBodies(api)
        self.index = ServerIndex()
        self.routes: dict[str, dict[str, tuple[Handler, bool]]] = {
            "/v1/health": {"GET": (self.health, False)},
            "/v1/status": {"GET": (self.status, False)},
            "/v1/servers": {"GET": (self.servers, False)},
            "/v1/discover": {"POST": (self.discover, True)},
            "/v1/cache/clear": {"POST": (self.clear, True)},
            "/v1/reload": {"POST": (self.reload, True)},
        }
        self.server_routes: dict[str, dict[str, tuple[Handler, bool]]] = {
            "catalog": {"GET": (self.catalog, False)},
            "accept": {"POST": (self.accept, True)},
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan or websockets here: the server runs none
        started = time.perf_counter()
        path: str = scope["path"]
        if path == "/mcp" or path.startswith("/mcp/"):
            if self.mcp is not None:
                await self.mcp(scope, receive, send)
                status = 200  # the MCP app answers its own errors inside JSON-RPC
            else:
                status = 404
                await Response.error(HttpError(404, "no MCP endpoint on this daemon")).send(send)
            record_control_request("/mcp", scope["method"], status, time.perf_counter() - started)
            return
        try:
            response = await self.dispatch(scope, receive, path)
        except HttpError as exc:
            response = Response.error(exc)
        except NotAccepting as exc:
            response = Response.error(HttpError(503, str(exc)))
        except UnknownTargetError as exc:
            response = Response.error(HttpError(404, str(exc)))
        except CacheBusyError as exc:  # Redis's pool stayed busy past busy_wait: ask later
            response = Response.error(HttpError(503, str(exc)))
        except Exception:  # a bug answers 500; the daemon and other requests go on
            logger.exception("control: %s %s failed", scope["method"], path)
            response = Response.error(HttpError(500, "internal error (logged by the daemon)"))
        await response.send(send)
        seconds = time.perf_counter() - started
        record_control_request(self.route_of(path), scope["method"], response.status, seconds)

    def route_of(self, path: str) -> str:
        """The route's template for telemetry: never a raw path (bounded attribute values)."""
        if path in self.routes:
            return path
        if path.startswith(_SERVERS):
            action = path.rpartition("/")[2]
            if action in self.server_routes:
                return f"{_SERVERS}{{name}}/{action}"
        return "other"

    async def dispatch(self, scope: Scope, receive: Receive, path: str) -> Response:
        """Find the route, check method, state and authorization, then run it."""
        methods = self.routes.get(path)
        name = ""
        if methods is None and path.startswith(_SERVERS):
            name, _, action = path[len(_SERVERS) :].rpartition("/")
            methods = self.server_routes.get(action) if name else None
        if methods is None:
            raise HttpError(404, f"no such path: {path}")
        route = methods.get(scope["method"])
        if route is None:
            allowed = ", ".join(methods)
            raise HttpError(405, f"{scope['method']} not allowed on {path} (use {allowed})")
        handler, changes = route
        request = Request(scope, receive, name)
        if self.daemon.phase in ("stopping", "stopped") and handler != self.health:
            raise HttpError(503, "the daemon is stopping")
        if changes:
            peer = request.peer
            if peer is None or not peer.may_change:
                who = f"uid {peer.uid}" if peer is not None else "an unidentified peer"
                raise HttpError(
                    403,
                    f"{who} may read but not change: discover, clear, reload and accept "
                    "need root, the daemon's user or the admin group",
                )
        return await handler(request)

    # --- reads --------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        request.check_query(())
        body = health_json(self.daemon)
        return Response.json(body, 503 if body["state"] in ("stopping", "stopped") else 200)

    async def status(self, request: Request) -> Response:
        request.check_query(("gateway",))
        gateway = request.query.get("gateway")
        if gateway is not None:
            self.index.gateway(self.daemon.config, gateway)  # 404 when unknown
        return Response(200, await self.api.status_json(gateway))

    async def servers(self, request: Request) -> Response:
        request.check_query(("gateway",))
        gateway = request.query.get("gateway")
        if gateway is not None:
            self.index.gateway(self.daemon.config, gateway)
        return Response.json(servers_json(self.daemon, gateway))

    async def catalog(self, request: Request) -> Response:
        request.check_query(("gateway",))
        name = request.param
        gateway = self.index.resolve(self.daemon.config, request.query.get("gateway"), name)
        made = self.catalogs.get(gateway, name)
        if made is None:
            raise HttpError(
                404,
                f"no catalog cached for {gateway}/{name} yet (discovery pending or failing; "
                "see /v1/status)",
                reason="not_cached",
            )
        headers = ((b"etag", made.etag),)
        seen = request.header(b"if-none-match")
        if seen is not None and _matches(seen, made.etag):
            return Response(_NOT_MODIFIED, b"", headers)
        return Response(200, made.body, headers)

    # --- changes ------------------------------------------------------------------

    async def discover(self, request: Request) -> Response:
        body = await request.parsed(DiscoverBody, query=("gateway", "server"))
        config = self.daemon.config
        if body.server is not None:
            gateway: str | None = self.index.resolve(config, body.gateway, body.server)
        else:
            gateway = body.gateway
            if gateway is not None:
                self.index.gateway(config, gateway)
        report = await self.api.discover(gateway, body.server, refresh=body.refresh)
        return Response.json(discover_json(report, one=body.server is not None))

    async def clear(self, request: Request) -> Response:
        body = await request.parsed(ClearBody, query=("gateway", "server", "cache_type"))
        config = self.daemon.config
        gateway = body.gateway
        if body.server is not None:
            gateway = self.index.resolve(config, gateway, body.server)
        elif gateway is not None:
            self.index.gateway(config, gateway)
        check_clear(gateway, body.server, body.cache_type, body.forget_logins)
        reply = await self.api.clear(
            gateway, body.server, body.cache_type, forget_logins=body.forget_logins
        )
        return Response.json(reply)

    async def reload(self, request: Request) -> Response:
        await request.parsed(ReloadBody)
        return Response.json(await self.api.reload())

    async def accept(self, request: Request) -> Response:
        name = request.param
        body = await request.parsed(AcceptBody, query=("gateway",))
        gateway = self.index.resolve(self.daemon.config, body.gateway, name)
        return Response.json(await self.api.accept(gateway, name, body.tool))


def _matches(header: bytes, etag: bytes) -> bool:
    """Whether an ``If-None-Match`` value names ``etag`` (or is ``*``); weak tags compare too."""
    tags = [tag.strip().removeprefix(b"W/") for tag in header.split(b",")]
    return b"*" in tags or etag in tags
