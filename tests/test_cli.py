"""The command line, run as a user runs it: a subprocess of the console entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = ROOT / "daemon" / "examples" / "demo.toml"
DEMO = ROOT / "daemon" / "examples" / "servers" / "demo_server.py"

# Prints its environment's secret to stderr, then dies before the handshake.
LEAKY_SERVER = """
import os, sys
print("token is", os.environ["API_TOKEN"], file=sys.stderr)
sys.exit(3)
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_discoveryd", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_accepts_the_demo_config() -> None:
    """A valid config exits 0 and says what it found."""
    done = run("check-config", str(DEMO_CONFIG))
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout and "gateway" in done.stdout


def test_check_config_reports_every_problem_and_exits_78(tmp_path: Path) -> None:
    """An invalid config exits 78 naming the file, each key path and what is wrong."""
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[gateways.g.servers.a]\nargs = ["x"]\n'  # no command and no url
        '[gateways.g.servers.b]\ncommand = "x"\ntimeout = "soon"\n'  # not a duration
    )
    done = run("check-config", str(bad))
    assert done.returncode == 78
    assert str(bad) in done.stderr
    assert "gateways.g.servers.a" in done.stderr and "gateways.g.servers.b" in done.stderr


def test_discover_demo_json_reports_every_server_truthfully() -> None:
    """The demo run: blocked and poisoned items reported, status partial, exit 1."""
    done = run("discover", "--config", str(DEMO_CONFIG), "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 1  # the demo includes a server the guardrails block
    assert report["status"] == "partial"
    servers = report["available_servers"]
    assert servers["notes"]["status"] == "success" and servers["notes"]["tools"]
    assert servers["weather"]["blocked_count"] == 1
    assert servers["weather"]["blocked_tools"][0]["name"] == "get_alerts"
    assert any(s["source"] == "config" for s in servers.values())
    assert report["blocked_servers"] and report["blocked_servers"][0]["violations"]
    assert set(report["discovery_failed_servers"]) == {
        b["server_name"] for b in report["blocked_servers"]
    }


def test_discover_table_and_single_server_filter() -> None:
    """Without --json a table is printed; --server narrows the run and exits 0 on success."""
    done = run("discover", "--config", str(DEMO_CONFIG), "--server", "notes")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["SERVER", "STATUS", "SOURCE"]
    assert lines[1].split()[:3] == ["notes", "success", "discovery"]
    assert "status: success (1/1 servers ok)" in done.stdout


def test_discover_unknown_server_is_a_usage_error() -> None:
    """Naming a server the config does not have exits 2 with the known names."""
    done = run("discover", "--config", str(DEMO_CONFIG), "--server", "nope")
    assert done.returncode == 2
    assert "unknown server 'nope'" in done.stderr and "notes" in done.stderr


def test_secrets_from_the_config_never_reach_the_output(tmp_path: Path) -> None:
    """A server that echoes its env secret to stderr has the secret masked in the report."""
    script = tmp_path / "leaky.py"
    script.write_text(LEAKY_SERVER)
    secret = "s3cr3t-value-4242"
    config = tmp_path / "leak.toml"
    config.write_text(
        "[gateways.g.servers.leaky]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(str(script))}]\n"
        f'env = {{API_TOKEN = "{secret}"}}\n'
    )
    for extra in ([], ["--json"]):
        done = run("discover", "--config", str(config), *extra)
        assert done.returncode == 1
        assert secret not in done.stdout + done.stderr
    report = json.loads(done.stdout)
    error = report["available_servers"]["leaky"]["error"]
    assert error["kind"] == "protocol_error"
    assert any("token is ***" in line for line in error["stderr_tail"])
