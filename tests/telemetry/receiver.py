"""A real OTLP receiver for the tests: http/protobuf and gRPC, decoding with opentelemetry-proto.

``HttpReceiver`` answers ``POST /v1/metrics`` and ``/v1/traces`` (optionally after a
delay: a slow collector); ``GrpcReceiver`` serves the OTLP gRPC services. Both keep
every request decoded, and ``Received`` flattens them into points and spans that a
test can assert on.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc  # type: ignore[import-untyped]
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as ms
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as ms_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as ts_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

Attrs = dict[str, Any]


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def attrs(items: Any) -> Attrs:
    """KeyValue list -> dict."""
    out: Attrs = {}
    kv: KeyValue
    for kv in items:
        out[kv.key] = _value(kv.value)
    return out


@dataclass(frozen=True)
class Point:
    """One data point of one metric, with what the metric declared."""

    name: str
    unit: str
    description: str
    kind: str  # sum, histogram, gauge
    attributes: Attrs
    value: float  # sum/gauge value, histogram count
    bounds: tuple[float, ...] = ()
    monotonic: bool = False
    resource: Attrs = field(default_factory=dict)
    time_ns: int = 0
    sum: float = 0.0  # histograms
    bucket_counts: tuple[int, ...] = ()  # histograms: per bucket, not cumulative


@dataclass(frozen=True)
class SpanRecord:
    """One exported span."""

    name: str
    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    attributes: Attrs
    status: int


class Received:
    """Every request a receiver decoded, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.metrics: list[ms.ExportMetricsServiceRequest] = []
        self.traces: list[ts.ExportTraceServiceRequest] = []

    def add_metrics(self, request: ms.ExportMetricsServiceRequest) -> None:
        with self._lock:
            self.metrics.append(request)

    def add_traces(self, request: ts.ExportTraceServiceRequest) -> None:
        with self._lock:
            self.traces.append(request)

    def points(self) -> list[Point]:
        """Every data point received, flattened."""
        out: list[Point] = []
        with self._lock:
            requests = list(self.metrics)
        for request in requests:
            for rm in request.resource_metrics:
                resource = attrs(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        out.extend(_points(m, resource))
        return out

    def latest(self) -> list[Point]:
        """The last point of each (metric, attributes): cumulative values as they ended."""
        last: dict[tuple[str, tuple[tuple[str, str], ...]], Point] = {}
        for p in self.points():
            last[(p.name, tuple(sorted((k, str(v)) for k, v in p.attributes.items())))] = p
        return list(last.values())

    def spans(self) -> list[SpanRecord]:
        """Every span received."""
        with self._lock:
            requests = list(self.traces)
        return [
            SpanRecord(
                s.name,
                s.trace_id,
                s.span_id,
                s.parent_span_id,
                attrs(s.attributes),
                s.status.code,
            )
            for request in requests
            for rs in request.resource_spans
            for ss in rs.scope_spans
            for s in ss.spans
        ]


def _points(m: Any, resource: Attrs) -> list[Point]:
    kind = m.WhichOneof("data")
    common = {"name": m.name, "unit": m.unit, "description": m.description, "resource": resource}
    if kind == "sum":
        return [
            Point(
                kind="sum",
                attributes=attrs(p.attributes),
                value=p.as_double if p.HasField("as_double") else p.as_int,
                monotonic=m.sum.is_monotonic,
                time_ns=p.time_unix_nano,
                **common,
            )
            for p in m.sum.data_points
        ]
    if kind == "gauge":
        return [
            Point(
                kind="gauge",
                attributes=attrs(p.attributes),
                value=p.as_double if p.HasField("as_double") else p.as_int,
                time_ns=p.time_unix_nano,
                **common,
            )
            for p in m.gauge.data_points
        ]
    if kind == "histogram":
        return [
            Point(
                kind="histogram",
                attributes=attrs(p.attributes),
                value=p.count,
                bounds=tuple(p.explicit_bounds),
                time_ns=p.time_unix_nano,
                sum=p.sum,
                bucket_counts=tuple(p.bucket_counts),
                **common,
            )
            for p in m.histogram.data_points
        ]
    return []


class HttpReceiver:
    """OTLP http/protobuf on 127.0.0.1 (``url``); ``delay`` seconds before each answer."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received = Received()
        self.delay = delay
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.requests += 1
                receiver.headers.append(dict(self.headers.items()))
                if receiver.delay:
                    time.sleep(receiver.delay)
                if self.path == "/v1/metrics":
                    receiver.received.add_metrics(ms.ExportMetricsServiceRequest.FromString(body))
                    reply = ms.ExportMetricsServiceResponse().SerializeToString()
                elif self.path == "/v1/traces":
                    receiver.received.add_traces(ts.ExportTraceServiceRequest.FromString(body))
                    reply = ts.ExportTraceServiceResponse().SerializeToString()
                else:
                    self.send_error(404)
                    return
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-protobuf")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:  # the exporter gave up waiting (a slow receiver)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.headers: list[dict[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[HttpReceiver]:
        """Serve in a thread while the block runs."""
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(5)


class _Metrics(ms_grpc.MetricsServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: Any, context: Any) -> Any:
        self.received.add_metrics(request)
        return ms.ExportMetricsServiceResponse()


class _Traces(ts_grpc.TraceServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: Any, context: Any) -> Any:
        self.received.add_traces(request)
        return ts.ExportTraceServiceResponse()


class GrpcReceiver:
    """OTLP gRPC on 127.0.0.1 (``url``: ``http://127.0.0.1:PORT``)."""

    def __init__(self) -> None:
        self.received = Received()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        ms_grpc.add_MetricsServiceServicer_to_server(_Metrics(self.received), self._server)  # type: ignore[no-untyped-call]
        ts_grpc.add_TraceServiceServicer_to_server(_Traces(self.received), self._server)  # type: ignore[no-untyped-call]
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.url = f"http://127.0.0.1:{port}"

    @contextmanager
    def running(self) -> Iterator[GrpcReceiver]:
        """Serve while the block runs."""
        self._server.start()
        try:
            yield self
        finally:
            self._server.stop(grace=None).wait(5)
