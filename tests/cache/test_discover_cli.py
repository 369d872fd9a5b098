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


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_discoveryd", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _cli(*args: str) -> tuple[int, dict[str, object]]:
    done = _run(*args)
    return done.returncode, json.loads(done.stdout) if done.stdout else {}


def _notes_config(tmp_path: Path, redis_url: str, gateway: str = "prod") -> Path:
    config = tmp_path / "mcpd.toml"
    config.write_text(
        f'[cache]\nbackend = "redis"\nurl = "{redis_url}"\n'
        f"[gateways.{gateway}.servers.notes]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f'args = [{json.dumps(str(DEMO))}, "notes"]\n'
    )
    return config


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


def test_discover_exits_1_naming_what_redis_did_not_get(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Redis stopped (nothing listens on its port): the report prints, then exit 1 and a message
    naming every entry that was not stored."""
    config = _notes_config(tmp_path, redis_server.url)
    redis_server.stop()
    done = _run("discover", "--config", str(config), "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "success" and report["available_servers"]["notes"]["tools"]
    assert "results not stored in redis" in done.stderr
    assert "1 catalog(s) (prod/notes)" in done.stderr
    assert "1 gateway config(s) (prod)" in done.stderr


def test_clear_exits_1_when_redis_could_not_be_reached(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """A clear that never reached Redis is an error saying what was not cleared, not a success."""
    config = _notes_config(tmp_path, redis_server.url)
    redis_server.stop()
    args = ["--gateway", "prod", "--server", "notes"]
    done = _run("cache", "clear", "--config", str(config), *args)
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["status"] == "error" and "deferred" not in result
    assert result["message"].startswith(
        "not cleared: the tools entries of server 'notes' of gateway 'prod'"
    )
    assert "not cleared" in done.stderr


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--server", "nosuch"], "unknown server 'nosuch' (known: notes)"),
        (["--gateway", "prod", "--server", "nosuch"], "unknown server 'nosuch'"),
        (["--type", "bogus"], "unknown cache_type 'bogus'"),
        (["--type", "tokens"], "held by the running daemon: `mcp-discoveryd clear --type tokens`"),
        (["--gateway", "nope"], "unknown gateway 'nope'"),
    ],
)
def test_clear_with_an_unknown_name_or_type_is_a_usage_error(
    tmp_path: Path, args: list[str], complaint: str
) -> None:
    """Typos exit 2 with the known names, like discover --server NOSUCH; nothing is cleared."""
    config = _notes_config(tmp_path, "redis://127.0.0.1:1")
    done = _run("cache", "clear", "--config", str(config), *args)
    assert done.returncode == 2
    assert complaint in done.stderr and not done.stdout


def test_status_exits_1_when_redis_could_not_be_read(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Figures from a fresh process's empty memory are not the cache's: exit 1, reason given."""
    config = _notes_config(tmp_path, redis_server.url)
    redis_server.stop()
    done = _run("cache", "status", "--config", str(config), "--gateway", "prod")
    assert done.returncode == 1
    status = json.loads(done.stdout)
    assert status["status"] == "error"
    assert status["cache_status"]["global"]["health"] == "degraded"
    assert "status of this process's memory only: redis" in done.stderr
