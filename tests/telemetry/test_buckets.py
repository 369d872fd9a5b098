"""Each duration histogram's bucket bounds fit what it measures, and the export carries them.

A quantile is interpolated inside one bucket: bounds built for another range put every
value at a bucket's midpoint (a 7 s refresh lead read as 30 s, the middle of 0-60).
"""

from __future__ import annotations

import bisect

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from tests.telemetry.receiver import HttpReceiver, Point

from mcp_discoveryd.config.settings import TelemetrySettings
from mcp_discoveryd.telemetry import instruments as i
from mcp_discoveryd.telemetry import record
from mcp_discoveryd.telemetry.setup import exporting


def enclosing(bounds: tuple[float, ...], value: float) -> tuple[float, float]:
    """The (lower, upper] bucket an OTel explicit-bucket histogram puts ``value`` in."""
    at = bisect.bisect_left(bounds, value)
    lower = bounds[at - 1] if at > 0 else float("-inf")
    upper = bounds[at] if at < len(bounds) else float("inf")
    return lower, upper


# (instrument, the range it must resolve, the widest ratio of a bucket's bounds there)
RANGES = [
    (i.REFRESH_LEAD, 0.25, 7200.0, 2.0),
    (i.CONTROL_DURATION, 1e-4, 5.0, 2.5),
    (i.DISCOVERY_DURATION, 0.01, 60.0, 2.5),
    (i.CACHE_DURATION, 1e-5, 1.0, 2.5),
]


@pytest.mark.parametrize(("spec", "low", "high", "ratio"), RANGES, ids=lambda v: str(v)[:24])
def test_bounds_resolve_the_measured_range_within_a_factor(
    spec: i.Instrument, low: float, high: float, ratio: float
) -> None:
    @given(st.floats(low, high, exclude_min=True))
    def check(value: float) -> None:
        lower, upper = enclosing(spec.buckets or (), value)
        assert 0 < lower < upper <= lower * ratio, (value, lower, upper)

    check()


def bucket_of(point: Point, value: float) -> tuple[float, float]:
    """The bounds of the one exported bucket that counted ``value``."""
    (at,) = [n for n, count in enumerate(point.bucket_counts) if count]
    bounds = (float("-inf"), *point.bounds, float("inf"))
    assert bounds[at] < value <= bounds[at + 1]
    return bounds[at], bounds[at + 1]


async def test_the_export_carries_the_bounds_a_7_s_lead_lands_in_4_to_8_and_a_late_one_is_kept() -> (
    None
):
    """Recorded through the real SDK, exported over OTLP http/protobuf, decoded by the receiver."""
    with HttpReceiver().running() as rx:
        settings = TelemetrySettings(endpoint=rx.url, interval=60.0, traces=False)
        async with exporting(settings):
            record.refresh_lead("g", "s", "refresh", 7.0)
            record.refresh_lead("g", "late", "refresh", -3.0)  # the SDK drops a negative value
            record.record_control_request("/v1/servers/{name}/catalog", "GET", 200, 0.00015)
        # the shutdown flush is the one export
    points = {(p.name, p.attributes.get(i.SERVER)): p for p in rx.received.latest()}
    lead = points[("mcpd.refresh.lead", "s")]
    assert lead.bounds == i.LEAD_BUCKETS
    lower, upper = bucket_of(lead, 7.0)
    assert upper <= 2 * lower  # the median of one 7 s lead reads 4-8 s, not 30
    late = points[("mcpd.refresh.lead", "late")]
    assert late.attributes[i.TIMING] == "late" and lead.attributes[i.TIMING] == "ahead"
    assert bucket_of(late, 3.0) == (2.0, 4.0)
    control = points[("mcpd.control.duration", None)]
    assert control.bounds == i.CONTROL_BUCKETS
    assert bucket_of(control, 0.00015) == (1e-4, 2e-4)


@given(st.floats(-86400.0, 86400.0))
def test_any_lead_early_or_late_is_recorded_never_dropped(lead: float) -> None:
    """The SDK drops a negative histogram value: a late refresh is recorded by how late."""
    memory = InMemoryMetricReader()
    provider = MeterProvider([memory])
    record.install(provider.get_meter("test"))
    try:
        record.refresh_lead("g", "s", "refresh", lead)
        data = memory.get_metrics_data()
    finally:
        record.uninstall()
        provider.shutdown()
    assert data is not None
    (metric,) = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    (point,) = metric.data.data_points
    assert point.count == 1 and point.sum == abs(lead)  # type: ignore[union-attr]
    assert (point.attributes or {})[i.TIMING] == ("ahead" if lead >= 0 else "late")
