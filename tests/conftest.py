"""Suite-wide fixtures: no process left behind, required binaries, third-party server paths.

The pytest process makes itself a child subreaper (Linux ``prctl``), so a
grandchild whose parent exited is re-parented to pytest instead of PID 1 and
the leftover check below still sees it.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# fixtures any test may ask for by name: ``reader`` (what the daemon counted, in memory)
pytest_plugins = ["tests.telemetry.memory_reader"]

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "tests" / "servers"
THIRDPARTY = ROOT / ".thirdparty"
EVERYTHING_JS = (
    THIRDPARTY / "node/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
)
TIME_SERVER = THIRDPARTY / "time-venv/bin/mcp-server-time"

LEFTOVER_GRACE = 6.0  # seconds for processes a test just stopped to finish dying (a slow CI: 2x)
ZOMBIE_GRACE = 0.5  # seconds for asyncio's child watcher to reap its own children first
_PR_SET_CHILD_SUBREAPER = 36

SESSION_PIDS: set[int] = set()
"""Processes a fixture keeps for the whole session although a test started them (a shared
cluster rebuilt mid-session): the leftover check ignores them and their descendants.
Add a pid when it starts, discard it when it is stopped."""


def _become_subreaper() -> None:
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


_become_subreaper()

# Generated-case tests check behaviour, not speed. A loaded CI machine runs an example past
# hypothesis's default 200 ms deadline, or draws the first examples past its 1 s
# too_slow check, and either fails the test as flaky; a hang is still caught by
# pytest-timeout. A test's own @settings keep their other values.
settings.register_profile(
    "suite", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("suite")


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """One process as /proc shows it."""

    pid: int
    ppid: int
    state: str
    cmdline: str


def _processes() -> dict[int, ProcInfo]:
    found: dict[int, ProcInfo] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:  # exited while we looked
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # the name in (...) may hold spaces
        cmdline = raw.replace(b"\0", b" ").decode(errors="replace").strip()
        found[int(entry)] = ProcInfo(int(entry), int(fields[1]), fields[0], cmdline)
    return found


def descendants(root: int | None = None) -> dict[int, ProcInfo]:
    """Every process below ``root`` (default: this pytest process)."""
    root = os.getpid() if root is None else root
    procs = _processes()
    children: dict[int, list[int]] = {}
    for info in procs.values():
        children.setdefault(info.ppid, []).append(info.pid)
    out: dict[int, ProcInfo] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out[pid] = procs[pid]
        todo.extend(children.get(pid, []))
    return out


def _reap_adopted_zombies(before: set[int]) -> None:
    """Reap dead orphans re-parented to us; asyncio's watcher reaps its own children first."""
    me = os.getpid()

    def zombies() -> set[int]:
        return {p for p, i in descendants().items() if i.state == "Z" and i.ppid == me} - before

    if zombies():
        time.sleep(ZOMBIE_GRACE)
    for pid in zombies():
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _leftovers(before: set[int]) -> dict[int, ProcInfo]:
    """Live descendants that were not there before, once the grace period has passed."""
    deadline = time.monotonic() + LEFTOVER_GRACE
    while True:
        kept = set(SESSION_PIDS)
        for pid in SESSION_PIDS:
            kept.update(descendants(pid))
        live = {
            p: i
            for p, i in descendants().items()
            if p not in before and p not in kept and i.state != "Z"
        }
        if not live or time.monotonic() > deadline:
            return live
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """Fail a test that leaves a child or grandchild of pytest running."""
    before = set(descendants())
    yield
    live = _leftovers(before)
    for pid in live:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if live:
        time.sleep(0.1)
    _reap_adopted_zombies(before)
    if live:
        listing = "\n".join(f"  pid {i.pid} (parent {i.ppid}): {i.cmdline}" for i in live.values())
        pytest.fail(f"test left {len(live)} process(es) behind:\n{listing}", pytrace=False)


def require_binary(path_or_name: str | Path, what: str) -> str:
    """The binary's (or script's) path; skip when it is missing, but fail in CI (env CI=true)."""
    text = str(path_or_name)
    found = (text if os.path.exists(text) else None) if os.sep in text else shutil.which(text)
    if found is None:
        message = f"{what} not available ({text}); `bash tests/run` installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def python() -> str:
    """This interpreter, by absolute path (a pyenv shim costs 150 ms per spawn)."""
    return sys.executable


@pytest.fixture(scope="session")
def raw_server() -> str:
    """The standard-library fault-injecting stdio server."""
    return str(SERVERS / "raw_server.py")


@pytest.fixture(scope="session")
def sdk_servers() -> str:
    """The SDK-built test servers' script (``high`` or ``paged N K`` over stdio)."""
    return str(SERVERS / "sdk_servers.py")


@pytest.fixture(scope="session")
def everything_server() -> tuple[str, str]:
    """(node, index.js) of the pinned npm @modelcontextprotocol/server-everything."""
    node = require_binary("node", "Node.js")
    return node, require_binary(EVERYTHING_JS, "npm @modelcontextprotocol/server-everything")


@pytest.fixture(scope="session")
def time_server() -> str:
    """The pinned PyPI mcp-server-time, installed in its own virtual environment."""
    return require_binary(TIME_SERVER, "PyPI mcp-server-time")
