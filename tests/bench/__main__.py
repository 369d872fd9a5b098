"""Every benchmark in one run: `.venv/bin/python -m tests.bench` prints one JSON object.

The daemon soak (bench_daemon) and the fleet simulation (bench_fleet) run for minutes
and are left out; each is one command of its own (see its docstring).
"""

from __future__ import annotations

import json

from tests.bench import (
    bench_admission,
    bench_cache,
    bench_control,
    bench_discovery,
    bench_footprint,
    bench_startup,
    bench_telemetry,
)

print(
    json.dumps(
        {
            "discovery": bench_discovery.collect(),
            "admission": bench_admission.collect(),
            "cache": bench_cache.collect(),
            "daemon_startup": bench_startup.collect(),
            "daemon_footprint": bench_footprint.collect(),
            "control_socket": bench_control.collect(),
            "telemetry_cost": bench_telemetry.collect(),
        },
        indent=2,
    )
)
