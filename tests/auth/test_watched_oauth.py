"""A long-lived watched session (list_changed) with an OAuth-protected server carries the token."""

from __future__ import annotations

import anyio
from tests.auth.authserver import AuthServer
from tests.auth.support import oauth, protected, serving

from mcp_discoveryd.auth.tokens import TokenCache
from mcp_discoveryd.discovery.transports.client import SharedClient
from mcp_discoveryd.discovery.watched import Opened, watch_session


async def test_a_watched_session_opens_with_the_shared_token() -> None:
    """The watcher's HTTP client draws on the daemon's token cache: one token for both."""
    auth = AuthServer()
    opened: list[Opened] = []
    async with serving(auth, ["w"]) as (base, checks):
        spec = protected(base, "w", oauth(f"{base}/token"))
        async with TokenCache() as tokens:
            await tokens.token(spec.target.oauth, spec.target.url.reveal())  # type: ignore[union-attr, arg-type]
            shared = SharedClient(1 << 20, tokens=tokens)
            try:
                with anyio.fail_after(15), anyio.CancelScope() as scope:

                    def on_open(event: Opened) -> None:
                        opened.append(event)
                        scope.cancel()

                    await watch_session(
                        spec,
                        lambda: shared,
                        mode="legacy",
                        require_advertised=False,
                        ping_s=30,
                        on_open=on_open,
                        on_change=lambda kind: None,
                    )
            finally:
                await shared.aclose()
    assert opened
    assert len(auth.requests) == 1  # the discovery's token, reused by the watcher
    assert checks["w"].refused == 0
