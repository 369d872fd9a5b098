"""Which servers are watched: the watch setting, the transport and max_watched, every combination."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcp_discoveryd.actors.watcher import WatchPool
from mcp_discoveryd.config.settings import DaemonConfig, DaemonSettings, GatewayConfig
from mcp_discoveryd.models import RemoteTarget, ServerSpec, StdioTarget, Transport
from mcp_discoveryd.secret import SecretUrl

TARGETS = st.sampled_from(
    [
        StdioTarget("server"),
        RemoteTarget(SecretUrl("http://127.0.0.1:1/mcp")),
        RemoteTarget(SecretUrl("http://127.0.0.1:1/sse"), Transport.SSE),
    ]
)


@given(
    watch=st.sampled_from(["auto", "on", "off"]),
    target=TARGETS,
    max_watched=st.integers(0, 3),
)
def test_auto_watches_remote_servers_on_watches_any_off_none_and_zero_slots_none(
    watch: str, target: StdioTarget | RemoteTarget, max_watched: int
) -> None:
    spec = ServerSpec("s", target, watch=watch)  # type: ignore[arg-type]
    settings = DaemonSettings(max_watched=max_watched)
    pool = WatchPool(
        DaemonConfig("c.toml", "toml", (GatewayConfig("g", (spec,)),), daemon=settings)
    )
    remote = isinstance(target, RemoteTarget)
    expected = max_watched > 0 and (watch == "on" or (watch == "auto" and remote))
    assert pool.wanted(spec) is expected
