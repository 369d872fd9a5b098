"""The server actor and its supervisor alone, over a real cache and real stdio servers."""

from __future__ import annotations

import gc
from pathlib import Path

import anyio
import pytest
from tests.actors.support import alive, last_pid, spawns, until, write_config

from mcp_discoveryd import catalog as catalog_module
from mcp_discoveryd.actors.deps import ActorDeps
from mcp_discoveryd.actors.messages import ActorState, Message, Reply, Request
from mcp_discoveryd.actors.server import ServerActor
from mcp_discoveryd.actors.supervisor import ActorSet
from mcp_discoveryd.cache import open_cache
from mcp_discoveryd.config import load_config
from mcp_discoveryd.discovery.selection import select
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import CacheType

pytestmark = pytest.mark.slow


async def test_cancelled_mid_discovery_the_actor_leaves_its_state_whole(tmp_path: Path) -> None:
    path = write_config(tmp_path / "d.toml", {"a": ["--slow-ms", "400"]})
    config = load_config(path)
    (sel,) = select(config)
    async with open_cache(config) as cache, UpstreamClient(config.discovery) as client:
        send, receive = anyio.create_memory_object_stream[Message](8)
        states: list[ActorState] = []
        preloaded = anyio.Event()
        deps = ActorDeps(config, client, cache)
        actor = ServerActor(sel, deps, receive, on_state=states.append, preloaded=preloaded)
        async with anyio.create_task_group() as tg, send, receive:
            await tg.start(actor.run)
            await preloaded.wait()
            before = cache.lookup(CacheType.TOOLS, "g", "a")
            assert before is not None
            reply = Reply()
            await send.send(Request(refresh=True, reply=reply))
            await until(lambda: spawns(path, "a") == 2 and actor.state.phase == "discovering")
            tg.cancel_scope.cancel()
        outcome = await reply.wait()  # answered, not left hanging
        assert outcome.error is not None and "interrupted" in outcome.error.message
        assert cache.lookup(CacheType.TOOLS, "g", "a") is before  # untouched by the cancel
        assert actor.state.phase == "stopped" and actor.state.runs == 1
        assert not alive(last_pid(path, "a"))  # the child of the cancelled discovery is gone


async def test_an_actor_stopped_mid_discovery_answers_every_queued_request_and_leaves_no_child(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path / "d.toml", {"a": ["--slow-ms", "400"]})
    config = load_config(path)
    (sel,) = select(config)
    async with open_cache(config) as cache, UpstreamClient(config.discovery) as client:
        async with anyio.create_task_group() as tg:
            actors = ActorSet(tg)
            handle = await actors.start(sel, ActorDeps(config, client, cache))
            await until(lambda: spawns(path, "a") == 1)
            queued = Reply()
            await handle.send.send(Request(refresh=True, reply=queued))
            with anyio.fail_after(5):
                await actors.stop(("g", "a"), grace=0.0)
            with anyio.fail_after(1):
                answer = await queued.wait()
            assert answer.error is not None and "stopped" in answer.error.message
            assert handle.done.is_set() and ("g", "a") not in actors.handles
            assert handle.state.phase == "stopped"
            assert (
                cache.lookup(CacheType.TOOLS, "g", "a") is None
            )  # a cancelled preload stores nothing
        assert not alive(last_pid(path, "a"))


MARK = "x" * 37  # raw_server's description pad (--description-bytes): this test's tools


def _listed_tools() -> int:
    """Decoded tool objects of this test's server alive now (their description marks them)."""
    gc.collect()
    return sum(
        1
        for o in gc.get_objects()
        if isinstance(o, dict) and str(o.get("description", "")).endswith(". " + MARK)
    )


async def test_an_idle_actor_keeps_no_decoded_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a discovery found lives on encoded in the cache entry only: an idle actor keeps no
    outcome (one listing held decoded per idle actor was most of a loaded daemon's memory)."""
    monkeypatch.setattr(catalog_module, "_memo", catalog_module._Memo(0))  # count what is held
    path = write_config(tmp_path / "d.toml", {"a": ["--tools", "5", "--description-bytes", "37"]})
    config = load_config(path)
    (sel,) = select(config)
    async with open_cache(config) as cache, UpstreamClient(config.discovery) as client:
        send, receive = anyio.create_memory_object_stream[Message](8)
        preloaded = anyio.Event()
        actor = ServerActor(
            sel, ActorDeps(config, client, cache), receive, on_state=_ignore, preloaded=preloaded
        )
        async with anyio.create_task_group() as tg, send, receive:
            await tg.start(actor.run)
            await until(lambda: preloaded.is_set() and actor.state.phase == "idle")
            assert _listed_tools() == 0
            reply = Reply()
            await send.send(Request(refresh=True, reply=reply))
            assert len((await reply.wait()).catalog.tools) == 5
            del reply  # the requester's copy goes with it
            await until(lambda: actor.state.phase == "idle" and actor.state.runs == 2)
            assert _listed_tools() == 0
            entry = cache.lookup(CacheType.TOOLS, "g", "a")
            assert entry is not None and entry.catalog.tool_count == 5
            tg.cancel_scope.cancel()


def _ignore(state: ActorState) -> None:
    pass
