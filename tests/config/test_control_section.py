"""The [control] section: the control socket's settings, in both config formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_discoveryd.config import ConfigError, load_config
from mcp_discoveryd.config.settings import DEFAULT_SOCKET, ControlSettings

SERVER = '[gateways.g.servers.a]\ncommand = "true"\n'


def enkrypt(path: Path, own: dict[str, object] | None) -> Path:
    """A minimal Enkrypt config, with the daemon's own object when given."""
    doc: dict[str, object] = {
        "mcp_configs": {
            "c1": {
                "mcp_config_name": "one",
                "mcp_config": [{"server_name": "a", "config": {"command": "true"}, "tools": {}}],
            }
        }
    }
    if own is not None:
        doc["mcp_discoveryd"] = own
    path.write_text(json.dumps(doc))
    return path


def test_defaults_apply_to_both_formats(tmp_path: Path) -> None:
    toml = tmp_path / "d.toml"
    toml.write_text(SERVER)
    for config in (load_config(toml), load_config(enkrypt(tmp_path / "e.json", None))):
        assert config.control == ControlSettings()
        assert config.control.socket == DEFAULT_SOCKET and config.control.mode == 0o660


def test_toml_section_is_read_with_units(tmp_path: Path) -> None:
    path = tmp_path / "d.toml"
    path.write_text(
        '[control]\nsocket = "/tmp/x.sock"\nmode = 0o600\ngroup = "adm"\n'
        'admin_group = "wheel"\nmax_body = "32KiB"\nrequest_timeout = "5s"\n'
        "max_connections_per_peer = 8\n" + SERVER
    )
    control = load_config(path).control
    assert control.socket == "/tmp/x.sock" and control.mode == 0o600
    assert control.group == "adm" and control.admin_group == "wheel"
    assert control.max_body == 32 * 1024 and control.request_timeout == 5.0
    assert control.max_connections_per_peer == 8


def test_enkrypt_own_section_takes_an_octal_string(tmp_path: Path) -> None:
    config = load_config(enkrypt(tmp_path / "e.json", {"control": {"mode": "0640"}}))
    assert config.control.mode == 0o640


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('mode = "0abc"', "not an octal file mode"),
        ("mode = 0o1777", "less than or equal to 511"),
        ("max_headers = 0", "greater than or equal to 1"),
        ('request_timeout = "0s"', "greater than 0"),
        ("sockett = 1", "unknown key"),
        (f'socket = "/{"x" * 120}"', "at most 107"),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(tmp_path: Path, line: str, words: str) -> None:
    path = tmp_path / "d.toml"
    path.write_text(f"[control]\n{line}\n" + SERVER)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "control." in str(caught.value) and words in str(caught.value)


@given(st.integers(min_value=0, max_value=0o777))
def test_every_mode_reads_the_same_as_a_number_and_as_an_octal_string(mode: int) -> None:
    assert ControlSettings(mode=mode).mode == mode
    assert ControlSettings(mode=f"{mode:04o}").mode == mode  # type: ignore[arg-type]
