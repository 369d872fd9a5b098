"""The token request (RFC 6749 section 4.4 and 6): client credentials, or a refresh token.

Why not a library client: authlib's async clients are built on httpx, not on
the httpx2 stack the daemon shares, and the MCP SDK's
``ClientCredentialsOAuthProvider`` keeps one token per provider object with
no refresh ahead, no single flight across sessions and no mTLS. So the
request is built here (a form POST) and its reply validated by the SDK's
``OAuthToken`` model; discovery uses the SDK's helpers (``discover.py``).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import ValidationError

from ..errors import TokenError
from ..secret import Secret, scrub
from .spec import OAuthSpec

if TYPE_CHECKING:  # httpx2 is imported by the calls that send: a stdio-only run never does
    import httpx2

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and when it stops being used (wall clock, so hosts can share it)."""

    access: Secret
    expires_at: float | None  # None: the server gave no expires_in; kept until refused
    refresh: Secret | None = None
    obtained_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Code:
    """An authorization code to exchange (RFC 6749 4.1.3), with its PKCE verifier (RFC 7636)."""

    code: Secret
    verifier: Secret
    redirect_uri: str


def token_form(
    spec: OAuthSpec, resource: str | None, refresh: Secret | None = None, code: Code | None = None
) -> dict[str, str]:
    """The form of one token request, client authentication in the body when so configured."""
    form: dict[str, str] = dict(spec.extra_params)
    if code is not None:
        form.update(
            grant_type="authorization_code",
            code=code.code.reveal(),
            code_verifier=code.verifier.reveal(),
            redirect_uri=code.redirect_uri,
        )
    elif refresh is not None:
        form.update(grant_type="refresh_token", refresh_token=refresh.reveal())
    else:
        form["grant_type"] = "client_credentials"
    for name, value in (
        ("scope", spec.scope),
        ("audience", spec.audience),
        ("resource", resource),
    ):
        if value:
            form[name] = value
    if spec.client_auth == "post" or spec.client_secret is None:
        form["client_id"] = spec.client_id
        if spec.client_secret is not None:
            form["client_secret"] = spec.client_secret.reveal()
    return form


def token_headers(spec: OAuthSpec) -> dict[str, str]:
    """The request's headers: custom ones, then HTTP basic client authentication."""
    headers = {name: value.reveal() for name, value in spec.headers.items()}
    headers["accept"] = "application/json"
    if spec.client_auth == "basic" and spec.client_secret is not None:
        # RFC 6749 2.3.1: each part form-encoded before it is joined.
        pair = f"{quote(spec.client_id, safe='')}:{quote(spec.client_secret.reveal(), safe='')}"
        headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    return headers


async def request_token(
    http: httpx2.AsyncClient,
    spec: OAuthSpec,
    token_url: str,
    resource: str | None,
    *,
    refresh: Secret | None = None,
    code: Code | None = None,
    clock: Callable[[], float] = time.time,
) -> Token:
    """POST one token request; the token, or ``TokenError`` saying why (never with a secret)."""
    import httpx2

    form = token_form(spec, resource, refresh, code)
    try:
        response = await http.post(token_url, data=form, headers=token_headers(spec))
        body = await response.aread()
    except httpx2.HTTPError as exc:
        raise TokenError(
            "unreachable", f"token endpoint {token_url} unreachable: {type(exc).__name__}"
        ) from None
    if response.status_code != 200:
        raise _refusal(token_url, response.status_code, body, spec.secrets())
    from ..discovery.transports.sdk_shim import OAuthToken

    try:
        parsed = OAuthToken.model_validate_json(body)
    except ValidationError:
        raise TokenError(
            "bad_reply", f"token endpoint {token_url} answered without a usable bearer token"
        ) from None
    now = clock()
    expires = None if parsed.expires_in is None else now + max(0, parsed.expires_in)
    kept = parsed.refresh_token or (refresh.reveal() if refresh is not None else None)
    return Token(
        Secret(parsed.access_token),
        expires,
        None if kept is None else Secret(kept),
        now,
    )


def _refusal(token_url: str, status: int, body: bytes, secrets: tuple[Secret, ...]) -> TokenError:
    """The server's OAuth error code (RFC 6749 5.2) as the reason; its text scrubbed."""
    code, said = "", ""
    try:
        data = json.loads(body)
        if isinstance(data, dict):
            code = str(data.get("error") or "")[:64]
            said = str(data.get("error_description") or "")[:200]
    except ValueError:
        pass
    detail = f": {scrub(said, secrets)}" if said else ""
    if code == "invalid_client" or (status == 401 and not code):
        return TokenError(
            "invalid_client",
            f"token endpoint {token_url} refused the client credentials "
            f"(HTTP {status}, invalid_client){detail}: check client_id and client_secret",
        )
    return TokenError(
        "refused",
        f"token endpoint {token_url} refused the request (HTTP {status}, {code or 'no error code'}){detail}",
    )
