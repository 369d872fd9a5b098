"""The discovery cache: one entry shape in memory and in Redis, status and clear.

Start here: ``open_cache(config)`` gives a ``Cache`` (``get``, ``put_many``,
``status``, ``clear``); ``entry_from_outcome`` and ``gateway_config_entry``
build what goes into it.
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
from .factory import open_cache, redis_backend
from .health import Backoff, Health
from .keys import KeySpace
from .memory import MemoryBackend
from .redis_backend import RedisBackend
from .stats import CacheStats, OperationStats, StatsListener, StatsSnapshot
from .tiered import Cache

__all__ = [
    "Backoff",
    "Cache",
    "CacheStats",
    "ClearCounts",
    "ClearScope",
    "EnkryptCompat",
    "EntrySummary",
    "Health",
    "Inspection",
    "KeySpace",
    "MemoryBackend",
    "OperationStats",
    "RedisBackend",
    "StatsListener",
    "StatsSnapshot",
    "Totals",
    "catalog_hash",
    "compat_enabled",
    "content_hash",
    "effective_ttl",
    "entry_from_outcome",
    "entry_with_failure",
    "gateway_config_entry",
    "open_cache",
    "redis_backend",
]
