"""[telemetry] over the OTEL_* variables: the file wins, the environment fills, secrets stay sealed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_discoveryd.config import load_config
from mcp_discoveryd.config.settings import TelemetrySettings
from mcp_discoveryd.errors import ConfigError

GATEWAY = '[gateways.g.servers.s]\ncommand = "true"\n'


def load(tmp_path: Path, telemetry: str, env: dict[str, str]) -> TelemetrySettings:
    path = tmp_path / "c.toml"
    path.write_text(f"[telemetry]\n{telemetry}\n{GATEWAY}")
    return load_config(path, env).telemetry


def test_off_by_default_and_on_once_an_endpoint_is_given(tmp_path: Path) -> None:
    assert not load(tmp_path, "", {}).active
    assert load(tmp_path, "", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}).active
    assert load(tmp_path, 'endpoint = "http://c:4318"', {}).active
    assert not load(tmp_path, 'endpoint = "http://c:4318"\nenabled = false', {}).active
    assert not load(
        tmp_path, "", {"OTEL_EXPORTER_OTLP_ENDPOINT": "x", "OTEL_SDK_DISABLED": "true"}
    ).active


def test_standard_variables_fill_what_the_file_leaves_out(tmp_path: Path) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_METRIC_EXPORT_INTERVAL": "15000",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "3000",
        "OTEL_SERVICE_NAME": "env-name",
        "OTEL_RESOURCE_ATTRIBUTES": "a=1,b=from%20env",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-token=env-secret-value",
        "OTEL_TRACES_EXPORTER": "none",
    }
    got = load(tmp_path, 'service_name = "file-name"\nresource_attributes = { b = "file" }', env)
    assert got.endpoint == "http://env:4317" and got.protocol == "grpc"
    assert got.interval == 15.0 and got.timeout == 3.0 and not got.traces
    assert got.service_name == "file-name"  # written in the file: it wins
    assert got.resource_attributes == {"a": "1", "b": "file"}
    assert got.headers["x-token"].reveal() == "env-secret-value"
    assert "env-secret-value" not in repr(got)


@given(
    file_interval=st.one_of(st.none(), st.integers(1, 999)),
    env_interval=st.one_of(st.none(), st.integers(1, 999_000)),
)
def test_a_key_written_in_the_file_always_wins_over_its_variable(
    tmp_path_factory: pytest.TempPathFactory, file_interval: int | None, env_interval: int | None
) -> None:
    tmp = tmp_path_factory.mktemp("c")
    text = f'interval = "{file_interval}s"' if file_interval is not None else ""
    env = {"OTEL_METRIC_EXPORT_INTERVAL": str(env_interval)} if env_interval is not None else {}
    got = load(tmp, text, env).interval
    if file_interval is not None:
        assert got == file_interval
    elif env_interval is not None:
        assert got == env_interval / 1000
    else:
        assert got == TelemetrySettings().interval


def test_header_secrets_never_appear_in_problems(tmp_path: Path) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_HEADERS": "broken-secret-value",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
    }
    with pytest.raises(ConfigError) as caught:
        load(
            tmp_path,
            'headers = { authorization = "Bearer file-secret-value" }\nprotocol = "udp"',
            env,
        )
    text = str(caught.value)
    assert "OTEL_EXPORTER_OTLP_HEADERS" in text and "protocol" in text
    assert "secret-value" not in text


@pytest.mark.parametrize("endpoint", ["collector:4318", "udp://c:1", "http://", "http://c:99999"])
def test_an_endpoint_that_is_no_http_url_is_a_problem_where_it_was_written(
    tmp_path: Path, endpoint: str
) -> None:
    with pytest.raises(ConfigError, match="telemetry.endpoint"):
        load(tmp_path, f'endpoint = "{endpoint}"', {})
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_ENDPOINT"):
        load(tmp_path, "", {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
