"""Every benchmark in one run: `.venv/bin/python -m tests.bench` prints one JSON object."""

from __future__ import annotations

import json

from tests.bench import bench_admission, bench_cache, bench_discovery

print(
    json.dumps(
        {
            "discovery": bench_discovery.collect(),
            "admission": bench_admission.collect(),
            "cache": bench_cache.collect(),
        },
        indent=2,
    )
)
