"""``mcp-discoveryd auth login SERVER`` as a person runs it: a process, a printed address."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import anyio
import httpx2
from tests.auth.authserver import CLIENT_ID, AuthServer
from tests.auth.support import serving

EXIT_USAGE = 2
DAEMON = str(Path(__file__).resolve().parents[2] / "daemon")


def _config(path: Path, base: str, state_dir: Path) -> Path:
    path.write_text(
        f"""
[daemon]
state_dir = "{state_dir}"

[gateways.g.servers.crm]
url = "{base}/s/crm/mcp"

[gateways.g.servers.crm.oauth]
client_id = "{CLIENT_ID}"
grant_type = "authorization_code"
scope = "tools:read"

[gateways.g.servers.plain]
url = "{base}/s/plain/mcp"
"""
    )
    return path


async def _run(*args: str) -> anyio.abc.Process:
    env = {**os.environ, "PYTHONPATH": DAEMON}
    return await anyio.open_process([sys.executable, "-m", "mcp_discoveryd", *args], env=env)


async def test_auth_login_prints_the_address_and_keeps_the_refresh_token(tmp_path: Path) -> None:
    """The person opens the printed address; the command exits 0 with the token in a 0600 file."""
    auth = AuthServer()
    state = tmp_path / "state"
    async with serving(auth, ["crm"]) as (base, _):
        config = _config(tmp_path / "mcpd.toml", base, state)
        process = await _run("auth", "login", "crm", "--config", str(config), "--no-browser")
        assert process.stderr is not None and process.stdout is not None
        seen = b""
        with anyio.fail_after(20):
            while b"/authorize?" not in seen or not seen.endswith(b"\n\n"):
                seen += await process.stderr.receive()
        url = next(w for w in seen.decode().split() if "/authorize?" in w)
        async with httpx2.AsyncClient(follow_redirects=True) as browser:
            assert (await browser.get(url)).status_code == 200
        with anyio.fail_after(20):
            code = await process.wait()
        out = await process.stdout.receive()
    assert code == 0, seen
    (stored,) = (state / "oauth").iterdir()
    assert str(stored) in out.decode()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert auth.requests[0]["grant_type"] == "authorization_code"
    assert "code_challenge=" in url and "code_challenge_method=S256" in url


async def test_auth_login_refuses_a_server_without_an_authorization_code_client(
    tmp_path: Path,
) -> None:
    """A server without that oauth table (or unknown) is a usage error, before any browser."""
    config = _config(tmp_path / "mcpd.toml", "http://127.0.0.1:9", tmp_path / "state")
    for name in ("plain", "nope"):
        process = await _run("auth", "login", name, "--config", str(config), "--no-browser")
        with anyio.fail_after(20):
            assert await process.wait() == EXIT_USAGE
    assert not (tmp_path / "state").exists()
