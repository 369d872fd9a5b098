"""The notify protocol by hand: addresses, message shape, the watchdog's variables."""

from __future__ import annotations

import os
import socket
import tempfile
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.systemd.listener import notify_listener

from mcp_discoveryd.systemd import (
    Notifier,
    monotonic_usec,
    notify_address,
    one_line,
    watchdog_interval,
)


def test_no_notify_socket_means_nothing_is_sent() -> None:
    notifier = Notifier.from_environ({"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled and notifier.watchdog is None
    assert notifier.send(READY=1) is False


def test_the_variables_are_taken_out_of_the_environment_once_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "@mcpd-test")
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    notifier = Notifier.from_environ()
    assert notifier.address == b"\0mcpd-test" and notifier.watchdog == 1.0
    assert not {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} & os.environ.keys()


@pytest.mark.parametrize("abstract", [False, True])
def test_one_datagram_of_key_value_lines_reaches_the_socket(abstract: bool) -> None:
    with notify_listener(abstract=abstract) as listener:
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": listener.env_value})
        notifier.ready("ready: 3 servers\nwith a second line")
        message = listener.wait_key("READY", timeout=5)
    assert message.fields == {"READY": "1", "STATUS": "ready: 3 servers with a second line"}


def test_an_unchanged_status_line_is_not_sent_again() -> None:
    with notify_listener() as listener:
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": listener.env_value})
        for text in ("a", "a", "b", "b", "a"):
            notifier.status(text)
        listener.wait_for(lambda m: m.fields.get("STATUS") == "a" and len(listener.messages) == 3)
        time.sleep(0.1)
        assert [f["STATUS"] for f in listener.fields()] == ["a", "b", "a"]


def test_reloading_carries_the_monotonic_clock_of_its_start() -> None:
    with notify_listener() as listener:
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": listener.env_value})
        before = monotonic_usec()
        notifier.reloading()
        after = monotonic_usec()
        fields = listener.wait_key("RELOADING", timeout=5).fields
    assert fields["RELOADING"] == "1"
    assert before <= int(fields["MONOTONIC_USEC"]) <= after


def test_a_gone_service_manager_is_logged_once_and_never_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    notifier = Notifier("/nonexistent/notify")
    assert notifier.send(READY=1) is False
    assert notifier.send(WATCHDOG=1) is False
    assert len([r for r in caplog.records if "cannot reach" in r.getMessage()]) == 1


def test_a_full_socket_queue_drops_the_message_instead_of_blocking() -> None:
    with (
        tempfile.TemporaryDirectory(dir="/tmp") as tmp,
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as unread,
    ):
        unread.bind(f"{tmp}/notify")  # a service manager that stopped reading
        notifier = Notifier(f"{tmp}/notify")
        started = time.monotonic()
        results = [notifier.send(WATCHDOG=1, STATUS="x" * 4000) for _ in range(2000)]
        assert time.monotonic() - started < 5
        assert results[0] and not results[-1]  # accepted at first, dropped once full


@given(st.text())
def test_a_status_line_never_spans_lines(text: str) -> None:
    line = one_line(text)
    assert "\n" not in line and "\r" not in line
    assert line.split() == text.split()


@given(st.text(min_size=1).filter(lambda s: "\0" not in s))
def test_at_names_the_abstract_namespace_and_paths_stay_paths(name: str) -> None:
    assert notify_address("@" + name) == b"\0" + name.encode()
    assert notify_address("/" + name) == "/" + name
    if not name.startswith(("@", "/")):
        assert notify_address(name) is None  # relative, or vsock:...: not ours


@given(
    usec=st.integers(min_value=-(10**9), max_value=10**12),
    pid=st.integers(min_value=1, max_value=2**22),
    watched=st.none() | st.integers(min_value=1, max_value=2**22),
)
def test_watchdog_interval_is_half_and_only_for_this_process(
    usec: int, pid: int, watched: int | None
) -> None:
    env = {"WATCHDOG_USEC": str(usec)}
    if watched is not None:
        env["WATCHDOG_PID"] = str(watched)
    interval = watchdog_interval(env, pid)
    if usec <= 0 or (watched is not None and watched != pid):
        assert interval is None
    else:
        assert interval == pytest.approx(usec / 2_000_000)


@given(st.text())
def test_a_malformed_watchdog_usec_means_no_watchdog(value: str) -> None:
    if value.strip().lstrip("+-").isdigit():
        return
    assert watchdog_interval({"WATCHDOG_USEC": value}, 1) is None
