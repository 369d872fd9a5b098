"""`install-units`: put the systemd units, sysusers and tmpfiles entries and the example
config where systemd and the daemon look for them.

The files are the repository's ``systemd/`` directory, shipped in the package as
``mcp_discoveryd/unitfiles`` (a symlink in the source tree). Where they go, under ``root``
(``/``, or a staging directory for a package build):

================================  ============================================  =====
file                              placed at                                     mode
================================  ============================================  =====
mcp-discoveryd.service, .socket   PREFIX/systemd/system/                        0644
mcp-discoveryd.sysusers           PREFIX/sysusers.d/mcp-discoveryd.conf         0644
mcp-discoveryd.tmpfiles           PREFIX/tmpfiles.d/mcp-discoveryd.conf         0644
dropins/NAME.conf (asked for)     PREFIX/systemd/system/mcp-discoveryd.service.d/  0644
config.toml                       /etc/mcp-discoveryd/config.toml (kept)        0640
environment                       /etc/mcp-discoveryd/environment (kept)        0600
================================  ============================================  =====

PREFIX is ``/etc`` (an administrator's install) or ``/usr/lib`` (a package's). The
config and environment files are never overwritten: they are the administrator's.
``ExecStart`` is pointed at the binary that runs this command.
"""

from __future__ import annotations

import grp
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

UNITS = Path(__file__).resolve().parent / "unitfiles"
SERVICE = "mcp-discoveryd.service"
SOCKET = "mcp-discoveryd.socket"
GROUP = "mcp-discoveryd"
DEFAULT_EXEC = "/usr/bin/mcp-discoveryd"


@dataclass(frozen=True, slots=True)
class Placed:
    """One file of the install: where it went and whether it was written or kept."""

    path: Path
    written: bool


def drop_ins() -> list[str]:
    """The names of the drop-ins that can be installed (``notify-reload``, ...)."""
    return sorted(p.stem for p in (UNITS / "dropins").glob("*.conf"))


def default_exec() -> str:
    """The command that runs the daemon: this process's ``mcp-discoveryd``, else ``-m``."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "mcp-discoveryd" and argv0.exists():
        return str(argv0.absolute())
    found = shutil.which("mcp-discoveryd")
    return found or f"{sys.executable} -m mcp_discoveryd"


def install(
    root: Path, prefix: str = "/etc", executable: str | None = None, extra: tuple[str, ...] = ()
) -> list[Placed]:
    """Place every file under ``root``; ``extra`` names drop-ins to add. What was done."""
    unknown = sorted(set(extra) - set(drop_ins()))
    if unknown:
        raise ValueError(f"unknown drop-in(s) {', '.join(unknown)}; known: {', '.join(drop_ins())}")
    base = root / prefix.strip("/")
    units = base / "systemd" / "system"
    command = executable or default_exec()
    service = (UNITS / SERVICE).read_text()
    service = service.replace(f"ExecStart={DEFAULT_EXEC} ", f"ExecStart={command} ")
    placed = [
        _write(units / SERVICE, service, 0o644),
        _write(units / SOCKET, (UNITS / SOCKET).read_text(), 0o644),
        _write(
            base / "sysusers.d" / "mcp-discoveryd.conf", _text("mcp-discoveryd.sysusers"), 0o644
        ),
        _write(
            base / "tmpfiles.d" / "mcp-discoveryd.conf", _text("mcp-discoveryd.tmpfiles"), 0o644
        ),
    ]
    for name in extra:
        target = units / f"{SERVICE}.d" / f"{name}.conf"
        placed.append(_write(target, _text(f"dropins/{name}.conf"), 0o644))
    etc = root / "etc" / "mcp-discoveryd"
    placed.append(_write(etc / "config.toml", _text("config.toml"), 0o640, keep=True, group=GROUP))
    placed.append(_write(etc / "environment", _text("environment"), 0o600, keep=True))
    return placed


def _text(name: str) -> str:
    return (UNITS / name).read_text()


def _write(path: Path, text: str, mode: int, *, keep: bool = False, group: str = "") -> Placed:
    """Write ``text`` at ``path`` with ``mode`` (an existing file is kept when ``keep``)."""
    if keep and path.exists():
        return Placed(path, written=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, mode)  # the umask narrowed the mode os.open was given
    if group and os.geteuid() == 0:
        try:
            os.chown(tmp, 0, grp.getgrnam(group).gr_gid)
        except KeyError:
            pass  # no such group yet: the tmpfiles entry sets it once sysusers made it
    os.replace(tmp, path)
    return Placed(path, written=True)
