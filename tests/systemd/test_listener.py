"""The notify-socket stand-in stamps each message with its send time, not its read time."""

from __future__ import annotations

import socket
import time

from tests.systemd.listener import STAMP_ERROR, notify_listener

LATE = 0.3  # seconds the reader is held back: far more than the stamp's error


def test_a_message_read_late_carries_the_time_it_was_sent() -> None:
    with notify_listener() as listener, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as out:
        with listener.held():
            before = time.monotonic()
            out.sendto(b"WATCHDOG=1\n", listener.env_value)
            after = time.monotonic()
            time.sleep(LATE)  # a reader scheduled late on a loaded machine
            released = time.monotonic()
        message = listener.wait_key("WATCHDOG", timeout=30)
    assert before - STAMP_ERROR <= message.at <= after + STAMP_ERROR < released
