"""Helpers for the config tests: write a config file, load it, list its problems."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from mcp_discoveryd.config import DaemonConfig, load_config
from mcp_discoveryd.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "daemon" / "examples"


def load_text(
    tmp_path: Path, text: str, name: str = "mcpd.toml", env: Mapping[str, str] | None = None
) -> DaemonConfig:
    """Write ``text`` to ``tmp_path/name`` and load it with ``env`` (default: empty)."""
    path = tmp_path / name
    path.write_text(text)
    return load_config(path, env={} if env is None else env)


def config_error(
    tmp_path: Path, text: str, name: str = "mcpd.toml", env: Mapping[str, str] | None = None
) -> ConfigError:
    """The ConfigError that loading ``text`` raises (the test fails when it loads)."""
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text, name, env)
    return caught.value


def problems(
    tmp_path: Path, text: str, name: str = "mcpd.toml", env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Location -> message of every problem found (locations are unique in these tests)."""
    error = config_error(tmp_path, text, name, env)
    found = {p.location: p.message for p in error.problems}
    assert len(found) == len(error.problems), f"two problems at one location: {error}"
    return found
