"""The OAuth token cache as metrics: a token held per server, and token requests by outcome.

Read from the running daemon at each collection. Attributes are the config's gateway
and server names (never a URL, client id or token). Servers sharing one (server,
client) share its token: its requests are counted once, under the first that names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ..auth.spec import OAuthSpec
from ..models import RemoteTarget
from . import instruments as i
from . import record

if TYPE_CHECKING:
    from ..app import Daemon


def oauth_servers(daemon: Daemon) -> Iterator[tuple[str, str, OAuthSpec, str]]:
    """(gateway, server, its OAuth client, its URL) of every OAuth-protected server."""
    for gateway in daemon.config.gateways:
        for spec in gateway.servers:
            target = spec.target
            if isinstance(target, RemoteTarget) and target.oauth is not None:
                yield gateway.id, spec.name, target.oauth, target.url.reveal()


def bind_tokens(daemon: Daemon) -> None:
    """Observe the token gauge and the request counter from ``daemon.tokens``."""

    def held() -> Iterable[tuple[float, record.Attributes]]:
        tokens = daemon.tokens
        if tokens is None:
            return []
        return [
            (1.0 if tokens.status_of(oauth, url).held else 0.0, {i.GATEWAY: gw, i.SERVER: name})
            for gw, name, oauth, url in oauth_servers(daemon)
        ]

    def requests() -> Iterable[tuple[float, record.Attributes]]:
        tokens = daemon.tokens
        if tokens is None:
            return []
        out: list[tuple[float, record.Attributes]] = []
        seen: set[str] = set()
        for gw, name, oauth, url in oauth_servers(daemon):
            identity = oauth.identity(url)
            if identity in seen:
                continue
            seen.add(identity)
            for outcome, n in tokens.outcomes_of(oauth, url).items():
                out.append((n, {i.GATEWAY: gw, i.SERVER: name, i.OUTCOME: outcome}))
        return out

    record.observe(i.TOKENS_HELD, held)
    record.observe(i.TOKEN_REQUESTS, requests)
