"""The export's lifecycle: off costs nothing, on installs and removes the recorders, logs no secret."""

from __future__ import annotations

import logging

import pytest

from mcp_discoveryd.config.settings import TelemetrySettings
from mcp_discoveryd.secret import Secret
from mcp_discoveryd.telemetry import record, tracing
from mcp_discoveryd.telemetry.setup import exporting


async def test_off_yields_nothing_and_records_nothing() -> None:
    async with exporting(TelemetrySettings()) as providers:
        assert providers is None and not record.enabled()
        with tracing.span("x") as span:
            assert span is None


async def test_on_installs_for_the_block_and_logs_the_endpoint_without_its_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = TelemetrySettings(
        endpoint="http://user:pass-in-url@127.0.0.1:9/otlp?token=query-secret",
        headers={"authorization": Secret("Bearer header-secret")},
        shutdown_timeout=1.0,
        timeout=0.5,
    )
    with caplog.at_level(logging.DEBUG):  # the SDK's own loggers too
        async with exporting(settings) as providers:
            assert providers is not None and record.enabled()
            with tracing.span("x") as span:
                assert span is not None and tracing.trace_meta()["traceparent"]
    assert not record.enabled() and tracing.trace_meta() == {}
    text = caplog.text
    assert "127.0.0.1:9/otlp" in text
    for secret in ("pass-in-url", "query-secret", "header-secret"):
        assert secret not in text
