"""Who may do what on the control socket: file mode and group for reads, peer credentials
for changes. The peers are real processes (curl) dropped to uid nobody by the test."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.control.support import NOBODY, TOOLS, as_nobody, control_config, in_thread

pytestmark = pytest.mark.slow

ADMIN_GID = 4242  # a group only the test's peer is given: no /etc/group entry needed


def curl(
    path: str, method: str, route: str, *, groups: Sequence[int] = (), root: bool = False
) -> tuple[int, dict[str, object] | None]:
    """``curl --unix-socket`` as nobody (or as root): the status and the JSON answer."""
    args = ["curl", "-s", "-X", method, "-w", "\n%{http_code}", "--unix-socket", path]
    if method == "POST":
        args += ["-H", "content-type: application/json", "-d", "{}"]
    drop = {} if root else as_nobody(groups)
    done = subprocess.run(
        [*args, f"http://d{route}"], check=False, capture_output=True, text=True, timeout=30, **drop
    )
    body, _, code = done.stdout.rpartition("\n")
    return int(code), (json.loads(body) if body else None)


def test_socket_file_gets_the_configured_mode_and_group(sock_dir: Path) -> None:
    config = control_config(sock_dir, {"a": TOOLS}, mode=0o660, group="nogroup")
    with in_thread(config) as s:
        info = os.stat(s.socket)
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o660 and info.st_gid == NOBODY


def test_a_reader_of_the_group_reads_but_changing_requests_are_refused(sock_dir: Path) -> None:
    config = control_config(sock_dir, {"a": TOOLS}, group="nogroup")
    with in_thread(config) as s:
        for route in ("/v1/health", "/v1/status", "/v1/servers", "/v1/servers/a/catalog"):
            code, _ = curl(s.socket, "GET", route)
            assert code == 200, route
        for route in ("/v1/discover", "/v1/cache/clear", "/v1/reload", "/v1/servers/a/accept"):
            code, body = curl(s.socket, "POST", route)
            assert code == 403, route
            assert body is not None and f"uid {NOBODY} may read but not change" in str(
                body["error"]
            )
        code, body = curl(s.socket, "POST", "/v1/discover", root=True)
        assert code == 200 and body is not None and body["status"] == "success"


def test_a_member_of_the_admin_group_may_change(sock_dir: Path) -> None:
    # The admin group is one of the peer's supplementary groups (not its primary one).
    config = control_config(sock_dir, {"a": TOOLS}, group="nogroup", admin_group=str(ADMIN_GID))
    with in_thread(config) as s:
        code, body = curl(s.socket, "POST", "/v1/discover", groups=[ADMIN_GID])
        assert code == 200 and body is not None and body["status"] == "success"
        code, _ = curl(s.socket, "POST", "/v1/reload", groups=[ADMIN_GID])
        assert code == 200
        code, _ = curl(s.socket, "POST", "/v1/reload")  # the same user without the group
        assert code == 403


def test_reads_follow_the_file_permissions(sock_dir: Path) -> None:
    # Group root, mode 0660: nobody cannot even connect.
    config = control_config(sock_dir, {"a": TOOLS}, mode=0o660)
    with in_thread(config) as s:
        done = subprocess.run(
            ["curl", "-s", "--unix-socket", s.socket, "http://d/v1/health"],
            check=False,
            capture_output=True,
            timeout=30,
            **as_nobody(),
        )
        assert done.returncode == 7 and done.stdout == b""  # curl: could not connect


def test_connections_per_peer_are_bounded(sock_dir: Path) -> None:
    config = control_config(sock_dir, {"a": TOOLS}, group="nogroup", max_connections_per_peer=3)
    with in_thread(config) as s:
        held = [socket.socket(socket.AF_UNIX) for _ in range(3)]
        try:
            for sock in held:
                sock.connect(s.socket)
            code, body = curl(s.socket, "GET", "/v1/health", root=True)
            assert code == 503 and body is not None and "too many connections" in str(body)
            code, _ = curl(s.socket, "GET", "/v1/health")  # nobody: a count of its own
            assert code == 200
        finally:
            for sock in held:
                sock.close()
        code, _ = curl(s.socket, "GET", "/v1/health", root=True)
        assert code == 200  # freed when they closed
