"""OpenTelemetry: the instrument catalogue, the recorders and spans (no-ops while off), OTLP export.

``instruments`` (every metric defined once), ``record`` (the daemon's call sites),
``tracing`` (spans), ``setup`` (the only importer of the SDK, loaded by the daemon
only when telemetry is on), ``catalogue`` (the README table).
"""
