"""``auth login``: the browser flow (PKCE S256) once, then the daemon refreshes from its file."""

from __future__ import annotations

import stat
from pathlib import Path

import anyio
import httpx2
from tests.auth.authserver import AuthServer
from tests.auth.support import oauth, protected, serving
from tests.discovery.upstream_support import settings, tool_names
from tests.servers.sdk_servers import HIGH_TOOLS

from mcp_discoveryd.auth.login import login
from mcp_discoveryd.auth.logins import LoginStore
from mcp_discoveryd.auth.tokens import TokenCache
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ErrorKind


async def _browser(url: str) -> None:
    """A person who agrees at once: follow the redirect back to the loopback callback."""
    async with httpx2.AsyncClient(follow_redirects=True) as browser:
        page = await browser.get(url)
        assert page.status_code == 200 and b"Logged in" in page.content


async def _logged_in(auth: AuthServer, base: str, state_dir: Path, name: str) -> Path:
    spec = oauth(None, grant="authorization_code", client_secret=None)
    async with anyio.create_task_group() as tg:
        path = await login(
            spec,
            f"{base}/s/{name}/mcp",
            LoginStore(state_dir),
            lambda u: tg.start_soon(_browser, u),
        )
    return path


async def test_login_stores_the_refresh_token_0600_and_the_daemon_refreshes_from_it(
    tmp_path: Path,
) -> None:
    """Discovery finds the endpoints; the code is exchanged with the verifier; then no person."""
    auth = AuthServer(give_refresh=True)
    async with serving(auth, ["p"]) as (base, checks):
        path = await _logged_in(auth, base, tmp_path, "p")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        stored = path.read_text()
        assert "rt-" in stored and "code-" not in stored and "p/mcp" not in path.name
        spec = protected(base, "p", oauth(None, grant="authorization_code", client_secret=None))
        async with (
            TokenCache(logins=LoginStore(tmp_path)) as tokens,
            UpstreamClient(settings(), tokens=tokens) as client,
        ):
            result = await client.fetch(spec)
    assert tool_names(result) == list(HIGH_TOOLS), result.error
    grants = [form["grant_type"] for form in auth.requests]
    assert grants == ["authorization_code", "refresh_token"]
    assert "code_verifier" in auth.requests[0]
    assert checks["p"].refused == 0
    assert path.read_text() != stored  # the rotated refresh token was kept


async def test_without_a_login_status_says_a_person_must_log_in(tmp_path: Path) -> None:
    """No login (or one the server no longer honours): auth_failed, and status says log in."""
    auth = AuthServer(give_refresh=True)
    async with serving(auth, ["n"]) as (base, _):
        oauth_spec = oauth(None, grant="authorization_code", client_secret=None)
        spec = protected(base, "n", oauth_spec)
        async with (
            TokenCache(logins=LoginStore(tmp_path)) as tokens,
            UpstreamClient(settings(), tokens=tokens) as client,
        ):
            never = await client.fetch(spec)
            assert tokens.status_of(oauth_spec, f"{base}/s/n/mcp").login_required
        await _logged_in(auth, base, tmp_path, "n")
        auth.refresh_tokens.clear()  # the authorization server forgot the login
        async with (
            TokenCache(logins=LoginStore(tmp_path)) as tokens,
            UpstreamClient(settings(), tokens=tokens) as client,
        ):
            forgotten = await client.fetch(spec)
            state = tokens.status_of(oauth_spec, f"{base}/s/n/mcp")
    for result in (never, forgotten):
        assert result.error is not None and result.error.kind is ErrorKind.AUTH_FAILED
        assert "auth login" in result.error.message
    assert state.login_required and not state.held
    assert [f["grant_type"] for f in auth.requests] == ["authorization_code", "refresh_token"]
