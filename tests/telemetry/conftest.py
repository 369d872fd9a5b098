"""The real Redis fixture of the cache tests, for the export over a Redis cache."""

from tests.cache.conftest import redis_server

__all__ = ["redis_server"]
