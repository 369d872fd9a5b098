"""Helpers for the daemon tests: a TOML config of real stdio servers, spawn counts, waiting."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import anyio

SERVERS = Path(__file__).resolve().parents[1] / "servers"
RAW = str(SERVERS / "raw_server.py")


def write_config(
    path: Path,
    servers: Mapping[str, Sequence[str]],
    *,
    daemon: str = "",
    cache: str = 'tool_ttl = "4s"\nstale_grace = "6s"',
    config_defined: Sequence[str] = (),
) -> Path:
    """A TOML config of one gateway "g": raw_server.py with each server's flags.

    Every server appends "start ..." to ``<dir>/<name>.spawns`` when it starts; the
    ``config_defined`` servers list a tool instead (never spawned).
    """
    lines = [f'[cache]\nmin_ttl = "0s"\n{cache}\n', f"[daemon]\n{daemon}\n", "[gateways.g]\n"]
    for name, flags in servers.items():
        args = [RAW, "--timeline", str(spawn_file(path, name)), *flags]
        lines.append(f"[gateways.g.servers.{name}]")
        lines.append(f"command = {json.dumps(sys.executable)}")
        lines.append(f"args = {json.dumps(args)}")
        if name in config_defined:
            lines.append(f"[gateways.g.servers.{name}.tools.echo]")
            lines.append('description = "Echo the input."')
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def control_socket(config: Path, suffix: str = "") -> str:
    """A control socket of its own for a daemon of this config, never the shared default
    under /run: beside the config, or under /tmp when that path is too long for a socket
    (108 bytes)."""
    beside = str(config.absolute().parent / f"control{suffix}.sock")
    if len(beside) < 100:
        return beside
    digest = hashlib.sha1(f"{config.absolute()}{suffix}".encode()).hexdigest()[:12]
    return f"/tmp/mcpd-{digest}.sock"


def outage_config(tmp: Path, *, stale_grace: str, retry_max: str) -> tuple[Path, Path]:
    """A config of server "a" (1 s TTL, retries from 0.2 s) that fails while the flag file
    exists: the config's path and the flag's (absent at first)."""
    outage = tmp / "outage"
    path = write_config(
        tmp / "d.toml",
        {"a": ["--fail-while", str(outage)]},
        cache=f'tool_ttl = "1s"\nstale_grace = "{stale_grace}"',
        daemon=f'retry_initial = "0.2s"\nretry_max = "{retry_max}"',
    )
    return path, outage


def spawn_file(config: Path, name: str) -> Path:
    """Where server ``name`` of the config at ``config`` records its starts."""
    return config.parent / f"{name}.spawns"


def spawns(config: Path, name: str) -> int:
    """How many times server ``name`` was started."""
    file = spawn_file(config, name)
    if not file.exists():
        return 0
    return sum(1 for line in file.read_text().splitlines() if line.startswith("start "))


def last_pid(config: Path, name: str) -> int:
    """The pid of server ``name``'s latest start."""
    return int(spawn_file(config, name).read_text().splitlines()[-1].split()[2])


def alive(pid: int) -> bool:
    """True while a process of this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start_times(config: Path, name: str) -> list[float]:
    """Monotonic seconds at which server ``name`` started, in order."""
    file = spawn_file(config, name)
    lines = file.read_text().splitlines() if file.exists() else []
    return [int(line.split()[1]) / 1e9 for line in lines if line.startswith("start ")]


async def until(condition: Callable[[], bool], limit: float = 15.0) -> None:
    """Wait until ``condition()`` holds; fail after ``limit`` seconds.

    Polled: the conditions read actor state that no event announces (by design:
    actors publish frozen snapshots, they do not notify tests).
    """
    with anyio.fail_after(limit):
        while not condition():  # noqa: ASYNC110 - see the docstring
            await anyio.sleep(0.05)
