"""`mcp-discoveryd discover` against a real Redis: the second run answers from the cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cache.redis_servers import RedisServer

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "daemon" / "examples" / "servers" / "demo_server.py"


def _cli(*args: str) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_discoveryd", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout else {}


def _discover(config: Path, *extra: str) -> dict[str, object]:
    code, report = _cli("discover", "--config", str(config), "--json", *extra)
    assert code == 0
    return report


def test_second_cli_run_is_served_from_redis(tmp_path: Path, redis_server: RedisServer) -> None:
    """Run 1 discovers and writes to Redis; run 2 answers from it; --refresh asks again."""
    config = tmp_path / "mcpd.toml"
    config.write_text(
        f'[cache]\nbackend = "redis"\nurl = "{redis_server.url}"\n'
        "[gateways.team-secret-id.servers.notes]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f'args = [{json.dumps(str(DEMO))}, "notes"]\n'
    )
    sources = []
    for extra in ([], [], ["--refresh"]):
        report = _discover(config, *extra)
        servers = report["available_servers"]
        assert isinstance(servers, dict)
        sources.append(servers["notes"]["source"])
        assert len(servers["notes"]["tools"]) == 3
    assert sources == ["discovery", "cache", "discovery"]
    client = redis_server.client()
    try:
        keys = [k.decode() for k in client.scan_iter(count=1000)]
    finally:
        client.close()
    assert keys and all(k.startswith("mcpd:v1:") for k in keys)
    assert not any("team-secret-id" in k or "notes" in k for k in keys)


def test_cache_status_and_clear_commands(tmp_path: Path, redis_server: RedisServer) -> None:
    """`cache status` reports the discovered server; `cache clear` removes it, in Enkrypt's words."""
    config = tmp_path / "mcpd.toml"
    config.write_text(
        f'[cache]\nbackend = "redis"\nurl = "{redis_server.url}"\n'
        "[gateways.prod.servers.notes]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f'args = [{json.dumps(str(DEMO))}, "notes"]\n'
    )
    _discover(config)
    code, status = _cli("cache", "status", "--config", str(config), "--gateway", "prod")
    assert code == 0
    cache_status = status["cache_status"]
    assert isinstance(cache_status, dict)
    notes = cache_status["gateway_specific"]["tools"]["servers"]["notes"]
    assert notes["exists"] is True and notes["tool_count"] == 3
    assert cache_status["gateway_specific"]["config"]["exists"] is True
    assert cache_status["global"]["backend"] == "redis"

    args = ["--gateway", "prod", "--server", "notes", "--type", "tools"]
    code, cleared = _cli("cache", "clear", "--config", str(config), *args)
    assert (code, cleared) == (
        0,
        {"status": "success", "message": "Cache cleared for server: notes"},
    )
    code, again = _cli("cache", "clear", "--config", str(config), *args)
    assert again["status"] == "info"
    _, status = _cli("cache", "status", "--config", str(config), "--gateway", "prod")
    servers = status["cache_status"]["gateway_specific"]["tools"]["servers"]  # type: ignore[index]
    assert servers["notes"]["exists"] is False

    code, _ = _cli("cache", "status", "--config", str(config), "--gateway", "nope")
    assert code == 2
