from tests.cache.conftest import redis_server, redis_tls_files

__all__ = ["redis_server", "redis_tls_files"]
