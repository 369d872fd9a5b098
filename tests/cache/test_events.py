"""Events between daemons: the wire form, the scope a clear covers, and the waiters' hub."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcp_discoveryd.cache import CacheEvent, ClearScope, Hub, KeySpace
from mcp_discoveryd.models import CacheType

KEYS = KeySpace("mcpd", secret="k")
GATEWAYS = st.sampled_from(["gw-1", "gw-2", "user-42_project"])
SERVERS = st.sampled_from(["a", "b", "github"])
TYPES = st.frozensets(st.sampled_from(list(CacheType)), min_size=1)
SCOPES = st.builds(ClearScope, st.none() | GATEWAYS, st.none() | SERVERS, TYPES)
IDENTITIES = st.tuples(st.sampled_from(list(CacheType)), GATEWAYS, SERVERS).map(
    lambda t: (t[0], t[1], t[2] if t[0] is CacheType.TOOLS else None)
)


@given(SCOPES, IDENTITIES)
def test_a_cleared_event_covers_exactly_what_its_scope_covers(
    scope: ClearScope, ident: tuple[CacheType, str, str | None]
) -> None:
    """Hashed on the wire, the scope still selects the same entries as the clear itself."""
    event = CacheEvent.decode(CacheEvent.cleared("me", 1.0, scope, KEYS).encode())
    assert event is not None
    assert event.covers(KEYS.entry_ref(*ident)) == scope.covers(*ident)


@given(IDENTITIES, IDENTITIES, st.floats(0, 2e9, allow_nan=False))
def test_an_updated_event_covers_its_entry_only(
    ident: tuple[CacheType, str, str | None],
    other: tuple[CacheType, str, str | None],
    fetched_at: float,
) -> None:
    """ "updated" round-trips with its fetched_at and names one entry."""
    event = CacheEvent.decode(
        CacheEvent.updated("me", 2.0, KEYS.entry_ref(*ident), fetched_at).encode()
    )
    assert event is not None and event.fetched_at == fetched_at and event.instance == "me"
    assert event.covers(KEYS.entry_ref(*other)) == (other == ident)


def test_events_name_no_identifier() -> None:
    """Neither gateway ids nor server names travel on the channel."""
    scope = ClearScope("user-42_project", "github", frozenset(CacheType))
    ref = KEYS.entry_ref(CacheType.TOOLS, "user-42_project", "github")
    for event in (
        CacheEvent.cleared("me", 1.0, scope, KEYS),
        CacheEvent.updated("me", 1.0, ref, 3.0),
    ):
        wire = event.encode()
        assert b"user-42" not in wire and b"github" not in wire


@given(st.binary(max_size=64))
def test_anything_else_on_the_channel_is_ignored(data: bytes) -> None:
    """Garbage decodes to None, never an exception."""
    decoded = CacheEvent.decode(data)
    assert decoded is None or decoded.kind in ("updated", "cleared")


def test_the_hub_wakes_only_waiters_the_event_covers() -> None:
    """A clear of server a wakes a's waiter, not b's."""
    hub = Hub()
    a = KEYS.entry_ref(CacheType.TOOLS, "gw-1", "a")
    b = KEYS.entry_ref(CacheType.TOOLS, "gw-1", "b")
    with hub.watch(a) as wa, hub.watch(b) as wb:
        scope = ClearScope("gw-1", "a", frozenset({CacheType.TOOLS}))
        assert hub.notify(CacheEvent.cleared("x", 1.0, scope, KEYS)) == 1
        assert wa.event.is_set() and not wb.event.is_set()
    assert hub.notify(CacheEvent.updated("x", 1.0, b, 1.0)) == 0  # nobody watches any more
