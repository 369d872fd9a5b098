"""``clear`` for OAuth tokens: which servers a scope covers, and the reply.

``cache_type = "tokens"`` (or ``oauth_tokens``) with an optional gateway and server
drops the access tokens this daemon holds for the OAuth-protected servers in scope,
and their copy in the shared store, so the next discovery gets new ones. Stored
logins (authorization_code's refresh tokens) stay unless ``forget_logins``: then a
person must run `auth login` again. Other daemons keep the tokens they hold in
memory until those expire or are refused. A shared store that cannot be reached
makes the reply an error (its copy would be used again); a busy one raises
``CacheBusyError`` (the socket answers 503).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ..config.settings import DaemonConfig
from ..errors import CacheUnavailableError
from ..models import JSONObject, RemoteTarget
from .spec import OAuthSpec
from .tokens import TokenCache

TOKEN_TYPES = frozenset({"tokens", "oauth_tokens"})


@dataclass(frozen=True, slots=True)
class OAuthServer:
    """One OAuth-protected server of the config: names, its client and its URL."""

    gateway: str
    server: str
    oauth: OAuthSpec
    url: str = field(repr=False)  # with any credentials it has: the token cache's key, never shown

    @property
    def identity(self) -> str:
        """The token cache's key of (server, client)."""
        return self.oauth.identity(self.url)


def is_token_type(cache_type: str | None) -> bool:
    """True for the cache types that name the OAuth token cache."""
    return cache_type is not None and cache_type.strip().lower() in TOKEN_TYPES


def check_forget_logins(cache_type: str | None, forget_logins: bool) -> None:
    """``ValueError`` for ``forget_logins`` beside a cache type other than the token cache's."""
    if forget_logins and not is_token_type(cache_type):
        raise ValueError("forget_logins applies to cache_type tokens only")


def oauth_servers(
    config: DaemonConfig, gateway_id: str | None = None, server_name: str | None = None
) -> Iterator[OAuthServer]:
    """Every OAuth-protected server of the config (in one gateway, or one server)."""
    for gateway in config.gateways:
        if gateway_id is not None and gateway.id != gateway_id:
            continue
        for spec in gateway.servers:
            target = spec.target
            if server_name is not None and spec.name != server_name:
                continue
            if isinstance(target, RemoteTarget) and target.oauth is not None:
                yield OAuthServer(gateway.id, spec.name, target.oauth, target.url.reveal())


async def clear_tokens(
    tokens: TokenCache | None,
    config: DaemonConfig,
    gateway_id: str | None,
    server_name: str | None,
    *,
    forget_logins: bool = False,
) -> JSONObject:
    """Drop the tokens of the OAuth servers in scope; ``{"status", "message", ...}``."""
    servers = list(oauth_servers(config, gateway_id, server_name))
    if not servers or tokens is None:
        return {"status": "info", "message": "No OAuth-protected server in scope", "dropped": 0}
    try:
        dropped = await tokens.clear({s.identity for s in servers}, forget_logins=forget_logins)
    except CacheUnavailableError as exc:  # busy propagates: the socket answers 503
        return {
            "status": "error",
            "message": f"Dropped the access tokens held here, but not the shared store's copy "
            f"({exc}): other daemons, and this one later, may use them; clear again when "
            "Redis answers",
        }
    names = [f"{s.gateway}/{s.server}" for s in servers]
    kept = "stored logins forgotten" if forget_logins else "stored logins kept"
    return {
        "status": "success",
        "message": f"Dropped {dropped} access token(s) of {len(servers)} OAuth server(s); "
        f"the next discovery gets new ones ({kept})",
        "dropped": dropped,
        "servers": names,
        "forget_logins": forget_logins,
    }
