"""OTLP in, Prometheus out: the collector's part, played by the tests' own pieces.

The daemons export OTLP http/protobuf to the tests' receiver (``tests/telemetry/
receiver.py``); each export replaces the last value of its series. An exposition
endpoint serves those values as OpenMetrics under the names the Collector's Prometheus
exporter gives them (``tests/telemetry/prometheus.py``, checked by the dashboard test),
and Debian's Prometheus scrapes it every ``SCRAPE`` seconds, as it scrapes the
collector in the compose stack (``honor_labels``: job/instance from the daemon).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as ms
from tests.telemetry.prometheus import openmetrics, running_prometheus
from tests.telemetry.receiver import HttpReceiver, Point, Received

SCRAPE = 1  # seconds between scrapes (the daemons export every second)
CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
Series = tuple[str, tuple[tuple[str, str], ...], str]


class Latest(Received):
    """Keeps only the newest point of each series (metric, attributes, instance)."""

    def __init__(self) -> None:
        super().__init__()
        self._guard = threading.Lock()
        self._last: dict[Series, Point] = {}

    def add_metrics(self, request: ms.ExportMetricsServiceRequest) -> None:
        one = Received()
        one.add_metrics(request)
        fresh = one.points()
        with self._guard:
            for p in fresh:
                key = (
                    p.name,
                    tuple(sorted((k, str(v)) for k, v in p.attributes.items())),
                    str(p.resource.get("service.instance.id", "")),
                )
                held = self._last.get(key)
                if held is None or held.time_ns <= p.time_ns:
                    self._last[key] = p

    def current(self) -> list[Point]:
        """The newest point of every series seen so far."""
        with self._guard:
            return list(self._last.values())


@contextmanager
def exposition(latest: Latest) -> Iterator[str]:
    """An HTTP endpoint serving ``latest`` as OpenMetrics at ``/metrics``: its host:port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = openmetrics(latest.current(), stamped=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def pipeline(workdir: Path, prometheus: str) -> Iterator[tuple[str, str]]:
    """(OTLP endpoint for the daemons, Prometheus URL), all running while the block runs."""
    receiver = HttpReceiver()
    latest = Latest()
    receiver.received = latest
    data = workdir / "prometheus"
    data.mkdir()
    config = workdir / "prometheus.yaml"
    with receiver.running(), exposition(latest) as target:
        config.write_text(
            f"global:\n  scrape_interval: {SCRAPE}s\n  evaluation_interval: {SCRAPE}s\n"
            "scrape_configs:\n  - job_name: otel-collector\n    honor_labels: true\n"
            f"    static_configs:\n      - targets: [{target!r}]\n"
        )
        with running_prometheus(prometheus, config, data) as url:
            yield receiver.url, url
