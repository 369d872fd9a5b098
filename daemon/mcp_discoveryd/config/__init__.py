"""Configuration: the typed model and its two loaders (own TOML, Enkrypt JSON).

This package is the only reader of config files and of the environment for config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigError, ConfigProblem
from .durations import format_duration, parse_duration
from .limits import MAX_BYTES
from .settings import CacheSettings, DaemonConfig, DiscoverySettings, GatewayConfig
from .sizes import parse_size
from .toml import load_toml

__all__ = [
    "CacheSettings",
    "ConfigError",
    "ConfigProblem",
    "DaemonConfig",
    "DiscoverySettings",
    "GatewayConfig",
    "detect_format",
    "format_duration",
    "load_config",
    "parse_duration",
    "parse_size",
]


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> DaemonConfig:
    """Read, parse and validate a config file; ConfigError carries every problem found.

    ``env`` (default: the process environment) answers ``${VAR}`` references.
    """
    name = str(path)
    try:
        with Path(path).open("rb") as file:
            data = file.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            problem = ConfigProblem("file", f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
            raise ConfigError(name, [problem])
        text = data.decode("utf-8-sig")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(name, [ConfigProblem("file", f"cannot read: {reason}")]) from None
    except UnicodeDecodeError as exc:
        problem = ConfigProblem(f"byte {exc.start}", "not UTF-8 text")
        raise ConfigError(name, [problem]) from None
    except ValueError:  # a NUL byte in the path
        raise ConfigError(name, [ConfigProblem("file", "cannot read: bad path")]) from None
    env = os.environ if env is None else env
    if detect_format(name, text) == "enkrypt":
        from .enkrypt import load_enkrypt  # its models cost ~0.1 s to build: only for JSON

        return load_enkrypt(text, name, env)
    return load_toml(text, name, env)


def detect_format(path: str, text: str) -> str:
    """ "enkrypt" for a .json file (or one whose text starts with "{"), else "toml"."""
    suffix = Path(path).suffix.lower()
    if suffix in (".json", ".toml"):
        return "enkrypt" if suffix == ".json" else "toml"
    return "enkrypt" if text.lstrip().startswith("{") else "toml"
