"""A real Prometheus (Debian's package) over the metrics a daemon exported.

The received OTLP points are rendered as OpenMetrics the way the Collector's
Prometheus exporter names them (``catalogue.prometheus_name``, attribute keys with
``_``, ``job``/``instance`` from ``service.name``/``service.instance.id``), each sample
at the time the SDK stamped it; ``promtool tsdb create-blocks-from openmetrics``
writes them as TSDB blocks, and Prometheus is started on that data to answer queries
at the time of the last sample. No waiting for scrapes: the same data every run.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.cache.redis_config import free_port
from tests.telemetry.receiver import Point

from mcp_discoveryd.telemetry.catalogue import prometheus_label, prometheus_name
from mcp_discoveryd.telemetry.instruments import INSTRUMENTS

SPECS = {spec.name: spec for spec in INSTRUMENTS}
STARTUP_LIMIT = 30.0


def _labels(point: Point, extra: dict[str, str] | None = None) -> str:
    labels = {prometheus_label(k): str(v) for k, v in point.attributes.items()}
    labels["job"] = str(point.resource.get("service.name", ""))
    labels["instance"] = str(point.resource.get("service.instance.id", ""))
    labels |= extra or {}
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return "NaN" if math.isnan(value) else repr(float(value))


def openmetrics(points: list[Point], *, stamped: bool = True) -> str:
    """Every point as OpenMetrics text, one family after another, samples in time order.

    ``stamped=False`` leaves the timestamps out, as a scraped exporter does (otel/render).
    """
    families: dict[str, list[Point]] = {}
    for p in points:
        families.setdefault(p.name, []).append(p)
    lines: list[str] = []
    for name, group in families.items():
        spec = SPECS[name]
        family = prometheus_name(spec)
        if spec.kind == "counter":
            family = family.removesuffix("_total")
        kind = {"counter": "counter", "histogram": "histogram", "gauge": "gauge"}[spec.kind]
        lines.append(f"# TYPE {family} {kind}")
        by_series: dict[str, list[Point]] = {}
        for p in group:
            by_series.setdefault(_labels(p), []).append(p)
        for series in by_series.values():
            series.sort(key=lambda p: p.time_ns)
            last = -1.0
            for p in series:
                ts = p.time_ns / 1e9
                if ts <= last:  # one sample per instant
                    continue
                last = ts
                stamp = f" {ts:.3f}" if stamped else ""
                if spec.kind == "counter":
                    lines.append(f"{family}_total{_labels(p)} {_number(p.value)}{stamp}")
                elif spec.kind == "gauge":
                    lines.append(f"{family}{_labels(p)} {_number(p.value)}{stamp}")
                else:
                    running = 0
                    for bound, count in zip(
                        (*p.bounds, float("inf")), p.bucket_counts, strict=True
                    ):
                        running += count
                        le = "+Inf" if bound == float("inf") else _number(bound)
                        lines.append(f"{family}_bucket{_labels(p, {'le': le})} {running}{stamp}")
                    lines.append(f"{family}_sum{_labels(p)} {_number(p.sum)}{stamp}")
                    lines.append(f"{family}_count{_labels(p)} {int(p.value)}{stamp}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


class Prometheus:
    """A running Prometheus over backfilled data; ``query`` evaluates PromQL at ``at``."""

    def __init__(self, url: str, at: float) -> None:
        self.url = url
        self.at = at

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant query's result vector (raises on a PromQL error)."""
        params = urllib.parse.urlencode({"query": expr, "time": f"{self.at:.3f}"})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{params}", timeout=10) as reply:
            body = json.load(reply)
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


@contextmanager
def prometheus_over(
    points: list[Point], workdir: Path, binary: str, promtool: str
) -> Iterator[Prometheus]:
    """Prometheus serving ``points`` (backfilled), queried at the last sample's time."""
    data = workdir / "data"
    data.mkdir(parents=True)
    source = workdir / "metrics.om"
    source.write_text(openmetrics(points))
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    config = workdir / "prometheus.yaml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    with running_prometheus(binary, config, data) as url:
        last = max(p.time_ns for p in points) / 1e9
        yield Prometheus(url, last + 1.0)


@contextmanager
def running_prometheus(binary: str, config: Path, data: Path) -> Iterator[str]:
    """Prometheus on a free loopback port with ``config`` over ``data``: its URL once ready."""
    port = free_port()  # below the ephemeral range: no client socket can hold it
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=10y",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_LIMIT
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("prometheus did not become ready")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (``mcp_``/``mcpd_`` identifiers)."""
    # label names stand in grouping clauses and matchers: leave those out first
    grouping = r"\b(by|without|ignoring|on|group_left|group_right)\s*\([^)]*\)"
    bare = re.sub(r"\{[^}]*\}", "", re.sub(grouping, "", expr))
    names = set(re.findall(r"\b(mcpd?_[a-zA-Z0-9_]+)\b", bare))
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}
