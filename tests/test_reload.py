"""Reload over generated configs: exactly the changed servers' actors are touched.

Upstreams are replaced at the ``Fetcher`` seam by an instant in-process fake (a
real spawn per example would make a hundred examples take minutes); the real
stdio path is covered by tests/test_app.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.actors.support import write_config

from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config import load_config
from mcp_discoveryd.models import CacheType, Catalog, ServerSpec, UpstreamResult

NAMES = ["a", "b", "c", "d", "e"]
# A server's definition: absent, or one of three argument variants.
configs = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(["1", "2", "3"]), max_size=5)


class InstantFetcher:
    """Answers every server at once with one tool; counts fetches per server name."""

    def __init__(self) -> None:
        self.fetches: dict[str, int] = {}

    async def fetch(self, spec: ServerSpec) -> UpstreamResult:
        self.fetches[spec.name] = self.fetches.get(spec.name, 0) + 1
        return UpstreamResult(catalog=Catalog(tools=({"name": "t", "inputSchema": {}},)))


def _write(path: Path, servers: dict[str, str]) -> None:
    write_config(path, {name: ["--tools", variant] for name, variant in servers.items()})


@settings(max_examples=40, deadline=None)
@given(before=configs, after=configs)
def test_reload_touches_exactly_the_servers_whose_definition_changed(
    before: dict[str, str], after: dict[str, str]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "d.toml"
        _write(path, before)

        async def main() -> None:
            fetcher = InstantFetcher()
            async with Daemon(load_config(path), fetcher=fetcher) as daemon:
                old = dict(daemon.actors.handles)
                _write(path, after)
                reply = await daemon.reload()
                new = daemon.actors.handles
                assert sorted(k for _, k in new) == sorted(after)
                for name, variant in after.items():
                    handle = new[("g", name)]
                    if before.get(name) == variant:
                        assert handle is old[("g", name)], name  # untouched
                        assert fetcher.fetches[name] == 1
                    else:
                        assert all(handle is not h for h in old.values()), name
                        await handle.preloaded.wait()
                        assert daemon.cache.lookup(CacheType.TOOLS, "g", name) is not None
                for name in set(before) - set(after):
                    assert daemon.cache.lookup(CacheType.TOOLS, "g", name) is None  # cleared
                changed = sorted(f"g/{n}" for n in after if n in before and before[n] != after[n])
                assert reply["changed"] == changed
                assert reply["added"] == sorted(f"g/{n}" for n in set(after) - set(before))
                assert reply["removed"] == sorted(f"g/{n}" for n in set(before) - set(after))

        anyio.run(main)
