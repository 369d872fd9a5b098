"""`mcp-discoveryd run` as a real process: signals, shutdown bound, no child left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.actors.support import alive, control_socket, last_pid, spawns, write_config

pytestmark = pytest.mark.slow
SLACK = 3.0  # a loaded 2-core machine: interpreter exit, child kill, log flush


def _start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mcp_discoveryd", "run", "--config", str(config)]
        + ["--socket", control_socket(config)],  # never the shared default under /run
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_spawned(config: Path, name: str, proc: subprocess.Popen[str]) -> int:
    """The pid of the server once it started (its discovery is then in flight)."""
    deadline = time.monotonic() + 20
    while spawns(config, name) == 0:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the server never started"
        time.sleep(0.05)
    time.sleep(0.3)  # well inside its slow handshake
    return last_pid(config, name)


@pytest.mark.parametrize("ready", ["at-once", "after-preload"])
def test_sigterm_during_a_discovery_exits_0_within_the_bound_leaving_no_child(
    tmp_path: Path, ready: str
) -> None:
    config = write_config(
        tmp_path / "d.toml",
        {"slow": ["--slow-ms", "4000"]},
        daemon=f'ready = "{ready}"\nshutdown_timeout = "1s"',
    )
    proc = _start(config)
    child = _wait_spawned(config, "slow", proc)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=1.0 + SLACK + 5)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, err
    assert elapsed < 1.0 + SLACK, (elapsed, err)
    assert elapsed >= 0.9  # the discovery was given its bound before it was cancelled
    assert "SIGTERM: stopping" in err and "stopped" in err
    assert not alive(child)


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "d.toml",
        {"slow": ["--slow-ms", "4000"]},
        daemon='ready = "at-once"\nshutdown_timeout = "60s"',
    )
    proc = _start(config)
    child = _wait_spawned(config, "slow", proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=SLACK + 5)
    assert proc.returncode == 0, err
    assert time.monotonic() - started < SLACK, err
    assert "cancelling at once" in err
    assert not alive(child)


def test_sighup_reloads_the_config(tmp_path: Path) -> None:
    config = write_config(tmp_path / "d.toml", {"a": []})
    proc = _start(config)
    try:
        _wait_spawned(config, "a", proc)
        write_config(config, {"a": [], "b": []})
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while spawns(config, "b") == 0:
            assert time.monotonic() < deadline, "b was never started after SIGHUP"
            time.sleep(0.05)
        assert spawns(config, "a") == 1  # untouched
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "reload: 1 added, 0 changed, 0 removed, 1 unchanged" in err


def test_run_with_an_invalid_config_exits_78_listing_the_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[daemon]\nready = "later"\n')
    done = subprocess.run(
        [sys.executable, "-m", "mcp_discoveryd", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 78
    assert "daemon.ready" in done.stderr
