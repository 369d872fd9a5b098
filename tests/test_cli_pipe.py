"""stdout closed early (`discover --json | head -1`): a quiet exit 141, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mcp_discoveryd.cli import EXIT_PIPE

TOOLS = 400  # listed in the config, so no server runs; the report is far past a pipe's buffer


def _config(tmp_path: Path) -> Path:
    tools = {f"tool_{i:05d}": f"Tool number {i}, described at some length." for i in range(TOOLS)}
    listed = ", ".join(f"{name} = {json.dumps(text)}" for name, text in tools.items())
    path = tmp_path / "big.toml"
    path.write_text(f'[gateways.g.servers.s]\ncommand = "unused"\ntools = {{ {listed} }}\n')
    return path


def test_a_reader_that_goes_away_gets_a_quiet_exit_141(tmp_path: Path) -> None:
    """The reader takes one line and closes: exit 141, nothing on stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_discoveryd", "discover", "--json", "--config"]
        + [str(_config(tmp_path))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().strip() == b"{"
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == EXIT_PIPE
    assert stderr == ""


def test_the_whole_report_still_arrives_when_read_to_the_end(tmp_path: Path) -> None:
    """The guard changes nothing for a reader that stays: exit 0, the JSON parses."""
    result = subprocess.run(
        [sys.executable, "-m", "mcp_discoveryd", "discover", "--json", "--config"]
        + [str(_config(tmp_path))],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["available_servers"]["s"]["tools"]) == TOOLS
