"""DiscoverySettings and CacheSettings: one model parses the file's table and is what code reads."""

from __future__ import annotations

import string
from dataclasses import FrozenInstanceError, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.config.support import config_error, load_text, problems

from mcp_discoveryd.config.problems import Problems
from mcp_discoveryd.config.sections import read_sections
from mcp_discoveryd.config.settings import CacheSettings, DiscoverySettings
from mcp_discoveryd.secret import Secret, SecretUrl

SERVER = '[gateways.g.servers.s]\ncommand = "echo"\n'
KEY = Secret("k" * 16)


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
        CacheSettings(key_secret=Secret("short"))
    with pytest.raises(ValidationError):
        DiscoverySettings(max_concurrent_spawns=0)
    with pytest.raises(ValidationError):
        DiscoverySettings(spawn_admission="fast")  # type: ignore[arg-type]  # not a policy
    with pytest.raises(ValidationError):
        replace(CacheSettings(), max_entries="10")  # type: ignore[arg-type]  # strict: no coercion


def test_settings_are_frozen_values_without_secrets_in_repr() -> None:
    """Frozen, hashable, equal by value; password, url and key_secret never in repr."""
    settings = CacheSettings(
        url=SecretUrl("redis://:pw-in-url@h"), password=Secret("p4ssword"), key_secret=KEY
    )
    with pytest.raises(FrozenInstanceError):
        settings.tool_ttl = 1.0  # type: ignore[misc]  # frozen: the point of the test
    assert settings == CacheSettings(
        url=SecretUrl("redis://:pw-in-url@h"), password=Secret("p4ssword"), key_secret=KEY
    )
    assert hash(settings) == hash(replace(settings))
    assert replace(settings, tool_ttl=60.0).password == Secret("p4ssword")  # kept, not rewrapped
    shown = repr(settings)
    assert "p4ssword" not in shown and "pw-in-url" not in shown and "kkkk" not in shown


def test_secret_fields_hold_what_a_file_writes_as_secrets(tmp_path: Path) -> None:
    """The file's strings for url, password, key_secret and sentinel_password arrive wrapped."""
    text = (
        '[cache]\nsentinels = ["10.0.0.5:26379"]\nsentinel_password = "sentinel-pw-0001"\n'
        'url = "redis://mymaster/0"\npassword = "master-pw-0002"\nkey_secret = "'
        + "k" * 16
        + '"\n'
        + SERVER
    )
    cache = load_text(tmp_path, text).cache
    assert cache.url == SecretUrl("redis://mymaster/0")
    assert cache.password == Secret("master-pw-0002")
    assert cache.sentinel_password == Secret("sentinel-pw-0001")
    assert cache.key_secret == KEY
    for field in (cache.url, cache.password, cache.sentinel_password, cache.key_secret):
        assert isinstance(field, Secret | SecretUrl)
    with pytest.raises(ValidationError):
        CacheSettings(password=5)  # type: ignore[arg-type]  # a secret is text, not coerced


# Shaped like a key, short enough to be a bad key_secret; with a digit, so no word of a
# message ("database") can be the token by chance.
TOKENS = st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=15).filter(
    lambda t: any(c.isdigit() for c in t)
)


def _bad_tables(token: str) -> list[dict[str, object]]:
    """[cache] tables each wrong in a way that concerns a secret value."""
    return [
        {"url": f"http://:{token}@h/0"},  # scheme
        {"url": f"redis://:{token}@h:99999/0"},  # port
        {"url": f"redis://:{token}@h/db-{token}"},  # database
        {"url": f"rediss://:{token}@h/0?ssl_cert_reqs={token}"},  # option value
        {"url": f"redis://:{token}@h/0", "password": token},  # both
        {"backend": "memory", "url": f"redis://:{token}@h/0"},
        {"url": "redis://h/0", "key_secret": token},  # too short
        {"sentinel_password": token},  # no sentinels
        {"url": f"redis://:{token}@h/0", "password": [token]},  # not text
    ]


@given(TOKENS)
def test_a_bad_secret_value_is_reported_by_its_key_never_quoted(token: str) -> None:
    """Problems with url, password, key_secret or sentinel_password never contain the value.

    Checked on what the model and the checks report, before the last guard (the raw
    document's secrets masked in the final report) could hide a message that quotes one,
    and on the text of a ValidationError raised to code.
    """
    for table in _bad_tables(token):
        found = Problems()
        read_sections({"cache": table}, (), found)
        assert found.items, table
        for problem in found.items:
            assert token not in problem.location and token not in problem.message, table
    wrongs: list[dict[str, Any]] = [{"key_secret": token}, {"password": [token]}, {"url": [token]}]
    for wrong in wrongs:  # text and lists, as a file gives them
        with pytest.raises(ValidationError) as caught:
            CacheSettings(**wrong)
        assert token not in str(caught.value) and token not in repr(caught.value)


def test_check_config_never_echoes_a_bad_cache_url_or_password(tmp_path: Path) -> None:
    """End to end: the problems of a [cache] with secrets in bad values show none of them."""
    text = (
        '[cache]\nurl = "redis://:url-pw-0001@h:99999/0"\npassword = "settings-pw-0002"\n'
        'sentinel_password = "sentinel-pw-0003"\nkey_secret = "short-key-0004"\n' + SERVER
    )
    error = config_error(tmp_path, text)
    assert {p.location for p in error.problems} >= {"cache.url", "cache.key_secret"}
    for value in ("url-pw-0001", "settings-pw-0002", "sentinel-pw-0003", "short-key-0004"):
        assert value not in str(error)


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
        Secret("sentinel-secret-01"),
    )
    assert "sentinel-secret-01" not in repr(config) + str(config)
    found = problems(tmp_path, '[cache]\nsentinel_password = "pw-0001"\n' + SERVER)
    assert found == {"cache.sentinels": "sentinel credentials are set but no sentinels"}
