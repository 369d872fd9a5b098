"""DiscoverySettings and CacheSettings: one model parses the file's table and is what code reads."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest
from pydantic import ValidationError
from tests.config.support import load_text, problems

from mcp_discoveryd.config.model import CacheSettings, DiscoverySettings

SERVER = '[gateways.g.servers.s]\ncommand = "echo"\n'


def test_the_file_key_differs_from_the_attribute_only_where_an_alias_says(
    tmp_path: Path,
) -> None:
    """`timeout` in the file is `default_timeout` in code; the attribute name is no file key."""
    config = load_text(tmp_path, f'[discovery]\ntimeout = "90s"\n{SERVER}')
    assert config.discovery.default_timeout == 90.0
    found = problems(tmp_path, f"[discovery]\ndefault_timeout = 5\n{SERVER}")
    assert found == {"discovery.default_timeout": "unknown key (did you mean 'timeout'?)"}


def test_code_builds_settings_by_attribute_name_with_the_files_rules() -> None:
    """Durations and sizes parse in code too; the constraints of the file hold in code."""
    assert DiscoverySettings(default_timeout="2m").default_timeout == 120.0  # type: ignore[arg-type]  # a duration string, parsed
    assert CacheSettings(sentinels=["h:26379"]).sentinels == ("h:26379",)  # type: ignore[arg-type]  # a list, as files write
    with pytest.raises(ValidationError):
        CacheSettings(key_secret="short")
    with pytest.raises(ValidationError):
        DiscoverySettings(max_concurrent_spawns=0)
    with pytest.raises(ValidationError):
        replace(CacheSettings(), max_entries="10")  # type: ignore[arg-type]  # strict: no coercion


def test_settings_are_frozen_values_without_secrets_in_repr() -> None:
    """Frozen, hashable, equal by value; password, url and key_secret never in repr."""
    settings = CacheSettings(url="redis://:pw-in-url@h", password="p4ssword", key_secret="k" * 16)
    with pytest.raises(FrozenInstanceError):
        settings.tool_ttl = 1.0  # type: ignore[misc]  # frozen: the point of the test
    assert settings == CacheSettings(
        url="redis://:pw-in-url@h", password="p4ssword", key_secret="k" * 16
    )
    assert hash(settings) == hash(replace(settings))
    shown = repr(settings)
    assert "p4ssword" not in shown and "pw-in-url" not in shown and "kkkk" not in shown


def test_a_section_changes_only_the_keys_it_writes(tmp_path: Path) -> None:
    """An Enkrypt file's own [cache] keeps the TTL its Enkrypt keys set unless it writes one."""
    text = (
        '{"common_mcp_gateway_config": {"enkrypt_tool_cache_expiration": 2},'
        ' "mcp_discoveryd": {"cache": {"config_ttl": "1h"}},'
        ' "mcp_configs": {"c": {"mcp_config": [{"server_name": "s",'
        ' "config": {"command": "echo"}}]}}}'
    )
    config = load_text(tmp_path, text, name="enkrypt.json")
    assert (config.cache.tool_ttl, config.cache.config_ttl) == (7200.0, 3600.0)


def test_sentinel_credentials_are_read_expanded_and_kept_secret(tmp_path: Path) -> None:
    """sentinel_password from ${VAR} is read, counted a secret; without sentinels, a problem."""
    text = (
        '[cache]\nsentinels = ["10.0.0.5:26379"]\nsentinel_username = "watch"\n'
        'sentinel_password = "${SENTINEL_PW}"\nurl = "rediss://:${REDIS_PW}@mymaster/0"\n' + SERVER
    )
    env = {"SENTINEL_PW": "sentinel-secret-01", "REDIS_PW": "redis-secret-02"}
    config = load_text(tmp_path, text, env=env)
    assert (config.cache.sentinel_username, config.cache.sentinel_password) == (
        "watch",
        "sentinel-secret-01",
    )
    assert "sentinel-secret-01" in config.secrets()
    found = problems(tmp_path, '[cache]\nsentinel_password = "pw-0001"\n' + SERVER)
    assert found == {"cache.sentinels": "sentinel credentials are set but no sentinels"}
