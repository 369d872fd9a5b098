"""otel/: every dashboard query answered by a real Prometheus over what a daemon exported;
the collector config, Grafana provisioning and the compose file hold together."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import require_binary
from tests.telemetry.daemon_run import run_daemon
from tests.telemetry.prometheus import metric_names, prometheus_over
from tests.telemetry.receiver import HttpReceiver

from mcp_discoveryd.telemetry.catalogue import prometheus_name
from mcp_discoveryd.telemetry.instruments import INSTRUMENTS

OTEL = Path(__file__).resolve().parents[2] / "otel"
DASHBOARD = OTEL / "grafana" / "dashboards" / "mcp-discoveryd.json"
CATALOGUED = {prometheus_name(spec) for spec in INSTRUMENTS}


def queries() -> list[tuple[str, str]]:
    """(panel title, expr) of every target of the dashboard."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


def test_the_metric_name_check_sees_a_metric_that_is_not_exported() -> None:
    """The check below would catch a query on a name nobody exports (or a wrong suffix)."""
    names = metric_names('sum by (mcpd_server) (rate(mcpd_discovery_runs_count_total{a="b"}[5m]))')
    assert names == {"mcpd_discovery_runs_count_total"} and not names <= CATALOGUED
    assert metric_names("rate(mcpd_discovery_duration_seconds_bucket[5m])") <= CATALOGUED


@pytest.mark.slow
@pytest.mark.prometheus
async def test_every_dashboard_query_returns_data_from_a_real_prometheus(tmp_path: Path) -> None:
    binary = require_binary("prometheus", "prometheus (Debian package)")
    promtool = require_binary("promtool", "promtool (Debian prometheus package)")
    with HttpReceiver().running() as rx:
        await run_daemon(tmp_path, rx.url)
    points = rx.received.points()
    exported = {
        prometheus_name(spec) for spec in INSTRUMENTS if spec.name in {p.name for p in points}
    }
    with prometheus_over(points, tmp_path / "prom", binary, promtool) as prom:
        # the naming matches: every exported metric is there under its Prometheus name
        for name in exported:
            suffix = "_count" if name.endswith("_seconds") else ""
            assert prom.query(f"{name}{suffix}"), name
        empty: list[str] = []
        for title, expr in queries():
            missing = metric_names(expr) - exported
            assert not missing, (
                f"panel {title!r} queries metrics the daemon does not export: {missing}"
            )
            if not prom.query(expr):
                empty.append(title)
        assert not empty, f"panels without data: {empty}"


def test_the_collector_config_wires_otlp_in_and_prometheus_and_debug_out() -> None:
    config: dict[str, Any] = yaml.safe_load((OTEL / "collector.yaml").read_text())
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    pipelines = config["service"]["pipelines"]
    assert pipelines["metrics"]["exporters"] == ["prometheus", "debug"]
    for pipeline in pipelines.values():
        assert set(pipeline["receivers"]) <= set(config["receivers"])
        assert set(pipeline["processors"]) <= set(config["processors"])
        assert set(pipeline["exporters"]) <= set(config["exporters"])
    # the dashboard's names carry the unit and _total suffixes
    assert config["exporters"]["prometheus"].get("add_metric_suffixes", True) is True


def test_grafana_provisioning_serves_the_dashboard_from_the_prometheus_datasource() -> None:
    datasources = yaml.safe_load(
        (OTEL / "grafana/provisioning/datasources/prometheus.yaml").read_text()
    )["datasources"]
    uids = {d["uid"] for d in datasources}
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] in uids, panel["title"]
    provider = yaml.safe_load(
        (OTEL / "grafana/provisioning/dashboards/mcp-discoveryd.yaml").read_text()
    )["providers"][0]
    compose = yaml.safe_load((OTEL / "compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert any(m.startswith("./grafana/dashboards:" + provider["options"]["path"]) for m in mounts)


def test_the_compose_file_runs_collector_prometheus_grafana_redis_and_the_daemon() -> None:
    path = OTEL / "compose.yaml"
    compose = yaml.safe_load(path.read_text())
    assert set(compose["services"]) == {"collector", "prometheus", "grafana", "redis", "daemon"}
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (OTEL / source).exists(), volume  # every mounted file is in the tree
    daemon_config = (OTEL / "daemon.toml").read_text()
    assert 'endpoint = "http://collector:4318"' in daemon_config
    docker = shutil.which("docker")
    version = [docker, "compose", "version"] if docker else None
    if version and subprocess.run(version, check=False, capture_output=True).returncode == 0:
        subprocess.run([*version[:2], "-f", str(path), "config", "-q"], check=True, timeout=60)


def test_the_example_daemon_config_loads() -> None:
    from mcp_discoveryd.config import load_config

    config = load_config(OTEL / "daemon.toml", {})
    assert config.telemetry.active and config.cache.backend == "redis"
