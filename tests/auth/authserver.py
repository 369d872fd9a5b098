"""A small real OAuth authorization server and MCP servers behind a bearer check, for tests.

One Starlette app serves both sides on one origin:

- ``POST /token``: client credentials and refresh token grants, the client
  authenticated by HTTP basic or in the body (the method used is recorded);
- ``/.well-known/oauth-authorization-server`` (RFC 8414);
- ``/s/{name}/mcp``: an SDK MCP server per name, answering 401 with
  ``WWW-Authenticate: Bearer resource_metadata=...`` without a valid token;
- ``/.well-known/oauth-protected-resource/s/{name}/mcp`` (RFC 9728).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from tests.servers.sdk_servers import build_high

CLIENT_ID = "daemon-client"
CLIENT_SECRET = "cs-7Qk2-very-secret-Zp9"


@dataclass(eq=False)
class AuthServer:
    """State of the test authorization server: clients, issued tokens, what it was asked."""

    expires_in: int | None = 3600
    give_refresh: bool = False
    clients: dict[str, str] = field(default_factory=lambda: {CLIENT_ID: CLIENT_SECRET})
    valid: dict[str, float] = field(default_factory=dict)  # access token -> wall-clock expiry
    refresh_tokens: set[str] = field(default_factory=set)
    requests: list[dict[str, str]] = field(default_factory=list)  # each token request's form
    methods: list[str] = field(default_factory=list)  # "basic" | "post", per token request
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    base: str = ""  # set once serving
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (challenge, redirect)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def revoke_all(self) -> None:
        """Every token issued so far stops working."""
        self.valid.clear()

    def is_valid(self, token: str) -> bool:
        expiry = self.valid.get(token)
        return expiry is not None and time.time() < expiry

    async def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.requests.append(form)
        self.headers_seen.append(dict(request.headers))
        client_id, secret, method = _client_auth(request, form)
        self.methods.append(method)
        # a public client (no secret) may use the code and refresh grants: PKCE is its proof
        public = secret is None and form.get("grant_type") != "client_credentials"
        if client_id not in self.clients or (not public and self.clients[client_id] != secret):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "client authentication failed"},
                status_code=401,
            )
        grant = form.get("grant_type")
        if grant == "authorization_code":
            issued = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if issued is None or issued != (expected, form.get("redirect_uri")):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
        elif grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
        elif grant != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        n = next(self._ids)
        access = f"at-{n}-{grant}"
        life = self.expires_in if self.expires_in is not None else 10**6
        self.valid[access] = time.time() + life
        body: dict[str, object] = {"access_token": access, "token_type": "bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if self.give_refresh or grant == "authorization_code":
            refresh = f"rt-{n}"
            self.refresh_tokens.add(refresh)
            body["refresh_token"] = refresh
        return JSONResponse(body)

    async def authorize(self, request: Request) -> Response:
        """The person's side, already agreed: a code bound to the PKCE challenge, redirected back."""
        q = request.query_params
        if q.get("client_id") not in self.clients or q.get("code_challenge_method") != "S256":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = f"code-{next(self._ids)}"
        self.codes[code] = (q["code_challenge"], q["redirect_uri"])
        target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
        return RedirectResponse(target, status_code=302)

    async def metadata(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.base,
                "authorization_endpoint": f"{self.base}/authorize",
                "token_endpoint": f"{self.base}/token",
                "grant_types_supported": ["client_credentials", "refresh_token"],
            }
        )

    async def resource_metadata(self, request: Request) -> Response:
        name = request.path_params["name"]
        return JSONResponse(
            {"resource": f"{self.base}/s/{name}/mcp", "authorization_servers": [self.base]}
        )


def _client_auth(request: Request, form: dict[str, str]) -> tuple[str | None, str | None, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        pair = base64.b64decode(header[6:]).decode()
        user, _, password = pair.partition(":")
        return unquote(user), unquote(password), "basic"
    return form.get("client_id"), form.get("client_secret"), "post"


class BearerCheck:
    """ASGI middleware: a valid bearer token from ``auth`` or a 401 naming the metadata."""

    def __init__(self, app: ASGIApp, auth: AuthServer, name: str) -> None:
        self.app = app
        self.auth = auth
        self.name = name
        self.refused = 0
        self.tokens_seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"authorization", b"").decode()
            token = header[7:] if header.lower().startswith("bearer ") else ""
            self.tokens_seen.append(token)
            if not self.auth.is_valid(token):
                self.refused += 1
                metadata = (
                    f"{self.auth.base}/.well-known/oauth-protected-resource/s/{self.name}/mcp"
                )
                response = JSONResponse(
                    {"error": "invalid_token"},
                    status_code=401,
                    headers={"www-authenticate": f'Bearer resource_metadata="{metadata}"'},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_app(
    auth: AuthServer, names: list[str], open_names: list[str] | None = None
) -> tuple[Starlette, dict[str, BearerCheck]]:
    """The authorization server and one protected MCP server per name, on one app.

    ``open_names``: the same MCP server without the bearer check, at ``/o/NAME/mcp``.
    """
    checks: dict[str, BearerCheck] = {}
    mounts: list[Route | Mount] = [
        Route("/token", auth.token, methods=["POST"]),
        Route("/authorize", auth.authorize),
        Route("/.well-known/oauth-authorization-server", auth.metadata),
        Route("/.well-known/oauth-protected-resource/s/{name}/mcp", auth.resource_metadata),
    ]
    lifespans = []
    for name in names:
        server = build_high()
        inner = server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True)
        lifespans.append(inner)
        checks[name] = BearerCheck(inner, auth, name)
        mounts.append(Mount(f"/s/{name}", app=checks[name]))
    for name in open_names or []:
        inner = build_high().streamable_http_app(streamable_http_path="/mcp", stateless_http=True)
        lifespans.append(inner)
        mounts.append(Mount(f"/o/{name}", app=inner))
    return Starlette(routes=mounts, lifespan=_lifespans(lifespans)), checks


def _lifespans(apps: list[Starlette]):  # type: ignore[no-untyped-def]
    from contextlib import AsyncExitStack, asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        async with AsyncExitStack() as stack:
            for inner in apps:
                await stack.enter_async_context(inner.router.lifespan_context(inner))
            yield

    return lifespan
