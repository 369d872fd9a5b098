"""The command line, run as a user runs it: a subprocess of the console entry point."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.servers.secret_echo import SCRIPT as SECRET_ECHO

from mcp_discoveryd.cli import EXIT_CODES, build_parser

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = ROOT / "daemon" / "examples" / "demo.toml"
DEMO = ROOT / "daemon" / "examples" / "servers" / "demo_server.py"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_discoveryd", *args],
        env=env,
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


def test_several_secrets_never_reach_the_output_and_innocent_values_stay(tmp_path: Path) -> None:
    """Distinct secrets in env (literal and ${VAR}) are masked in what a server echoes; the
    JSON stays valid and values such as true, info, success and 1 are printed as they are."""
    secrets = {
        "API_TOKEN": "tok-4242-literal-a1",
        "DB_PASSWORD": "db-pw-9d1c-literal",
        "EXPANDED": "ghp_expanded_7e6d5c4b",
    }
    innocent = 'DEBUG = "true", LOG_LEVEL = "info", MODE = "success", RETRIES = "1"'
    python = json.dumps(sys.executable)
    config = tmp_path / "leak.toml"
    config.write_text(
        "[gateways.g.servers.leaky]\n"
        f"command = {python}\n"
        f'args = [{json.dumps(SECRET_ECHO)}, "API_TOKEN", "DB_PASSWORD", "GH", "MODE"]\n'
        f'env = {{ API_TOKEN = "{secrets["API_TOKEN"]}", DB_PASSWORD = "{secrets["DB_PASSWORD"]}", '
        f'GH = "${{EXPANDED}}", {innocent} }}\n'
        "[gateways.g.servers.notes]\n"
        f"command = {python}\n"
        f'args = [{json.dumps(str(DEMO))}, "notes"]\n'
        f"env = {{ {innocent} }}\n"
    )
    env = {**os.environ, "EXPANDED": secrets["EXPANDED"]}
    for extra in ([], ["--json"]):
        done = run("discover", "--config", str(config), "--log-level", "DEBUG", *extra, env=env)
        assert done.returncode == 1
        assert not [s for s in secrets.values() if s in done.stdout + done.stderr]
    report = json.loads(done.stdout)
    notes = report["available_servers"]["notes"]
    assert notes["status"] == "success"
    assert any(t["annotations"].get("readOnlyHint") is True for t in notes["tools"])
    tail = report["available_servers"]["leaky"]["error"]["stderr_tail"]
    for name in ("API_TOKEN", "DB_PASSWORD", "GH"):
        assert f"{name} is ***; sending Bearer ***" in tail
    assert "MODE is success; sending Bearer success" in tail  # not a credential: as the server said


def test_log_level_is_accepted_after_the_subcommand_too() -> None:
    """--log-level DEBUG after check-config turns on debug logging, like before it."""
    after = run("check-config", str(DEMO_CONFIG), "--log-level", "DEBUG")
    assert after.returncode == 0, after.stderr
    bad = run("check-config", str(DEMO_CONFIG), "--log-level", "LOUD")
    assert bad.returncode == 2 and "--log-level" in bad.stderr


def test_check_config_takes_the_path_as_config_option_too() -> None:
    """check-config --config PATH works like the positional path; neither is a usage error."""
    done = run("check-config", "--config", str(DEMO_CONFIG))
    assert done.returncode == 0 and "ok" in done.stdout
    assert run("check-config").returncode == 2
    assert run("check-config", str(DEMO_CONFIG), "--config", "other.toml").returncode == 2


def test_help_documents_every_argument_and_exit_code() -> None:
    """Every option and positional of every command has help text; --help lists the exit codes."""
    parser = build_parser()
    parsers = [parser]
    while parsers:
        current = parsers.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
                continue
            assert action.help, f"{current.prog}: {action.dest} has no help"
    codes = re.findall(r"^  (\d+) ", EXIT_CODES, re.MULTILINE)
    assert {"0", "1", "2", "69", "70", "77", "78", "141"} <= set(codes)
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for code in codes:  # each exit code has its row in the README's table
        assert f"\n| {code} | " in readme, code
    for args in (
        ["--help"],
        ["discover", "--help"],
        ["cache", "clear", "--help"],
        ["status", "--help"],
    ):
        done = run(*args)
        for code in codes:
            assert f"\n  {code} " in done.stdout, (args, code)


def test_discover_one_server_lists_what_it_offers_after_the_table() -> None:
    """--server NAME prints tools, prompts and resources with one line of description each."""
    done = run("discover", "--config", str(DEMO_CONFIG), "--server", "notes")
    assert done.returncode == 0, done.stderr
    after_table = done.stdout.split("status: success", 1)[1]
    assert "tools (3):" in after_table and "prompts (1):" in after_table
    assert "list_notes  List the titles of all notes." in after_table
    assert "summarize_notes" in after_table and "notes://index" in after_table
