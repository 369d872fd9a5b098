"""Recording into the OpenTelemetry SDK's in-memory reader, for tests that read what the
daemon counted without an exporter: the ``reader`` fixture and ``sums`` of a metric."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from mcp_discoveryd.telemetry import record

Points = dict[tuple[tuple[str, object], ...], float]


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    """Recording on, into the SDK's in-memory reader, for the test."""
    memory = InMemoryMetricReader()
    provider = MeterProvider([memory])
    record.install(provider.get_meter("test"))
    try:
        yield memory
    finally:
        record.uninstall()
        provider.shutdown()


def sums(reader: InMemoryMetricReader, name: str) -> Points:
    """attributes -> value of one counter or gauge, as collected now."""
    data = reader.get_metrics_data()
    out: Points = {}
    for rm in data.resource_metrics if data is not None else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        key = tuple(sorted((point.attributes or {}).items()))
                        out[key] = point.value  # type: ignore[union-attr]
    return out
