"""`mcp-discoveryd check-config PATH`: exit 0 when valid, else 78 with every problem listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.config.support import EXAMPLES

from mcp_discoveryd.cli import EXIT_CONFIG, EXIT_OK, main

SECRET = "hdr_secret_value_0001"

BAD = f"""
[discovery]
timeout = "4x"

[cache]
url = "memcached://cache:11211"

[gateways.prod.servers.github]
url = "https://api.example.com/mcp"
transport = "websocket"
headers = {{ Authorization = "Bearer {SECRET}" }}

[gateways.prod.servers.both]
command = "npx"
url = "https://example.com/mcp"
"""


@pytest.mark.parametrize("name", ["demo.toml", "enkrypt_mcp_config.json"])
def test_bundled_examples_are_valid(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Both bundled examples pass check-config with exit 0 and a summary."""
    assert main(["check-config", str(EXAMPLES / name)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith(f"{EXAMPLES / name}: ok (")


def test_invalid_config_exits_78_listing_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 78; stderr names the file, then each problem's key path and what is wrong."""
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    assert main(["check-config", str(path)]) == EXIT_CONFIG
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert lines[0] == f"4 problem(s) in {path}"
    assert lines[1:] == [
        (
            f"{path}: discovery.timeout: bad duration '4x': write a number and a unit "
            "(ms, s, m, h, d), e.g. '90s', '4h' or '1h30m'"
        ),
        (
            f"{path}: cache.url: unsupported scheme 'memcached': use redis://, rediss:// (TLS) "
            "or unix://"
        ),
        (
            f"{path}: gateways.prod.servers.github.transport: input should be "
            "'streamable-http' or 'sse'"
        ),
        (
            f"{path}: gateways.prod.servers.both: give either command (stdio) or url (remote), "
            "not both"
        ),
    ]
    assert SECRET not in captured.out + captured.err


def test_syntax_error_exits_78_with_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A TOML syntax error is an exit 78 naming the file, line and column."""
    path = tmp_path / "broken.toml"
    path.write_text('[gateways.g]\nname = "unterminated\n')
    assert main(["check-config", str(path)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"{path}: line 2, column " in err and "TOML syntax error" in err


def test_missing_file_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that cannot be read is a config error, not a traceback."""
    path = tmp_path / "nope.toml"
    assert main(["check-config", str(path)]) == EXIT_CONFIG
    assert f"{path}: file: cannot read: " in capsys.readouterr().err
