"""The discovery cache: one entry shape in memory and in Redis, status and clear.

Start here: ``open_cache(config)`` gives a ``Cache``: ``catalog`` (a server's
entry, under its current definition), ``record`` (a run's outcomes, under the
cache's own TTLs and grace), ``status`` and ``clear``. Daemons sharing a Redis
coordinate through ``coordinator_for(cache)`` (leases, lease.py) and the
invalidation listener (listener.py, started by ``open_cache``).
"""

from .base import ClearCounts, ClearScope, EntrySummary, Inspection, Totals
from .compat_enkrypt import EnkryptCompat, compat_enabled
from .entries import (
    catalog_hash,
    content_hash,
    effective_ttl,
    entry_from_outcome,
    entry_with_failure,
    gateway_config_entry,
)
from .events import CacheEvent, Hub
from .factory import open_cache, redis_backend
from .fingerprint import definition_fingerprint
from .health import Backoff, Health
from .keys import KeySpace
from .lease import (
    Coordinator,
    Lease,
    LocalCoordinator,
    LocalLease,
    RedisCoordinator,
    RedisLease,
    coordinator_for,
)
from .listener import resync_view, run_listener
from .memory import MemoryBackend
from .recovery import run_recovery
from .redis_backend import RedisBackend
from .stats import CacheStats, OperationStats, StatsListener, StatsSnapshot
from .tiered import Cache

__all__ = [
    "Backoff",
    "Cache",
    "CacheEvent",
    "CacheStats",
    "ClearCounts",
    "ClearScope",
    "Coordinator",
    "EnkryptCompat",
    "EntrySummary",
    "Health",
    "Hub",
    "Inspection",
    "KeySpace",
    "Lease",
    "LocalCoordinator",
    "LocalLease",
    "MemoryBackend",
    "OperationStats",
    "RedisBackend",
    "RedisCoordinator",
    "RedisLease",
    "StatsListener",
    "StatsSnapshot",
    "Totals",
    "catalog_hash",
    "compat_enabled",
    "content_hash",
    "coordinator_for",
    "definition_fingerprint",
    "effective_ttl",
    "entry_from_outcome",
    "entry_with_failure",
    "gateway_config_entry",
    "open_cache",
    "redis_backend",
    "resync_view",
    "run_listener",
    "run_recovery",
]
