"""``mcp-discoveryd auth login``: the authorization code flow with PKCE (S256), once, on the host.

The browser is sent to the authorization endpoint with a loopback redirect
(``http://127.0.0.1:PORT/callback``, RFC 8252: any port); the code that comes
back is exchanged with the PKCE verifier, and the refresh token is kept in the
state directory (``logins.py``) for the daemon to refresh from.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx2
from anyio.abc import SocketStream

from ..errors import TokenError
from ..secret import Secret
from .discover import discover
from .grant import Code, request_token
from .logins import Login, LoginStore
from .spec import OAuthSpec
from .tls import check_secure, ssl_context_for

LOGIN_LIMIT = 300.0  # seconds a person has to finish in the browser
MAX_REQUEST = 16 * 1024  # bytes of the browser's redirect request read at most
DONE_PAGE = b"Logged in: mcp-discoveryd has its token. You can close this window.\n"


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier (43-128 unreserved characters) and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def login(
    spec: OAuthSpec,
    server_url: str,
    store: LoginStore,
    open_url: Callable[[str], object],
    *,
    limit_s: float = LOGIN_LIMIT,
) -> Path:
    """Run the browser flow for ``server_url``; the file the refresh token was stored in."""
    async with httpx2.AsyncClient(
        verify=ssl_context_for(spec), trust_env=True, follow_redirects=False
    ) as http:
        authorize_url, token_url, resource = spec.authorization_url, spec.token_url, spec.resource
        if authorize_url is None or token_url is None:
            found = await discover(http, server_url, None)
            authorize_url = authorize_url or found.authorization_url
            token_url = token_url or found.token_url
            resource = resource or found.resource
        if authorize_url is None:
            raise TokenError("discovery", f"no authorization endpoint found for {server_url}")
        check_secure(spec, token_url)
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(24)
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        redirect_uri = f"http://127.0.0.1:{port}/callback"
        query = {
            "response_type": "code",
            "client_id": spec.client_id,
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
        }
        if spec.scope:
            query["scope"] = spec.scope
        if resource:
            query["resource"] = resource
        separator = "&" if urlsplit(authorize_url).query else "?"
        got: dict[str, str] = {}
        async with listener, anyio.create_task_group() as tg:

            async def answer(stream: SocketStream) -> None:
                async with stream:
                    params = await _callback(stream)
                    if params.get("state") != state:
                        await stream.send(_reply(400, b"state mismatch: start the login again\n"))
                        return
                    got.update(params)
                    await stream.send(_reply(200, DONE_PAGE))
                tg.cancel_scope.cancel()

            tg.start_soon(listener.serve, answer)
            open_url(f"{authorize_url}{separator}{urlencode(query)}")
            with anyio.move_on_after(limit_s):
                await anyio.sleep_forever()
            tg.cancel_scope.cancel()
        if "code" not in got:
            reason = got.get("error") or "no answer from the browser in time"
            raise TokenError("refused", f"login did not complete: {reason}")
        code = Code(Secret(got["code"]), Secret(verifier), redirect_uri)
        token = await request_token(http, spec, token_url, resource, code=code)
    if token.refresh is None:
        raise TokenError("bad_reply", "the authorization server gave no refresh token")
    return store.write(spec.identity(server_url), Login(token.refresh, token_url))


async def _callback(stream: SocketStream) -> dict[str, str]:
    """The query of the browser's ``GET /callback?...`` (one value per name)."""
    data = b""
    with anyio.move_on_after(10):
        while b"\r\n\r\n" not in data and len(data) < MAX_REQUEST:
            data += await stream.receive()
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    if len(parts) < 2 or not parts[1].startswith("/callback"):
        return {}
    return {k: v[0] for k, v in parse_qs(urlsplit(parts[1]).query).items()}


def _reply(status: int, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status} {'OK' if status == 200 else 'Bad Request'}\r\n"
    head += f"content-type: text/plain\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    return head.encode() + body
