"""An Enkrypt config with its external cache on: Redis selected, and that gateway's layout kept."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from tests.cache.builders import entry
from tests.cache.redis_servers import RedisFactory

from mcp_discoveryd.cache import open_cache
from mcp_discoveryd.config import load_config
from mcp_discoveryd.config.settings import DaemonConfig
from mcp_discoveryd.models import CacheType

pytestmark = pytest.mark.redis

EXAMPLE = Path(__file__).resolve().parents[2] / "daemon" / "examples" / "enkrypt_mcp_config.json"
PASSWORD = "enkrypt-redis-pw"


def enkrypt_config(tmp_path: Path, port: int, external: bool = True) -> DaemonConfig:
    """The bundled Enkrypt example, its external cache pointed at the test Redis."""
    raw = json.loads(EXAMPLE.read_text())
    common = raw["common_mcp_gateway_config"]
    common.update(
        enkrypt_mcp_use_external_cache=external,
        enkrypt_cache_host="127.0.0.1",
        enkrypt_cache_port=port,
        enkrypt_cache_db=2,
        enkrypt_cache_password=PASSWORD,
    )
    path = tmp_path / "enkrypt_mcp_config.json"
    path.write_text(json.dumps(raw))
    return load_config(path)


async def test_external_cache_settings_select_redis_and_the_compat_writer(
    tmp_path: Path, redis_factory: RedisFactory
) -> None:
    """Host, port, db and password come from the Enkrypt file; that gateway finds its tools."""
    server = redis_factory(password=PASSWORD)
    cfg = enkrypt_config(tmp_path, server.port)
    entries = [entry(g.id, s.name) for g in cfg.gateways for s in g.servers]
    async with open_cache(cfg) as cache:
        assert cache.backend == "redis" and cache.health.ok
        await cache.put_many(entries)
        status = await cache.status(cfg.gateways[0])
    glob = status["cache_status"]["global"]
    assert glob["cache_type"] == "external_cache" and glob["enkrypt_compat"] is True
    with server.client(db=2) as conn:
        names = [k.decode() for k in conn.scan_iter()]
        for gw in cfg.gateways:
            assert len(gw.cache_ids) >= 1
            for cache_id in gw.cache_ids:
                for spec in gw.servers:
                    raw = conn.get(
                        hashlib.md5(f"{cache_id}-{spec.name}-tools".encode()).hexdigest()
                    )
                    assert raw is not None and "tools" in json.loads(raw)
    for name in names:  # no API key, cache id or gateway id in any key name
        api_keys = json.loads(EXAMPLE.read_text())["apikeys"]
        for secret in [*api_keys, *(c for g in cfg.gateways for c in g.cache_ids)]:
            assert secret not in name
        for gw in cfg.gateways:
            assert gw.id not in name


async def test_without_external_cache_memory_is_used(tmp_path: Path) -> None:
    """External cache off: the memory backend, and no compat writer."""
    cfg = enkrypt_config(tmp_path, 1, external=False)
    async with open_cache(cfg) as cache:
        assert cache.backend == "memory"
        await cache.put_many([entry(cfg.gateways[0].id, "notes")])
        assert await cache.get(CacheType.TOOLS, cfg.gateways[0].id, "notes") is not None
