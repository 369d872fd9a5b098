"""Spans: a no-op context manager while telemetry is off (no OpenTelemetry import then).

Span layout: ``mcpd.discovery`` per run (``mcpd.trigger``), a child per phase
(``mcpd.validate``, ``mcpd.execute``) and, under execute, one per server
(``mcpd.server``) that carries the MCP attributes (``network.transport``,
``server.address``, ``mcp.protocol.version``, ``error.type``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

Attributes = Mapping[str, str | int | float | bool]

_tracer: Tracer | None = None


def install(tracer: Tracer) -> None:
    """Start making spans with ``tracer``."""
    global _tracer
    _tracer = tracer


def uninstall() -> None:
    """Stop making spans."""
    global _tracer
    _tracer = None


@contextmanager
def span(name: str, attributes: Attributes | None = None) -> Iterator[Span | None]:
    """A child of the current span for the block (None while off); an exception marks it failed
    and passes on unchanged, cancellation included."""
    tracer = _tracer
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def annotate(current: Span | None, attributes: Attributes) -> None:
    """Add attributes to a span learnt after it began (nothing while off)."""
    if current is not None:
        current.set_attributes(attributes)


def fail(current: Span | None, error_type: str) -> None:
    """Mark a span failed with a bounded ``error.type`` (an upstream fault is data, not raised)."""
    if current is None:
        return
    from opentelemetry.trace import StatusCode

    current.set_attribute("error.type", error_type)
    current.set_status(StatusCode.ERROR, error_type)


def trace_meta() -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``), for an MCP ``_meta``; {} off."""
    if _tracer is None:
        return {}
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier
