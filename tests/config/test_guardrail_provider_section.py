"""[guardrails.provider]: the external guardrail provider's settings, in both config formats."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.config.support import load_text, problems

from mcp_discoveryd.config.settings import GuardrailProviderSettings
from mcp_discoveryd.secret import Secret

SERVER = '[gateways.g.servers.a]\ncommand = "true"\n'


def test_no_section_means_no_provider(tmp_path: Path) -> None:
    """Without [guardrails.provider] the built-in checks run alone."""
    assert load_text(tmp_path, SERVER).guardrail_provider is None


def test_the_section_is_read_with_units_and_secret_headers(tmp_path: Path) -> None:
    """Durations take units, header values come from ${VAR} and are held as secrets."""
    text = (
        '[guardrails.provider]\nurl = "https://guard.example/check"\ntimeout = "750ms"\n'
        'deadline = "1m"\nfail = "open"\nbatch_size = 10\nconcurrency = 2\ncache_size = 0\n'
        'headers = { Authorization = "Bearer ${GUARD_TOKEN}" }\n' + SERVER
    )
    provider = load_text(tmp_path, text, env={"GUARD_TOKEN": "s3cr3t-Token"}).guardrail_provider
    assert provider == GuardrailProviderSettings(
        url="https://guard.example/check",
        timeout=0.75,
        deadline=60.0,
        fail="open",
        batch_size=10,
        concurrency=2,
        cache_size=0,
        headers={"Authorization": Secret("Bearer s3cr3t-Token")},
    )
    assert "s3cr3t" not in repr(provider)


def test_defaults_fail_closed(tmp_path: Path) -> None:
    """Only the URL is needed; the rest default to fail-closed, 5 s, batches of 50."""
    text = '[guardrails.provider]\nurl = "http://127.0.0.1:8700/check"\n' + SERVER
    provider = load_text(tmp_path, text).guardrail_provider
    assert provider is not None
    assert (provider.fail, provider.timeout, provider.batch_size) == ("closed", 5.0, 50)


def test_the_enkrypt_format_reads_it_from_its_own_object(tmp_path: Path) -> None:
    """An Enkrypt config's mcp_discoveryd object carries the same table."""
    doc = {
        "mcp_configs": {
            "c1": {
                "mcp_config_name": "one",
                "mcp_config": [{"server_name": "a", "config": {"command": "true"}, "tools": {}}],
            }
        },
        "mcp_discoveryd": {"guardrails": {"provider": {"url": "https://guard.example/c"}}},
    }
    config = load_text(tmp_path, json.dumps(doc), "enkrypt.json")
    assert config.guardrail_provider == GuardrailProviderSettings(url="https://guard.example/c")


def test_unusable_settings_are_problems_at_their_keys(tmp_path: Path) -> None:
    """A URL that is not http(s), zero batches and unknown keys are reported where written."""
    text = (
        '[guardrails.provider]\nurl = "ftp://guard.example/x"\nbatch_size = 0\n'
        'fail = "maybe"\ncolour = "red"\n' + SERVER
    )
    found = problems(tmp_path, text)
    assert "http:// or https://" in found["guardrails.provider.url"]
    assert set(found) >= {
        "guardrails.provider.batch_size",
        "guardrails.provider.fail",
        "guardrails.provider.colour",
    }


@given(password=st.text("abcdefghijkmnopqrstuvwxyz0123456789", min_size=8, max_size=20))
@settings(max_examples=20, deadline=None)
def test_credentials_in_the_url_are_refused_without_quoting_them(password: str) -> None:
    """user:password@ in the URL is a problem (headers carry credentials); never echoed."""
    import tempfile

    text = f'[guardrails.provider]\nurl = "https://bot:{password}@guard.example/c"\n' + SERVER
    with tempfile.TemporaryDirectory() as tmp:
        found = problems(Path(tmp), text)
    assert found["guardrails.provider.url"] == "credentials belong in headers, not in the URL"
    assert all(password not in message for message in found.values())
