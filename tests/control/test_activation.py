"""Where the listening socket comes from: systemd (the real ``systemd-socket-activate``),
or created here, a stale file replaced and a live daemon's socket never taken."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.control.support import TOOLS, control_config

from mcp_discoveryd.config.settings import ControlSettings
from mcp_discoveryd.control.activation import inherited, open_listener
from mcp_discoveryd.control.client import SyncControlClient
from mcp_discoveryd.errors import DaemonUnavailable, SocketInUseError, SocketSetupError

pytestmark = pytest.mark.slow

DAEMON = Path(__file__).resolve().parents[2] / "daemon"


def run_env() -> dict[str, str]:
    """This process's environment with the worktree's package first on the path."""
    return {**os.environ, "PYTHONPATH": f"{DAEMON}:{os.environ.get('PYTHONPATH', '')}"}


def wait_health(path: str, limit: float = 30.0) -> dict[str, object]:
    """Poll ``/v1/health`` until a daemon on ``path`` says it is ready (it answers sooner).

    Each request may wait until the deadline: on an activated socket the first one is
    queued until the daemon has started (its imports alone take seconds on a loaded
    machine), and is answered then.
    """
    deadline = time.monotonic() + limit
    while True:
        try:
            left = max(0.1, deadline - time.monotonic())
            with SyncControlClient(path, timeout=left) as client:
                health = client.health()
            if health["ready"]:
                return health
        except DaemonUnavailable:
            pass
        assert time.monotonic() < deadline, f"no ready daemon on {path}"
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    """SIGTERM, then the exit code and stderr (the logs)."""
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    return process.returncode, err.decode()


def test_a_socket_from_systemd_is_served_and_left_to_it(sock_dir: Path) -> None:
    config = control_config(sock_dir, {"a": TOOLS})
    given = sock_dir / "activated.sock"
    other = sock_dir / "other.sock"  # the control socket is the second fd, found by name
    process = subprocess.Popen(
        [
            "systemd-socket-activate",
            "-l",
            str(other),
            "-l",
            str(given),
            "--fdname=other:control",
            f"--setenv=PYTHONPATH={DAEMON}",  # it passes the child no other variable
            sys.executable,
            "-m",
            "mcp_discoveryd",
            "run",
            "--config",
            config.path,
            "--socket",
            str(sock_dir / "unused.sock"),
        ],
        env=run_env(),
        stderr=subprocess.PIPE,
    )
    try:
        health = wait_health(str(given))
        assert health["live"] is True
        with SyncControlClient(str(given)) as client:
            assert client.catalog("a").data is not None
        assert not (sock_dir / "unused.sock").exists()  # nothing created at the config's path
    finally:
        code, err = stop(process)
    assert code == 0, err
    assert "(from systemd)" in err
    assert given.exists()  # systemd's file, not the daemon's to remove


def test_a_live_daemons_socket_is_never_taken(sock_dir: Path) -> None:
    config = control_config(sock_dir, {"a": TOOLS})
    path = config.control.socket
    args = [sys.executable, "-m", "mcp_discoveryd", "run", "--config", config.path]
    args += ["--socket", path]
    first = subprocess.Popen(args, env=run_env(), stderr=subprocess.PIPE)
    try:
        wait_health(path)
        second = subprocess.run(args, env=run_env(), capture_output=True, timeout=30, check=False)
        assert second.returncode == 69
        assert f"control socket {path}: another daemon" in second.stderr.decode()
        assert wait_health(path)["ready"] is True  # the first one still serves
    finally:
        code, err = stop(first)
    assert code == 0, err
    assert not Path(path).exists() and not Path(f"{path}.lock").exists()


def test_a_listening_socket_without_our_lock_is_not_taken(sock_dir: Path) -> None:
    path = str(sock_dir / "c.sock")
    with socket.socket(socket.AF_UNIX) as live:
        live.bind(path)
        live.listen()
        with (
            pytest.raises(SocketInUseError, match="a running daemon serves it"),
            open_listener(ControlSettings(socket=path), env={}),
        ):
            pass
        probe = socket.socket(socket.AF_UNIX)
        probe.connect(path)  # still the other process's
        probe.close()


def test_a_stale_socket_file_is_replaced(sock_dir: Path) -> None:
    path = str(sock_dir / "c.sock")
    crashed = socket.socket(socket.AF_UNIX)
    crashed.bind(path)  # bound, never served: what a killed daemon leaves
    crashed.close()
    assert Path(path).exists()
    with open_listener(ControlSettings(socket=path), env={}) as listener:
        assert not listener.activated
        probe = socket.socket(socket.AF_UNIX)
        probe.connect(path)  # the new socket listens there
        probe.close()
    assert not Path(path).exists()


def test_a_file_that_is_not_a_socket_is_left_alone(sock_dir: Path) -> None:
    path = sock_dir / "c.sock"
    path.write_text("not a socket")
    with (
        pytest.raises(SocketSetupError, match="is not a socket"),
        open_listener(ControlSettings(socket=str(path)), env={}),
    ):
        pass
    assert path.read_text() == "not a socket"


def test_parent_directory_is_created(sock_dir: Path) -> None:
    path = sock_dir / "run" / "mcpd" / "c.sock"
    with open_listener(ControlSettings(socket=str(path)), env={}):
        assert path.exists()


def test_sockets_meant_for_another_process_are_ignored() -> None:
    env = {"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "1"}
    assert inherited(env) is None
    assert env["LISTEN_PID"]  # not ours: left as found
    assert inherited({"LISTEN_PID": "x", "LISTEN_FDS": "1"}) is None
