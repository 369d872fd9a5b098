"""The units as systemd's own tools see them, installed by `mcp-discoveryd install-units`.

``systemd-analyze verify`` and ``security --offline=true`` read the installed files;
``systemd-sysusers`` and ``systemd-tmpfiles`` apply theirs to a scratch root (``--root``),
so nothing on this machine changes.
"""

from __future__ import annotations

import configparser
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import require_binary

from mcp_discoveryd.app import STOP_MARGIN
from mcp_discoveryd.cli import EXIT_CONFIG, EXIT_USAGE, main
from mcp_discoveryd.config import load_config
from mcp_discoveryd.config.settings import DaemonSettings
from mcp_discoveryd.heartbeat import PRELOAD_EXTENSION
from mcp_discoveryd.units import UNITS, drop_ins

TOOLS = ("systemd-analyze", "systemd-sysusers", "systemd-tmpfiles")
EXEC = sys.executable  # an executable that exists: verify checks ExecStart's binary


@pytest.fixture(autouse=True)
def _systemd_tools() -> None:
    for tool in TOOLS:
        require_binary(tool, f"{tool} (Debian package systemd)")


def _install(root: Path, *extra: str) -> Path:
    """Install into ``root``; the directory of the installed units."""
    args = ["install-units", "--root", str(root), "--exec", EXEC]
    for name in extra:
        args += ["--drop-in", name]
    assert main(args) == 0
    return root / "etc" / "systemd" / "system"


