"""The README's metric table is the one instruments.py generates (regenerate, do not edit)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mcp_discoveryd.telemetry import catalogue, instruments

README = Path(__file__).resolve().parents[2] / "README.md"
FIX = "python -m mcp_discoveryd.telemetry.catalogue README.md"


def test_the_readme_table_matches_the_instrument_module() -> None:
    text = README.read_text()
    assert catalogue.rewrite(text) == text, f"the README's metric table is stale: run `{FIX}`"


def test_a_changed_instrument_makes_the_table_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above would see a unit changed in the module."""
    text = README.read_text()
    changed = dataclasses.replace(instruments.INSTRUMENTS[0], unit="ms")
    monkeypatch.setattr(catalogue, "INSTRUMENTS", (changed, *instruments.INSTRUMENTS[1:]))
    assert catalogue.rewrite(text) != text


@pytest.mark.parametrize(
    ("name", "prometheus"),
    [
        ("mcpd.discovery.runs", "mcpd_discovery_runs_total"),
        ("mcp.client.operation.duration", "mcp_client_operation_duration_seconds"),
        ("mcpd.cache.size", "mcpd_cache_size_bytes"),
        ("mcpd.upstream.up", "mcpd_upstream_up"),
    ],
)
def test_prometheus_names_follow_the_collectors_translation(name: str, prometheus: str) -> None:
    spec = next(s for s in instruments.INSTRUMENTS if s.name == name)
    assert catalogue.prometheus_name(spec) == prometheus
