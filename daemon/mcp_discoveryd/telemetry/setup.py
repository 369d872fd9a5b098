"""OTLP export: the one importer of the OpenTelemetry SDK and exporters (imported lazily).

``exporting(settings)`` is an async context manager: off, it does nothing at all;
on, it builds a ``MeterProvider`` (a ``PeriodicExportingMetricReader``) and a
``TracerProvider`` (a ``BatchSpanProcessor``) over OTLP http/protobuf or gRPC,
installs the recorders, and at exit flushes and shuts both down within
``shutdown_timeout``.

Why the daemon never waits on the endpoint: export runs on the SDK's own threads
(the reader's timer thread, the span processor's worker), each export bounded by
``timeout``; building the providers (the SDK import, ~0.1 s) and the final flush
run in a worker thread, so the event loop never blocks on them, and the flush is
abandoned when its bound passes. A span queue that fills drops spans, never waits.
Neither provider registers an ``atexit`` hook (the daemon's exit is not delayed).
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from .. import __version__
from ..config.settings import TelemetrySettings
from ..secret import url_without_secrets
from . import record, tracing

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINTS = {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"}
SCOPE = "mcp_discoveryd"


@dataclass(frozen=True, slots=True)
class Providers:
    """The running SDK providers (``tracer`` None when traces are off)."""

    meter: MeterProvider
    tracer: TracerProvider | None
    endpoint: str
    protocol: str

    def shutdown(self, timeout_s: float) -> None:
        """Flush and stop both (blocking: run it in a worker thread)."""
        millis = max(1, int(timeout_s * 1000))
        if self.tracer is not None:
            self.tracer.force_flush(millis)
            self.tracer.shutdown()
        self.meter.shutdown(timeout_millis=millis)


@asynccontextmanager
async def exporting(settings: TelemetrySettings) -> AsyncIterator[Providers | None]:
    """Export metrics (and spans) while the block runs; None and no cost when off."""
    if not settings.active:
        yield None
        return
    providers = await anyio.to_thread.run_sync(build, settings)
    record.install(providers.meter.get_meter(SCOPE, __version__))
    if providers.tracer is not None:
        tracing.install(providers.tracer.get_tracer(SCOPE, __version__))
    where = url_without_secrets(providers.endpoint)  # a URL may carry a token
    logger.info("telemetry: exporting to %s over %s", where, providers.protocol)
    try:
        yield providers
    finally:
        record.uninstall()
        tracing.uninstall()
        # Shielded: the flush also runs when the daemon is cancelled; abandoned past the bound.
        with anyio.move_on_after(settings.shutdown_timeout, shield=True) as bounded:
            await anyio.to_thread.run_sync(
                providers.shutdown, settings.shutdown_timeout, abandon_on_cancel=True
            )
        if bounded.cancelled_caught:
            logger.warning(
                "telemetry: the last export did not end within %.1fs", settings.shutdown_timeout
            )


def build(settings: TelemetrySettings) -> Providers:
    """The providers and exporters ``settings`` ask for (blocking: imports the SDK)."""
    from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    endpoint = settings.endpoint or DEFAULT_ENDPOINTS[settings.protocol]
    resource = Resource.create(
        {
            "service.name": settings.service_name,
            "service.version": __version__,
            "service.instance.id": str(uuid.uuid4()),  # one per process
            "host.name": socket.gethostname(),
            **settings.resource_attributes,
        }
    )
    reader = PeriodicExportingMetricReader(
        _exporter("metrics", settings, endpoint),
        export_interval_millis=settings.interval * 1000,
        export_timeout_millis=settings.timeout * 1000,
    )
    meter = MeterProvider(
        [reader],
        resource=resource,
        shutdown_on_exit=False,
        exemplar_filter=AlwaysOffExemplarFilter(),  # no trace sampling per measurement
    )
    tracer = None
    if settings.traces:
        tracer = TracerProvider(resource=resource, shutdown_on_exit=False)
        processor = BatchSpanProcessor(
            _exporter("traces", settings, endpoint),
            export_timeout_millis=settings.timeout * 1000,
        )
        tracer.add_span_processor(processor)
    return Providers(meter, tracer, endpoint, settings.protocol)


def _exporter(signal: str, settings: TelemetrySettings, endpoint: str) -> Any:
    """The OTLP exporter of one signal; header values revealed only here, to the exporter."""
    headers = {name: value.reveal() for name, value in settings.headers.items()}
    if settings.protocol == "grpc":
        insecure = not endpoint.startswith("https://")
        if signal == "metrics":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter as GrpcMetrics,
            )

            return GrpcMetrics(endpoint, insecure, headers=headers, timeout=settings.timeout)
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpans,
        )

        return GrpcSpans(endpoint, insecure, headers=headers, timeout=settings.timeout)
    url = f"{endpoint.rstrip('/')}/v1/{signal}"
    if signal == "metrics":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter(url, headers=headers, timeout=settings.timeout)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(url, headers=headers, timeout=settings.timeout)
