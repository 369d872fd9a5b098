"""The OAuth token cache as metrics: a token held per server, and token requests by outcome.

Read from the running daemon at each collection. Attributes are the config's gateway
and server names (never a URL, client id or token). Servers sharing one (server,
client) share its token: its requests are counted once, under the first that names it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..auth.clearing import oauth_servers
from . import instruments as i
from . import record

if TYPE_CHECKING:
    from ..app import Daemon


def bind_tokens(daemon: Daemon) -> None:
    """Observe the token gauge and the request counter from ``daemon.tokens``."""

    def held() -> Iterable[tuple[float, record.Attributes]]:
        tokens = daemon.tokens
        if tokens is None:
            return []
        return [
            (1.0 if tokens.status_of(s.oauth, s.url).held else 0.0, _where(s.gateway, s.server))
            for s in oauth_servers(daemon.config)
        ]

    def requests() -> Iterable[tuple[float, record.Attributes]]:
        tokens = daemon.tokens
        if tokens is None:
            return []
        out: list[tuple[float, record.Attributes]] = []
        seen: set[str] = set()
        for s in oauth_servers(daemon.config):
            if s.identity in seen:
                continue
            seen.add(s.identity)
            for outcome, n in tokens.outcomes_of(s.oauth, s.url).items():
                out.append((n, {**_where(s.gateway, s.server), i.OUTCOME: outcome}))
        return out

    record.observe(i.TOKENS_HELD, held)
    record.observe(i.TOKEN_REQUESTS, requests)


def _where(gateway: str, server: str) -> dict[str, str | int]:
    return {i.GATEWAY: gateway, i.SERVER: server}
