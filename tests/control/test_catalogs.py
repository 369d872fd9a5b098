"""Catalog bodies: made once per entry change, and kept only for the servers read last."""

from __future__ import annotations

from typing import cast

from tests.cache.builders import entry

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.control.catalogs import MAX_BODIES, CatalogBodies
from mcp_discoveryd.models import CacheEntry


class Entries:
    """The API's catalog lookup over fixed entries (what ``DaemonApi.catalog`` hands back)."""

    def __init__(self, count: int) -> None:
        self.entries = {("g", f"s{i}"): entry("g", f"s{i}") for i in range(count)}

    def catalog(self, gateway_id: str, server_name: str) -> CacheEntry | None:
        return self.entries.get((gateway_id, server_name))


def test_a_body_is_made_once_per_entry_and_only_the_last_read_are_kept() -> None:
    api = Entries(MAX_BODIES + 10)
    bodies = CatalogBodies(cast(DaemonApi, api))
    first = bodies.get("g", "s0")
    assert first is not None and bodies.get("g", "s0") is first  # kept: the same object
    for i in range(1, MAX_BODIES + 10):
        assert bodies.get("g", f"s{i}") is not None
    assert len(bodies._bodies) == MAX_BODIES  # bounded however many servers are read
    again = bodies.get("g", "s0")  # dropped, made again: equal bytes and ETag
    assert again is not None and again is not first
    assert (again.body, again.etag) == (first.body, first.etag)
    assert bodies.get("g", "missing") is None
