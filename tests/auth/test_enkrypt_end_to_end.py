"""An Enkrypt config with oauth_config, run by the daemon against a real authorization server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.auth.authserver import CLIENT_ID, CLIENT_SECRET, AuthServer
from tests.auth.support import serving
from tests.config.test_enkrypt_loader import minimal
from tests.servers.sdk_servers import HIGH_TOOLS

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config import load_config

pytestmark = pytest.mark.slow


def enkrypt_config(path: Path, base: str) -> Path:
    """An Enkrypt config whose one server sits behind OAuth, as Secure MCP Gateway writes it."""
    doc = minimal()
    entry = doc["mcp_configs"]["cfg"]["mcp_config"][0]
    entry["server_name"] = "weather"
    entry["config"] = {"url": f"{base}/s/weather/mcp"}
    entry["oauth_config"] = {
        "enabled": True,
        "OAUTH_VERSION": "2.1",
        "OAUTH_GRANT_TYPE": "client_credentials",
        "OAUTH_CLIENT_ID": CLIENT_ID,
        "OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "OAUTH_TOKEN_URL": f"{base}/token",
        "OAUTH_SCOPE": "mcp:tools",
        "OAUTH_USE_BASIC_AUTH": True,
        "OAUTH_ENFORCE_HTTPS": True,  # loopback is allowed over plain HTTP
    }
    path.write_text(json.dumps(doc))
    return path


async def test_enkrypt_oauth_config_discovered_end_to_end(tmp_path: Path) -> None:
    """The daemon preloads the protected server; status shows the token held, never the token."""
    auth = AuthServer(expires_in=3600)
    async with serving(auth, ["weather"]) as (base, checks):
        path = enkrypt_config(tmp_path / "enkrypt_mcp_config.json", base)
        async with Daemon(load_config(path, env={})) as daemon:
            api = DaemonApi(daemon)
            gateway = daemon.config.gateways[0].id
            entry = api.catalog(gateway, "weather")
            status = await api.status()
    assert entry is not None and entry.catalog is not None
    assert [t["name"] for t in entry.catalog.tools] == list(HIGH_TOOLS)
    assert auth.methods == ["basic"] and auth.requests[0]["scope"] == "mcp:tools"
    assert checks["weather"].refused == 0
    (row,) = status["daemon"]["oauth"]
    assert row["server"] == "weather" and row["token_held"] is True
    assert row["expires_at"] is not None
    shown = json.dumps(status)
    assert CLIENT_SECRET not in shown and not any(t in shown for t in auth.valid)
