"""`mcp-discoveryd run` under a stand-in service manager: what it tells ``$NOTIFY_SOCKET``.

The daemon is a real process over real stdio servers (tests/servers/raw_server.py, one
with a slow start); the test reads the notify socket as systemd would.
"""

from __future__ import annotations

import itertools
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from tests.actors.support import control_socket, spawn_file, write_config
from tests.systemd.listener import NotifyListener, notify_listener

from mcp_discoveryd.systemd import monotonic_usec

pytestmark = pytest.mark.slow
START_MS = 2000  # the slow server's start: the preload takes at least this long


def _run(
    config: Path, listener: NotifyListener, extra: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    env = {**os.environ, "NOTIFY_SOCKET": listener.env_value, **(extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "mcp_discoveryd", "run", "--config", str(config)]
        # Its own control socket, never the shared default under /run: a daemon of another
        # run on the machine holds that one, and a second daemon there exits at once.
        + ["--socket", control_socket(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return err


@pytest.fixture(name="listener")
def _listener() -> Iterator[NotifyListener]:
    with notify_listener() as listener:
        yield listener


def _started_at(config: Path, name: str) -> float:
    """When server ``name`` started (CLOCK_MONOTONIC seconds, from its timeline)."""
    line = spawn_file(config, name).read_text().splitlines()[0]
    return int(line.split()[1]) / 1e9


def test_ready_comes_only_after_the_preload_with_progress_before_it(
    tmp_path: Path, listener: NotifyListener
) -> None:
    config = write_config(
        tmp_path / "d.toml",
        {"fast": [], "slow": ["--start-ms", str(START_MS)]},
        config_defined=["fast"],
    )
    proc = _run(config, listener)
    try:
        ready = listener.wait_key("READY")
        assert ready.fields["READY"] == "1"
        assert ready.at >= _started_at(config, "slow") + START_MS / 1000
        status = ready.fields["STATUS"]
        assert status.startswith("ready: 1 server, 1 fresh, 0 stale, 0 failing"), status
        assert "1 from config" in status and "next refresh in" in status
        early = [m for m in listener.messages if m.at < ready.at]
        progress = [m.fields["STATUS"] for m in early if "STATUS" in m.fields]
        assert progress and progress[0].startswith("preloading: 0/1 server discovered")
        extension = [m for m in early if "EXTEND_TIMEOUT_USEC" in m.fields]
        assert extension and int(extension[0].fields["EXTEND_TIMEOUT_USEC"]) == 10_000_000
    finally:
        _stop(proc)


def test_ready_at_once_comes_before_the_preload_ends(
    tmp_path: Path, listener: NotifyListener
) -> None:
    config = write_config(
        tmp_path / "d.toml", {"slow": ["--start-ms", str(START_MS)]}, daemon='ready = "at-once"'
    )
    proc = _run(config, listener)
    try:
        ready = listener.wait_key("READY")
        assert ready.fields["STATUS"].startswith("ready: 1 server, 0 fresh")
        later = listener.wait_for(lambda m: "1 fresh" in m.fields.get("STATUS", ""))
        assert later.at >= _started_at(config, "slow") + START_MS / 1000
    finally:
        _stop(proc)


def test_sighup_is_bracketed_by_reloading_and_ready_even_when_the_new_config_is_invalid(
    tmp_path: Path, listener: NotifyListener
) -> None:
    config = write_config(tmp_path / "d.toml", {"a": []})
    proc = _run(config, listener)
    try:
        first = listener.wait_key("READY")
        for broken in (False, True):
            if broken:
                config.write_text("[daemon]\nready = 3\n")
            before = monotonic_usec()
            proc.send_signal(signal.SIGHUP)
            reloading = listener.wait_key("RELOADING", after=first.at)
            after = monotonic_usec()
            assert reloading.fields["RELOADING"] == "1"
            assert before <= int(reloading.fields["MONOTONIC_USEC"]) <= after
            ready = listener.wait_key("READY", after=reloading.at)
            failed = "last reload failed" in ready.fields["STATUS"]
            assert failed is broken, ready.fields["STATUS"]
            first = ready
        assert proc.poll() is None  # an invalid config never ends the daemon
    finally:
        err = _stop(proc)
    assert proc.returncode == 0, err


def test_a_sighup_during_the_preload_does_not_make_it_ready_early(
    tmp_path: Path, listener: NotifyListener
) -> None:
    config = write_config(tmp_path / "d.toml", {"slow": ["--start-ms", str(START_MS)]})
    proc = _run(config, listener)
    try:
        listener.wait_key("STATUS")  # preloading: the signal handler is installed
        proc.send_signal(signal.SIGHUP)
        ready = listener.wait_key("READY")
        assert ready.at >= _started_at(config, "slow") + START_MS / 1000
        assert not listener.with_key("RELOADING")
    finally:
        _stop(proc)


def test_sigterm_sends_stopping_with_the_shutdown_bound(
    tmp_path: Path, listener: NotifyListener
) -> None:
    config = write_config(tmp_path / "d.toml", {"a": []}, daemon='shutdown_timeout = "3s"')
    proc = _run(config, listener)
    ready = listener.wait_key("READY")
    proc.send_signal(signal.SIGTERM)
    stopping = listener.wait_key("STOPPING", after=ready.at)
    assert stopping.fields["STATUS"].startswith("stopping")
    extend = listener.wait_key("EXTEND_TIMEOUT_USEC", after=ready.at)
    assert int(extend.fields["EXTEND_TIMEOUT_USEC"]) == 13_000_000  # 3 s + the stop margin
    _, err = proc.communicate(timeout=30)  # no second signal: that one would cancel at once
    assert proc.returncode == 0, err


def test_watchdog_pings_at_half_the_interval(tmp_path: Path, listener: NotifyListener) -> None:
    config = write_config(tmp_path / "d.toml", {"a": []})
    proc = _run(config, listener, {"WATCHDOG_USEC": "1000000"})
    try:
        ready = listener.wait_key("READY")
        time.sleep(3.2)
        pings = [m.at for m in listener.with_key("WATCHDOG") if m.at > ready.at]
    finally:
        _stop(proc)
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert len(pings) >= 4, pings
    assert 0.4 <= statistics.median(gaps) <= 0.7, gaps
    assert max(gaps) < 1.0, gaps  # never as late as systemd's deadline


def test_watchdog_for_another_pid_is_not_ours(tmp_path: Path, listener: NotifyListener) -> None:
    config = write_config(tmp_path / "d.toml", {"a": []})
    proc = _run(config, listener, {"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
    try:
        ready = listener.wait_key("READY")
        time.sleep(1.0)
    finally:
        _stop(proc)
    assert ready.fields["READY"] == "1"
    assert not listener.with_key("WATCHDOG")


def test_an_abstract_notify_socket_is_reached(tmp_path: Path) -> None:
    config = write_config(tmp_path / "d.toml", {"a": []})
    with notify_listener(abstract=True) as listener:
        assert listener.env_value.startswith("@")
        proc = _run(config, listener)
        try:
            assert listener.wait_key("READY").fields["READY"] == "1"
        finally:
            _stop(proc)
