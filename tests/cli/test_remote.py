"""The commands that ask a running daemon: a real daemon on a real socket, the CLI in process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.control.support import control_config, in_thread

from mcp_discoveryd.cli import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, main

pytestmark = pytest.mark.slow


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_status_shows_each_server_with_its_state_freshness_and_next_refresh(
    sock_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with in_thread(control_config(sock_dir)) as s:
        code, out, _ = run_cli(capsys, "status", "--socket", s.socket)
    assert code == EXIT_OK
    head, _, table = out.partition("\n\n")
    assert "ready" in head and "cache memory ok" in head
    rows = [line.split() for line in table.splitlines()]
    assert rows[0][:4] == ["GATEWAY", "SERVER", "STATE", "ENTRY"]
    by_server = {row[1]: row for row in rows[1:]}
    assert set(by_server) == {"a", "b"}
    for row in by_server.values():
        assert row[3] == "fresh" and row[4] == "3"  # freshness, tool count
        assert "ago" in row[5:7] and "in" in row  # fetched ... ago, next refresh in ...


def test_json_is_the_daemons_answer(sock_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with in_thread(control_config(sock_dir)) as s:
        code, out, _ = run_cli(capsys, "status", "--json", "--socket", s.socket)
        code_catalog, catalog, _ = run_cli(capsys, "catalog", "a", "--json", "--socket", s.socket)
    assert code == code_catalog == EXIT_OK
    assert {row["server"] for row in json.loads(out)["servers"]} == {"a", "b"}
    assert [tool["name"] for tool in json.loads(catalog)["tools"]] == ["tool_0", "tool_1", "tool_2"]


def test_catalog_discover_clear_reload_and_accept_ask_the_daemon(
    sock_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with in_thread(control_config(sock_dir)) as s:
        sock = ("--socket", s.socket)
        code, out, _ = run_cli(capsys, "catalog", "a", *sock)
        assert code == EXIT_OK and "g/a: fresh" in out and "tools (3):" in out
        runs = s.daemon.actors.handles[("g", "a")].state.runs
        code, out, _ = run_cli(capsys, "discover", "--server", "a", "--refresh", *sock)
        assert code == EXIT_OK and out.splitlines()[1].split()[:2] == ["a", "success"]
        assert s.daemon.actors.handles[("g", "a")].state.runs == runs + 1  # the daemon's actor ran
        code, out, _ = run_cli(capsys, "clear", "--server", "b", *sock)
        assert code == EXIT_OK and "Cache cleared for server: b" in out
        code, out, _ = run_cli(capsys, "reload", *sock)
        assert code == EXIT_OK and "status: " in out
        code, out, _ = run_cli(capsys, "accept", "a", *sock)
        assert code == EXIT_OK and "accepted: []" in out


def test_an_unknown_server_is_a_usage_error_naming_the_known_ones(
    sock_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with in_thread(control_config(sock_dir)) as s:
        code, _, err = run_cli(capsys, "catalog", "zz", "--socket", s.socket)
    assert code == EXIT_USAGE
    assert "unknown server 'zz'" in err and "a, b" in err


def test_a_failing_server_makes_discover_exit_1(
    sock_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = control_config(sock_dir, {"a": ["--tools", "1"], "bad": ["--exit-code", "3"]})
    with in_thread(config) as s:
        code, out, _ = run_cli(capsys, "discover", "--socket", s.socket)
    assert code == EXIT_FAILED
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:] if line.strip()}
    assert rows["a"] == "success" and rows["bad"] == "error"


def test_no_daemon_exits_69_naming_the_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "none.sock")
    done = subprocess.run(
        [sys.executable, "-m", "mcp_discoveryd", "status", "--socket", path],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_UNAVAILABLE
    assert path in done.stderr and "mcp-discoveryd run" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_socket_comes_from_the_config_when_not_given(
    sock_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = control_config(sock_dir)
    with in_thread(config) as s:
        path = sock_dir / "with-socket.toml"
        path.write_text(Path(config.path).read_text() + f'\n[control]\nsocket = "{s.socket}"\n')
        code, out, _ = run_cli(capsys, "status", "--config", str(path))
    assert code == EXIT_OK and "GATEWAY" in out


def test_a_standalone_discover_says_when_a_daemon_serves_its_config(
    sock_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = control_config(sock_dir, {"a": ["--tools", "1"]})
    path = sock_dir / "with-socket.toml"
    with in_thread(config) as s:
        path.write_text(Path(config.path).read_text() + f'\n[control]\nsocket = "{s.socket}"\n')
        code, _, err = run_cli(capsys, "discover", "--config", str(path))
    assert code == EXIT_OK
    assert f"a daemon serves {s.socket}" in err
    _, _, quiet = run_cli(capsys, "discover", "--config", str(path))  # no daemon any more
    assert "a daemon serves" not in quiet
