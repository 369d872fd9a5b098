"""[telemetry] and the standard ``OTEL_*`` variables -> ``TelemetrySettings``.

Precedence: a key written in the file wins; an ``OTEL_*`` variable fills a key the
file leaves out; the defaults fill the rest. ``OTEL_RESOURCE_ATTRIBUTES`` and the
file's ``resource_attributes`` merge (the file's win per key).

=================================  ======================  ===========================
variable                           key                     form
=================================  ======================  ===========================
OTEL_SDK_DISABLED                  enabled                 ``true``: off
OTEL_EXPORTER_OTLP_ENDPOINT        endpoint                URL (grpc: ``http://host:4317``)
OTEL_EXPORTER_OTLP_PROTOCOL        protocol                ``http/protobuf`` or ``grpc``
OTEL_EXPORTER_OTLP_HEADERS         headers                 ``k=v,k2=v2`` (URL-encoded values)
OTEL_EXPORTER_OTLP_TIMEOUT         timeout                 milliseconds
OTEL_METRIC_EXPORT_INTERVAL        interval                milliseconds
OTEL_TRACES_EXPORTER               traces                  ``none``: no spans
OTEL_SERVICE_NAME                  service_name
OTEL_RESOURCE_ATTRIBUTES           resource_attributes     ``k=v,k2=v2``
=================================  ======================  ===========================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from ..secret import Secret
from .problems import KeyPath, Problems, validate
from .sections import written_in
from .settings import TelemetrySettings

_PROTOCOLS = ("http/protobuf", "grpc")


def read_telemetry(
    raw: object, path: KeyPath, problems: Problems, env: Mapping[str, str]
) -> TelemetrySettings:
    """The [telemetry] table ``raw`` over the ``OTEL_*`` variables of ``env``."""
    changes = _from_env(env, problems)
    table = raw if isinstance(raw, dict) else {}
    section = validate(TelemetrySettings, raw if raw is not None else {}, path, problems)
    if section is not None:
        written = written_in(section, table, path, problems)
        if "resource_attributes" in written:
            merged = {**changes.get("resource_attributes", {}), **written["resource_attributes"]}
            written["resource_attributes"] = merged
        changes |= written
    settings = dataclasses.replace(TelemetrySettings(), **changes)
    endpoint = settings.endpoint
    if settings.active and endpoint is not None and not _is_url(endpoint):
        where = (*path, "endpoint") if "endpoint" in table else None
        message = "endpoint must be an http:// or https:// URL with a host"
        if where is None:
            problems.add_at("OTEL_EXPORTER_OTLP_ENDPOINT", message)
        else:
            problems.add(where, message)
    return settings


def _is_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a bad port
        return False


def _from_env(env: Mapping[str, str], problems: Problems) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        out["enabled"] = False
    if endpoint := env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip():
        out["endpoint"] = endpoint
    if protocol := env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "").strip():
        if protocol in _PROTOCOLS:
            out["protocol"] = protocol
        else:
            problems.add_at("OTEL_EXPORTER_OTLP_PROTOCOL", f"use one of {', '.join(_PROTOCOLS)}")
    if headers := env.get("OTEL_EXPORTER_OTLP_HEADERS", "").strip():
        pairs = _pairs("OTEL_EXPORTER_OTLP_HEADERS", headers, problems, quiet=True)
        out["headers"] = {k: Secret(v) for k, v in pairs.items()}
    for name, key in (("OTEL_EXPORTER_OTLP_TIMEOUT", "timeout"),
                      ("OTEL_METRIC_EXPORT_INTERVAL", "interval")):  # fmt: skip
        if value := env.get(name, "").strip():
            try:
                millis = float(value)
            except ValueError:
                millis = 0.0
            if millis > 0:
                out[key] = millis / 1000
            else:
                problems.add_at(name, "a positive number of milliseconds")
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        out["traces"] = False
    if service := env.get("OTEL_SERVICE_NAME", "").strip():
        out["service_name"] = service
    if attrs := env.get("OTEL_RESOURCE_ATTRIBUTES", "").strip():
        out["resource_attributes"] = _pairs("OTEL_RESOURCE_ATTRIBUTES", attrs, problems)
    return out


def _pairs(name: str, text: str, problems: Problems, *, quiet: bool = False) -> dict[str, str]:
    """``k=v,k2=v2`` (values URL-decoded); ``quiet``: a bad item is named by position only."""
    out: dict[str, str] = {}
    for index, item in enumerate(text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            where = f"item {index + 1}" if quiet else repr(item.strip())
            problems.add_at(name, f"{where} is not key=value")
            continue
        out[key.strip()] = unquote(value.strip())
    return out