def _exposure(units: Path) -> int:
    """``systemd-analyze security``'s overall exposure, in tenths (1.0 -> 10)."""
    for tenths in range(101):
        done = subprocess.run(
            [
                "systemd-analyze",
                "security",
                "--offline=true",
                f"--threshold={tenths}",
                "./mcp-discoveryd.service",
            ],
            cwd=units,
            check=False,
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            return tenths
    raise AssertionError(done.stdout + done.stderr)


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string(path.read_text())
    return parser


def test_install_units_places_every_file_and_keeps_the_admins_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    units = _install(tmp_path, "notify-reload")
    etc = tmp_path / "etc"
    service = (units / "mcp-discoveryd.service").read_text()
    assert f"ExecStart={EXEC} run --config /etc/mcp-discoveryd/config.toml" in service
    assert (units / "mcp-discoveryd.socket").is_file()
    assert (units / "mcp-discoveryd.service.d" / "notify-reload.conf").is_file()
    assert (etc / "sysusers.d" / "mcp-discoveryd.conf").is_file()
    assert (etc / "tmpfiles.d" / "mcp-discoveryd.conf").is_file()
    config, env = etc / "mcp-discoveryd" / "config.toml", etc / "mcp-discoveryd" / "environment"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert stat.S_IMODE(env.stat().st_mode) == 0o600  # secrets: root only
    config.write_text("# the admin's own\n")
    capsys.readouterr()
    _install(tmp_path)
    assert config.read_text() == "# the admin's own\n"
    out = capsys.readouterr().out
    assert f"kept      {config}" in out and "systemctl enable --now" in out


def test_install_units_under_usr_lib_for_a_package(tmp_path: Path) -> None:
    assert main(["install-units", "--root", str(tmp_path), "--prefix", "/usr/lib"]) == 0
    assert (tmp_path / "usr/lib/systemd/system/mcp-discoveryd.service").is_file()
    assert (tmp_path / "usr/lib/sysusers.d/mcp-discoveryd.conf").is_file()
    assert (tmp_path / "etc/mcp-discoveryd/config.toml").is_file()  # config stays in /etc


def test_an_unknown_drop_in_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["install-units", "--root", str(tmp_path), "--drop-in", "nope"])
    assert code == EXIT_USAGE
    assert (
        "unknown drop-in(s) nope; known: admin-group, internet, notify-reload"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize("extra", [(), ("internet", "admin-group")])
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path, extra: tuple[str, ...]) -> None:
    units = _install(tmp_path, *extra)  # notify-reload is 253+: this machine's 252 rejects it
    done = subprocess.run(
        ["systemd-analyze", "verify", "./mcp-discoveryd.service", "./mcp-discoveryd.socket"],
        cwd=units,
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and done.stderr == "" and done.stdout == "", done


@pytest.mark.parametrize(
    ("extra", "most"),
    [((), 10), (("internet",), 11), (("admin-group",), 12), (("internet", "admin-group"), 13)],
)
def test_security_exposure_meets_the_target_and_each_drop_in_costs_what_it_says(
    tmp_path: Path, extra: tuple[str, ...], most: int
) -> None:
    assert _exposure(_install(tmp_path, *extra)) <= most


def test_the_hardening_keeps_what_stdio_servers_and_remote_upstreams_need(tmp_path: Path) -> None:
    service = _unit(_install(tmp_path) / "mcp-discoveryd.service")["Service"]
    assert "MemoryDenyWriteExecute" not in service  # Node's JIT needs W+X memory
    assert "PrivateNetwork" not in service
    assert set(service["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"


def test_the_service_matches_the_daemons_own_bounds_and_exit_codes(tmp_path: Path) -> None:
    service = _unit(_install(tmp_path) / "mcp-discoveryd.service")["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert service["RestartPreventExitStatus"] == str(EXIT_CONFIG)
    assert service["Restart"] == "on-failure"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    stop = DaemonSettings().shutdown_timeout + STOP_MARGIN
    assert service["TimeoutStopSec"] == f"{stop:.0f}s"
    watchdog = int(service["WatchdogSec"].removesuffix("s"))
    assert watchdog >= 10 and PRELOAD_EXTENSION < int(service["TimeoutStartSec"].removesuffix("s"))
    assert service["EnvironmentFile"] == "-/etc/mcp-discoveryd/environment"
    assert service["RuntimeDirectory"] == service["StateDirectory"] == "mcp-discoveryd"


def test_the_socket_unit_sets_what_the_daemon_would(tmp_path: Path) -> None:
    socket = _unit(_install(tmp_path) / "mcp-discoveryd.socket")["Socket"]
    assert socket["ListenStream"] == "/run/mcp-discoveryd/control.sock"
    assert socket["FileDescriptorName"] == "control"
    assert socket["SocketMode"] == "0660"
    assert socket["SocketGroup"] == "mcp-discoveryd"  # the service's own group


def test_sysusers_and_tmpfiles_make_the_user_groups_and_directories(tmp_path: Path) -> None:
    _install(tmp_path)
    etc = tmp_path / "etc"
    (etc / "passwd").touch()
    (etc / "group").touch()
    for command in (
        ["systemd-sysusers", "--root", str(tmp_path), str(etc / "sysusers.d/mcp-discoveryd.conf")],
        [
            "systemd-tmpfiles",
            "--root",
            str(tmp_path),
            "--create",
            str(etc / "tmpfiles.d/mcp-discoveryd.conf"),
        ],
    ):
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        assert done.returncode == 0, done
    users = {
        line.split(":")[0]: line.split(":") for line in (etc / "passwd").read_text().splitlines()
    }
    groups = {
        line.split(":")[0]: line.split(":") for line in (etc / "group").read_text().splitlines()
    }
    user = users["mcp-discoveryd"]
    assert user[5] == "/var/lib/mcp-discoveryd" and "nologin" in user[6]
    assert "mcp-discoveryd-admin" in groups
    gid = int(groups["mcp-discoveryd"][2])
    run = (tmp_path / "run" / "mcp-discoveryd").stat()
    assert (run.st_uid, run.st_gid, stat.S_IMODE(run.st_mode)) == (int(user[2]), gid, 0o750)
    config = (etc / "mcp-discoveryd" / "config.toml").stat()
    assert (config.st_uid, config.st_gid, stat.S_IMODE(config.st_mode)) == (0, gid, 0o640)


def test_the_example_config_is_valid(tmp_path: Path) -> None:
    _install(tmp_path)
    config = load_config(tmp_path / "etc/mcp-discoveryd/config.toml")
    assert [g.id for g in config.gateways] == ["main"]


def test_every_drop_in_is_offered_and_shipped_in_the_package() -> None:
    assert drop_ins() == ["admin-group", "internet", "notify-reload"]
    assert (UNITS / "mcp-discoveryd.service").is_file()
    reload_conf = (UNITS / "dropins" / "notify-reload.conf").read_text()
    assert re.search(r"^Type=notify-reload$", reload_conf, re.MULTILINE)
    assert re.search(r"^ExecReload=$", reload_conf, re.MULTILINE)  # systemd signals by itself
    assert os.path.islink(Path(__file__).parents[2] / "daemon/mcp_discoveryd/unitfiles")
