"""`mcp-discoveryd run --socket PATH` serves the control socket there, whatever the format."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.actors.support import RAW
from tests.control.test_activation import run_env, stop, wait_health

from mcp_discoveryd.control.client import SyncControlClient

pytestmark = pytest.mark.slow


def toml_config(directory: Path) -> Path:
    path = directory / "d.toml"
    path.write_text(
        f"[control]\nsocket = {json.dumps(str(directory / 'from-file.sock'))}\n"
        f"[gateways.g.servers.a]\ncommand = {json.dumps(sys.executable)}\n"
        f"args = {json.dumps([RAW, '--tools', '3'])}\n"
    )
    return path


def enkrypt_config(directory: Path) -> Path:
    server = {"server_name": "a", "config": {"command": sys.executable, "args": [RAW]}, "tools": {}}
    doc = {
        "mcp_configs": {"c1": {"mcp_config_name": "one", "mcp_config": [server]}},
        "mcp_discoveryd": {"control": {"socket": str(directory / "from-file.sock")}},
    }
    path = directory / "enkrypt_mcp_config.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("make", [toml_config, enkrypt_config], ids=["toml", "enkrypt"])
def test_the_socket_flag_overrides_the_config_for_every_format(
    sock_dir: Path, make: Callable[[Path], Path]
) -> None:
    config = make(sock_dir)
    path = str(sock_dir / "flag.sock")
    args = [sys.executable, "-m", "mcp_discoveryd", "run", "--config", str(config)]
    process = subprocess.Popen([*args, "--socket", path], env=run_env(), stderr=subprocess.PIPE)
    try:
        assert wait_health(path)["ready"] is True
        with SyncControlClient(path) as client:
            reply = client.catalog("a")
            assert reply.data is not None and reply.data["tools"]
        assert not (sock_dir / "from-file.sock").exists()
    finally:
        code, err = stop(process)
    assert code == 0, err
    assert not Path(path).exists()
