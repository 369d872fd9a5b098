"""The real Redis fixture of the cache tests, for the daemon's warm start."""

from tests.cache.conftest import redis_server

__all__ = ["redis_server"]
